"""IAU in any timm CNN: per family, the reID model on the timm backbone starts as exactly the plain timm model
(IAU blocks are the identity at init), takes clips, loads the backbone's ImageNet weights through timm's own loader
from a local file, and saves one checkpoint that timm and transformers both load."""

import pytest
import timm
import torch
from safetensors.torch import save_file

from iaunet_hf import IAUnetConfig, IAUnetModel

# (timm name, last stride): MobileNetV3 and DenseNet have no output_stride=16, so they keep stride 2
FAMILIES = [
    ("resnet50d", 1),
    ("seresnext50_32x4d", 1),
    ("resnest50d", 1),
    ("regnety_032", 1),
    ("convnext_tiny", 1),
    ("efficientnet_b3", 1),
    ("mobilenetv3_large_100", 2),
    ("densenet121", 2),
]
# the smallest member of each family, for the save-and-load round trips
SMALL_MEMBERS = [
    ("resnet18d", 1),
    ("seresnext26d_32x4d", 1),
    ("resnest14d", 1),
    ("regnety_002", 1),
    ("convnext_atto", 1),
    ("efficientnet_b0", 1),
    ("mobilenetv3_small_050", 2),
    ("densenet121", 2),
]
PIXELS = torch.randn(2, 3, 64, 32, generator=torch.Generator().manual_seed(0))


def plain_timm(name: str, last_stride: int) -> torch.nn.Module:
    torch.manual_seed(1)
    return timm.create_model(
        name, num_classes=0, **({"output_stride": 16} if last_stride == 1 else {})
    ).eval()


@pytest.mark.parametrize(("name", "last_stride"), FAMILIES)
def test_starts_as_the_plain_timm_model_with_imagenet_weights_from_a_local_file(name, last_stride, tmp_path):
    plain = plain_timm(name, last_stride)
    weights = tmp_path / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in plain.state_dict().items()}, weights)
    model = timm.create_model(
        "iaunet", backbone=name, last_stride=last_stride, pretrained=True, num_classes=0,
        pretrained_cfg_overlay=dict(file=str(weights)),
    ).eval()  # fmt: skip
    assert set(model.iau) and model.layout.stage_strides[-1] == last_stride
    with torch.no_grad():
        expected = plain.forward_features(PIXELS).mean(dim=(-2, -1))
        output = model.forward_reid(PIXELS)
        clip = model(
            PIXELS[:, None].expand(-1, 3, -1, -1, -1)
        )  # a still clip: the temporal mean changes nothing
    assert torch.equal(output.global_feature, expected)  # bit for bit: the IAU blocks are the identity
    assert torch.equal(output.embedding, model.bnneck(expected))
    torch.testing.assert_close(clip, output.embedding, rtol=1e-5, atol=1e-5)
    assert output.embedding.shape == (2, plain.num_features) and model.num_features == plain.num_features


@pytest.mark.parametrize(("name", "last_stride"), SMALL_MEMBERS)
def test_one_checkpoint_for_timm_and_transformers(name, last_stride, tmp_path):
    config = IAUnetConfig(backbone=name, use_timm_backbone=True, last_stride=last_stride, image_size=(64, 32))
    model = IAUnetModel(config).eval()
    model.save_pretrained(tmp_path)
    transformers_model = IAUnetModel.from_pretrained(tmp_path).eval()
    timm_model = timm.create_model(f"local-dir:{tmp_path}", pretrained=True, num_classes=0).eval()
    with torch.no_grad():
        expected = model(pixel_values=PIXELS).pooler_output
        torch.testing.assert_close(
            transformers_model(pixel_values=PIXELS).pooler_output, expected, rtol=0, atol=0
        )
        torch.testing.assert_close(timm_model(PIXELS), expected, rtol=0, atol=0)
    assert config.hidden_size == expected.shape[-1] and timm_model.options.backbone == name


def test_baseline_and_options_on_a_timm_backbone():
    baseline = timm.create_model("iaunet", backbone="resnet18", iau_stages=(), num_classes=7)
    assert not baseline.iau and baseline(PIXELS).shape == (2, 7)
    stiau = timm.create_model(
        "iaunet", backbone="resnet18", iau_stages=(3,), iau_modules=("stiau",), num_frames=2
    )
    assert list(stiau.iau) == ["layer3"] and stiau.feature_info[3]["module"] == "iau.layer3"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(backbone="vit_small_patch16_224", last_stride=2), "cannot be split into four CNN stages"),
        (dict(backbone="mobilenetv3_large_100"), "mobilenetv3_large_100.*pass last_stride=2"),
        (dict(backbone="not_a_model_name"), "not a timm model"),
    ],
)
def test_backbones_that_cannot_be_used_get_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        timm.create_model("iaunet", **kwargs)


def test_a_timm_name_without_use_timm_backbone_is_refused():
    with pytest.raises(ValueError, match="use_timm_backbone=True"):
        IAUnetConfig(backbone="convnext_tiny")


def test_gradient_checkpointing_of_a_timm_backbone_gives_the_same_gradients():
    torch.manual_seed(0)
    config = IAUnetConfig(backbone="resnet18", use_timm_backbone=True, image_size=(64, 32), iau_stages=[2])
    model = IAUnetModel(config).train()
    grads = []
    for enable in (False, True):
        if enable:
            model.activation_checkpointing_enable()
            assert (
                model.iaunet.network.grad_checkpointing
                if hasattr(model, "iaunet")
                else model.network.grad_checkpointing
            )
        model.zero_grad()
        torch.manual_seed(1)
        model(pixel_values=PIXELS).pooler_output.square().sum().backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) == len(list(model.parameters()))
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-4, atol=1e-5)


def test_features_only_and_fx_on_a_timm_backbone():
    from timm.models import create_feature_extractor

    features = timm.create_model(
        "iaunet", backbone="convnext_atto", features_only=True, out_indices=(1, 2, 3, 4)
    )
    maps = features(PIXELS)
    assert [m.shape[1] for m in maps] == features.feature_info.channels()
    assert [m.shape[-1] for m in maps] == [8, 4, 2, 2]  # reductions 4, 8, 16, 16 on a 32-wide input
    model = timm.create_model("iaunet", backbone="convnext_atto", num_classes=0).eval()
    traced = create_feature_extractor(model, return_nodes={"iau.stages_2": "stage3"})
    with torch.no_grad():
        assert traced(PIXELS)["stage3"].shape == maps[2].shape


def test_meta_device_build():
    model = timm.create_model("iaunet", backbone="efficientnet_b0", device="meta")
    assert all(p.is_meta for p in model.parameters())


@pytest.mark.parametrize("name", ["resnet18d", "convnext_atto", "efficientnet_b0", "regnety_002"])
def test_onnx_export_of_a_timm_backbone_matches_transformers(name, tmp_path):
    pytest.importorskip("onnxruntime")
    from iaunet_hf.export import export_onnx

    config = IAUnetConfig(backbone=name, use_timm_backbone=True, image_size=(64, 32))
    IAUnetModel(config).eval().save_pretrained(tmp_path / "model")
    result = export_onnx(tmp_path / "model", tmp_path / "model.onnx")  # parity-checked on several batch sizes
    assert result.max_abs_diff is not None and result.max_abs_diff <= 1e-4
