"""Small saved IAUnet folders for the Hub tests (a module of its own, so tests can import it by a unique name)."""

from pathlib import Path

import torch

IMAGE_SIZE = (64, 32)


def save_iaunet_folder(folder: Path, seed: int = 0, **config_kwargs) -> Path:
    """A ResNet-18 IAUnet with randomised BN statistics saved the way users save theirs (model + processor)."""
    from iaunet_hf import IAUnetConfig, IAUnetImageProcessor, IAUnetModel

    torch.manual_seed(seed)
    config = IAUnetConfig(depth=18, image_size=list(IMAGE_SIZE), **config_kwargs)
    model = IAUnetModel(config)
    # Non-zero residual BN affine terms (the IAU blocks are no longer the identity) and BN statistics measured
    # on data, as in a trained model, so a wrong load cannot go unnoticed and activations keep a trained scale.
    # The IAU residual BNs start at zero (spec 1c) and stay small next to the identity path.
    frames = (config.num_frames,) if config.num_frames > 1 else ()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                low, high = (0.1, 0.3) if getattr(module, "zero_init_residual", False) else (0.5, 1.5)
                module.weight.uniform_(low, high)
                module.bias.uniform_(-0.1, 0.1)
                module.momentum = None  # cumulative average over the calibration batches
        model.train()
        for _ in range(3):
            model(pixel_values=torch.randn(8, *frames, 3, *IMAGE_SIZE))
    model.eval()
    model.save_pretrained(folder)
    IAUnetImageProcessor(size={"height": IMAGE_SIZE[0], "width": IMAGE_SIZE[1]}).save_pretrained(folder)
    return folder
