"""The timm face: registry, pretrained cfg, heads, features_only and ImageNet initialisation."""

import pytest
import timm
import torch
from safetensors.torch import save_file

import iaunet_hf  # noqa: F401  (registers the models)
from iaunet_hf.model import IAUBlock

H, W = 64, 32


def test_models_are_registered_with_pretrained_tags():
    names = timm.list_models("iaunet_*")
    assert {"iaunet_resnet18", "iaunet_resnet34", "iaunet_resnet50", "iaunet_resnet50_video"} <= set(names)
    assert "iaunet_resnet50.tv_in1k" in timm.list_models("iaunet_*", pretrained=True)


def test_data_config_is_reid_shaped():
    model = timm.create_model("iaunet_resnet18")
    config = timm.data.resolve_model_data_config(model)
    assert config["input_size"] == (3, 256, 128)
    assert config["interpolation"] == "bicubic"
    assert (
        config["mean"] == timm.data.IMAGENET_DEFAULT_MEAN and config["std"] == timm.data.IMAGENET_DEFAULT_STD
    )
    assert config["crop_pct"] == 1.0
    transform = timm.data.create_transform(**config)
    from PIL import Image

    assert transform(Image.new("RGB", (64, 128))).shape == (3, 256, 128)


def test_heads_and_classifier_management():
    model = timm.create_model("iaunet_resnet18", num_classes=0).eval()
    x = torch.randn(2, 3, H, W)
    embedding = model(x)
    assert embedding.shape == (2, 512) and model.num_features == 512
    torch.testing.assert_close(model.forward_head(model.forward_features(x), pre_logits=True), embedding)
    assert isinstance(model.get_classifier(), torch.nn.Identity)
    model.reset_classifier(751)
    assert model.get_classifier().out_features == 751
    assert model(x).shape == (2, 751)
    torch.testing.assert_close(model.forward_head(model.forward_features(x), pre_logits=True), embedding)
    model.reset_classifier(0)
    torch.testing.assert_close(model(x), embedding)


def test_variants_and_ablation_kwargs():
    baseline = timm.create_model("iaunet_resnet18", iau_stages=())
    assert len(baseline.iau) == 0
    ciau = timm.create_model("iaunet_resnet18", iau_modules=("ciau",))
    assert all(hasattr(b, "ciau") and not hasattr(b, "stiau") for b in ciau.iau.values())
    video = timm.create_model("iaunet_resnet50_video")
    assert list(video.iau) == ["layer2"] and video.options.num_frames == 4
    assert sum(isinstance(m, IAUBlock) for m in timm.create_model("iaunet_resnet34").modules()) == 2


def test_features_only_returns_stage_maps():
    features = timm.create_model("iaunet_resnet18", features_only=True, out_indices=(2, 3, 4))
    maps = features(torch.randn(2, 3, H, W))
    assert [m.shape[1] for m in maps] == features.feature_info.channels() == [128, 256, 512]
    assert [m.shape[-2:] for m in maps] == [(8, 4), (4, 2), (4, 2)]  # last stride 1


def test_pretrained_imagenet_resnet_initialises_backbone_only(tmp_path):
    """``pretrained=True`` with a local ResNet file: backbone copied, IAU blocks keep their identity init."""
    resnet = timm.create_model("resnet18", num_classes=1000)
    weights = tmp_path / "resnet18_imagenet.safetensors"
    save_file(resnet.state_dict(), str(weights))
    model = timm.create_model(
        "iaunet_resnet18", pretrained=True, num_classes=10, pretrained_cfg_overlay=dict(file=str(weights))
    )
    source = resnet.state_dict()
    for key, value in model.state_dict().items():
        if key in source:
            torch.testing.assert_close(value, source[key], msg=key)
    assert not any(key.startswith("fc.") for key in model.state_dict())
    for block in model.iau.values():
        assert (
            block.ciau.norm.weight.abs().sum() == 0 and block.stiau.frame_update_norm.weight.abs().sum() == 0
        )
    assert model.get_classifier().out_features == 10


@pytest.mark.slow
def test_full_size_resnet50_embedding():
    model = timm.create_model("iaunet_resnet50", num_classes=0).eval()
    with torch.no_grad():
        embedding = model(torch.randn(1, 3, 256, 128))
    assert embedding.shape == (1, 2048) and torch.isfinite(embedding).all()
