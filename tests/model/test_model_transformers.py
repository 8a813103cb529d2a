"""The transformers face: config, Auto classes, loss, init, pipeline, and one checkpoint for both libraries."""

import json

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from transformers import (
    AutoConfig,
    AutoImageProcessor,
    AutoModel,
    AutoModelForImageClassification,
    pipeline,
)

from iaunet_hf import IAUnetConfig, IAUnetForReID, IAUnetImageProcessor, IAUnetModel
from iaunet_hf.losses import ReIDLoss

H, W = 64, 32
SMALL = dict(depth=18, image_size=(H, W))


def _trained_looking(model: torch.nn.Module) -> torch.nn.Module:
    """Perturb every parameter and BN statistic so a save/load test cannot pass on initial values."""
    torch.manual_seed(3)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
        for name, buffer in model.named_buffers():
            if name.endswith("running_var"):
                buffer.uniform_(0.5, 1.5)
    return model.eval()


@pytest.fixture(scope="module")
def saved_reid_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("iaunet_reid")
    model = _trained_looking(IAUnetForReID(IAUnetConfig(**SMALL, num_labels=6)))
    model.save_pretrained(folder)
    IAUnetImageProcessor(size={"height": H, "width": W}).save_pretrained(folder)
    return folder, model


def test_default_config_is_the_papers_image_model():
    config = IAUnetConfig()
    assert (config.depth, config.iau_stages, config.iau_modules, config.hidden_size) == (
        50,
        [2, 3],
        ["ciau", "stiau"],
        2048,
    )
    assert (config.label_smoothing, config.triplet_margin, config.part_loss_weight) == (0.1, 0.3, 0.5)


@pytest.mark.parametrize(
    "kwargs,field",
    [
        (dict(iau_modules=["ciau", "attention"]), "iau_modules"),
        (dict(depth=200), "depth"),
        (dict(image_size=(250, 128)), "image_size"),
    ],
)
def test_bad_config_raises(kwargs, field):
    with pytest.raises(ValueError, match=field):
        IAUnetConfig(**kwargs)


def test_init_follows_the_spec():
    model = IAUnetModel(IAUnetConfig(**SMALL))
    network = model.network
    for block in network.iau.values():
        assert block.ciau.norm.weight.abs().sum() == 0 and block.ciau.norm.bias.abs().sum() == 0
        assert block.stiau.frame_update_norm.weight.abs().sum() == 0
        assert (block.stiau.part_norm.weight == 1).all()
        linear = block.stiau.part_update.weight  # He normal, fan-out: std sqrt(2 / out)
        assert abs(linear.std().item() - (2 / linear.shape[0]) ** 0.5) < 0.15 * (2 / linear.shape[0]) ** 0.5
    conv = network.layer1[0].conv1.weight
    expected = (2 / (conv.shape[0] * conv.shape[2] * conv.shape[3])) ** 0.5
    assert abs(conv.std().item() - expected) < 0.15 * expected


def test_reid_loss_with_and_without_masks():
    torch.manual_seed(0)
    model = IAUnetForReID(IAUnetConfig(**SMALL, num_labels=4))
    x = torch.randn(8, 3, H, W)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    masks = (torch.rand(8, 4, H, W) > 0.5).float()
    with_masks = model(x, labels=labels, part_masks=masks)
    assert set(with_masks.loss_components) == {"cross_entropy", "triplet", "part"}
    reference = ReIDLoss()(with_masks.logits, with_masks.embeddings, labels, with_masks.part_logits, masks)
    torch.testing.assert_close(with_masks.loss, reference.loss)
    none_valid = model(x, labels=labels, part_masks=masks, mask_valid=torch.zeros(8, dtype=torch.bool))
    torch.testing.assert_close(none_valid.loss_components["part"], torch.tensor(0.0))
    without = model(x, labels=labels)
    assert "part" not in without.loss_components
    without.loss.backward()
    assert model.classifier.weight.grad is not None


