"""transformers' PreTrainedModel contract: loading info, gradient checkpointing, hidden states, return_dict,
problem types of AutoModelForImageClassification, and eval-mode conversions from and to timm."""

import pytest
import timm
import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoModelForImageClassification
from transformers.modeling_layers import GradientCheckpointingLayer

from iaunet_hf import IAUnetConfig, IAUnetForReID, IAUnetModel

H, W = 64, 32
SMALL = dict(depth=18, image_size=(H, W))


def _live(model: torch.nn.Module) -> torch.nn.Module:
    """Non-zero BN affines, so the zero-initialised residual branches take part in the gradients."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.weight.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
                module.bias.copy_(torch.rand(module.bias.shape, generator=generator) * 0.2 - 0.1)
    return model


@pytest.fixture(scope="module")
def saved_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reid")
    IAUnetForReID(IAUnetConfig(**SMALL, num_labels=5)).save_pretrained(folder)
    return folder


def test_output_loading_info_returns_model_and_info(saved_folder):
    model, info = AutoModelForImageClassification.from_pretrained(saved_folder, output_loading_info=True)
    assert isinstance(model, IAUnetForReID) and not model.training
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    base, base_info = AutoModel.from_pretrained(saved_folder, output_loading_info=True)
    assert isinstance(base, IAUnetModel) and not base_info["missing_keys"]


def test_gradient_checkpointing_through_the_transformers_api():
    torch.manual_seed(0)
    model = _live(IAUnetForReID(IAUnetConfig(**SMALL, num_labels=4))).train()
    stages = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]
    assert len(stages) == 4
    x = torch.randn(4, 3, H, W, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([0, 0, 1, 1])
    calls = []
    model.iaunet.network.layer1[0].conv1.register_forward_hook(lambda *_: calls.append(1))

    def gradients():
        model.zero_grad()
        calls.clear()
        model(x, labels=labels).loss.backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}, len(calls)

    plain, plain_calls = gradients()
    with pytest.warns(FutureWarning):  # the 4.x name, deprecated in 5.x but still the documented entry point
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    assert model.is_activation_checkpointing and all(stage.gradient_checkpointing for stage in stages)
    checkpointed, checkpointed_calls = gradients()
    assert (plain_calls, checkpointed_calls) == (1, 2)  # the stage is recomputed in the backward pass
    assert plain.keys() == checkpointed.keys()
    for key in plain:
        torch.testing.assert_close(plain[key], checkpointed[key], rtol=0, atol=1e-6)
    model.activation_checkpointing_disable()
    assert not model.is_activation_checkpointing and gradients()[1] == 1
    model.activation_checkpointing_enable()
    assert gradients()[1] == 2
    from_config = IAUnetModel(IAUnetConfig(**SMALL, gradient_checkpointing=True))
    assert from_config.is_activation_checkpointing


@pytest.mark.parametrize("model_class", [IAUnetModel, IAUnetForReID])
def test_both_heads_honour_output_hidden_states_and_return_dict(model_class):
    model = model_class(IAUnetConfig(**SMALL, num_labels=3)).eval()
    x = torch.randn(2, 3, H, W)
    with torch.no_grad():
        output = model(x, output_hidden_states=True)
        assert [t.shape[1] for t in output.hidden_states] == [64, 64, 128, 256, 512]
        assert model(x).hidden_states is None
        as_tuple = model(x, output_hidden_states=True, return_dict=False)
        assert isinstance(as_tuple, tuple)
        assert any(isinstance(item, tuple) and len(item) == 5 for item in as_tuple)
        model.config.output_hidden_states = True
        assert len(model(x).hidden_states) == 5
        model.config.return_dict = False
        assert isinstance(model(x), tuple)


def test_problem_types_of_auto_model_for_image_classification():
    torch.manual_seed(0)
    x = torch.randn(4, 3, H, W)
    reid = AutoModelForImageClassification.from_config(IAUnetConfig(**SMALL, num_labels=3))
    assert isinstance(reid, IAUnetForReID) and reid.config.problem_type is None
    labels = torch.tensor([0, 0, 1, 1])
    out = reid(x, labels=labels)  # problem_type None: the paper's reID loss
    assert set(out.loss_components) == {"cross_entropy", "triplet"}

    single = IAUnetForReID(IAUnetConfig(**SMALL, num_labels=3, problem_type="single_label_classification"))
    out = single(x, labels=labels)
    torch.testing.assert_close(out.loss, F.cross_entropy(out.logits, labels))
    assert out.loss_components is None

    multi = IAUnetForReID(IAUnetConfig(**SMALL, num_labels=3, problem_type="multi_label_classification"))
    targets = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    out = multi(x, labels=targets)
    torch.testing.assert_close(out.loss, F.binary_cross_entropy_with_logits(out.logits, targets))

    regression = IAUnetForReID(IAUnetConfig(**SMALL, num_labels=1, problem_type="regression"))
    values = torch.tensor([0.5, -1.0, 2.0, 0.0])
    out = regression(x, labels=values)
    torch.testing.assert_close(out.loss, F.mse_loss(out.logits.squeeze(), values))


def test_conversions_from_and_to_timm_are_in_eval_mode():
    network = timm.create_model("iaunet_resnet18", num_classes=3)  # timm builds in train mode
    x = torch.randn(2, 3, H, W)
    for converted in (
        IAUnetModel.from_timm(network),
        IAUnetForReID.from_timm(network),
        IAUnetModel.from_timm(network).to_timm(),
        IAUnetForReID.from_timm(network).to_timm(),
    ):
        assert not any(module.training for module in converted.modules())
        statistics = [b.clone() for n, b in converted.named_buffers() if "running" in n]
        with torch.no_grad():
            converted(x)
        after = [b for n, b in converted.named_buffers() if "running" in n]
        assert all(torch.equal(a, b) for a, b in zip(statistics, after, strict=True))


def test_a_saved_non_default_image_size_loads_its_own_preprocessing(tmp_path):
    """AutoImageProcessor reads the folder's own size, whichever file this transformers version reads it from
    (5.25 reads a folder whose config.json has timm's pretrained_cfg as a timm checkpoint)."""
    from transformers import AutoImageProcessor

    from iaunet_hf import IAUnetImageProcessor
    from iaunet_hf.inference import load_image_processor

    IAUnetModel(IAUnetConfig(**SMALL)).save_pretrained(tmp_path)
    IAUnetImageProcessor(size={"height": H, "width": W}).save_pretrained(tmp_path)
    for backend in ("torchvision", "pil"):
        processor = AutoImageProcessor.from_pretrained(tmp_path, backend=backend)
        assert (processor.size.height, processor.size.width) == (H, W), backend
    processor = load_image_processor(tmp_path)
    pixels = processor(torch.zeros(3, 100, 50, dtype=torch.uint8), return_tensors="pt")["pixel_values"]
    assert pixels.shape == (1, 3, H, W)