def test_auto_classes_resolve(saved_reid_model):
    folder, _ = saved_reid_model
    assert isinstance(AutoConfig.from_pretrained(folder), IAUnetConfig)
    assert isinstance(AutoModel.from_pretrained(folder), IAUnetModel)
    assert isinstance(AutoModelForImageClassification.from_pretrained(folder), IAUnetForReID)
    assert isinstance(AutoImageProcessor.from_pretrained(folder), IAUnetImageProcessor)


def test_one_checkpoint_loads_in_both_libraries(saved_reid_model):
    folder, model = saved_reid_model
    files = {p.name for p in folder.iterdir()}
    assert {"model.safetensors", "config.json", "preprocessor_config.json"} <= files
    assert not any(name.endswith(".bin") for name in files)
    x = torch.randn(3, 3, H, W)
    with torch.no_grad():
        expected = model(x)
        from_auto = AutoModel.from_pretrained(folder).eval()(pixel_values=x).pooler_output
        timm_embed = timm.create_model(f"local-dir:{folder}", pretrained=True, num_classes=0).eval()
        timm_logits = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
        assert torch.equal(from_auto, expected.embeddings)
        assert torch.equal(timm_embed(x), from_auto)
        assert torch.equal(timm_logits(x), expected.logits)
    assert timm.data.resolve_model_data_config(timm_embed)["input_size"] == (3, H, W)


def test_timm_and_transformers_convert_without_loss():
    timm_model = _trained_looking(timm.create_model("iaunet_resnet18", num_classes=5, iau_modules=("stiau",)))
    reid = IAUnetForReID.from_timm(timm_model).eval()
    assert reid.config.iau_modules == ["stiau"] and reid.config.num_labels == 5
    x = torch.randn(2, 3, H, W)
    with torch.no_grad():
        torch.testing.assert_close(reid(x).logits, timm_model(x), rtol=0, atol=0)
        back = reid.to_timm().eval()
        torch.testing.assert_close(back(x), timm_model(x), rtol=0, atol=0)
        embedder = IAUnetModel.from_timm(timm_model).eval()
        torch.testing.assert_close(embedder(x).pooler_output, reid(x).embeddings, rtol=0, atol=0)


def test_config_json_carries_timm_keys_derived_from_fields(saved_reid_model):
    folder, _ = saved_reid_model
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "iaunet"
    assert config["architecture"] == "iaunet_resnet18"
    assert config["num_classes"] == 6 and config["pretrained_cfg"]["num_classes"] == 6
    assert config["model_args"]["iau_stages"] == [2, 3]
    reloaded = IAUnetConfig.from_pretrained(folder)
    reloaded.iau_stages = [2]
    assert reloaded.to_dict()["model_args"]["iau_stages"] == [2]


def test_image_processor_and_feature_extraction_pipeline(saved_reid_model):
    folder, model = saved_reid_model
    processor = IAUnetImageProcessor()
    image = Image.fromarray((np.random.default_rng(0).random((300, 100, 3)) * 255).astype("uint8"))
    pixel_values = processor(image, return_tensors="pt")["pixel_values"]
    assert pixel_values.shape == (1, 3, 256, 128)
    extractor = pipeline("image-feature-extraction", model=str(folder))
    embedding = extractor(image, pool=True, return_tensors=True)
    inputs = AutoImageProcessor.from_pretrained(folder)(image, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        expected = model(inputs).embeddings
    assert torch.equal(embedding, expected)


def test_clip_input_through_transformers():
    model = IAUnetModel(IAUnetConfig(depth=18, iau_stages=[2], num_frames=4)).eval()
    out = model(torch.randn(2, 4, 3, H, W), output_hidden_states=True)
    assert out.pooler_output.shape == (2, 512)
    assert out.last_hidden_state.shape == (2, 4, 512, H // 16, W // 16)
    assert out.part_attentions[0].shape == (2, 4, 4, H // 8, W // 8)
    assert len(out.hidden_states) == 5
