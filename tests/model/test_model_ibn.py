"""IBN-Net's IBN-a ResNets: where the instance norms are, what they normalise, and loading plain ResNet weights."""

from __future__ import annotations

import pytest
import timm
import torch
from torch import nn

from iaunet_hf.model.backbones import IBN, build_resnet, fresh_ibn_keys, plain_resnet_to_ibn, resnet_layout

STAGES = ("layer1", "layer2", "layer3", "layer4")


def run_stages(modules: nn.ModuleDict, layout, x: torch.Tensor) -> list[torch.Tensor]:
    for name in layout.stem:
        x = modules[name](x)
    taps = []
    for names in layout.stages:
        for name in names:
            x = modules[name](x)
        taps.append(x)
    return taps


@pytest.mark.parametrize("depth", [18, 50])
def test_ibn_a_puts_instance_norm_on_the_first_half_of_each_first_norm_in_layers_1_to_3(depth: int):
    modules = nn.ModuleDict(build_resnet(depth, base_channels=16, ibn="a"))
    assert isinstance(modules["bn1"], nn.BatchNorm2d)  # the stem keeps BN in IBN-a
    for stage_index, stage in enumerate(STAGES):
        for block in modules[stage]:
            planes = 16 * 2**stage_index
            if stage == "layer4":
                assert isinstance(block.bn1, nn.BatchNorm2d)
                continue
            assert isinstance(block.bn1, IBN)
            assert (block.bn1.IN.num_features, block.bn1.BN.num_features) == (
                planes // 2,
                planes - planes // 2,
            )
            assert block.bn1.IN.affine and not block.bn1.IN.track_running_stats
    instance_norms = [name for name, m in modules.named_modules() if isinstance(m, nn.InstanceNorm2d)]
    blocks_in_layers_1_to_3 = sum(len(modules[stage]) for stage in STAGES[:3])
    assert len(instance_norms) == blocks_in_layers_1_to_3
    assert all(name.endswith(".bn1.IN") for name in instance_norms)


def test_ibn_a_keeps_the_plain_resnets_shapes():
    torch.manual_seed(0)
    plain = nn.ModuleDict(build_resnet(18, base_channels=8)).eval()
    ibn = nn.ModuleDict(build_resnet(18, base_channels=8, ibn="a")).eval()
    layout = resnet_layout(18, base_channels=8)
    x = torch.randn(2, 3, 64, 32)
    with torch.no_grad():
        plain_taps, ibn_taps = run_stages(plain, layout, x), run_stages(ibn, layout, x)
    assert [t.shape for t in ibn_taps] == [t.shape for t in plain_taps]
    assert not torch.allclose(ibn_taps[-1], plain_taps[-1])  # the instance norms do act


def test_ibn_normalises_its_first_half_per_image_and_its_second_half_per_batch():
    norm = IBN(6).train()
    x = torch.randn(2, 6, 8, 4) * 3.0 + 1.0
    changed = x.clone()
    changed[1] = changed[1] * 5.0 + 2.0  # only the second image changes
    out, out_changed = norm(x), norm(changed)
    assert torch.allclose(out[0, :3], out_changed[0, :3])  # instance half of image 0: untouched by image 1
    assert not torch.allclose(
        out[0, 3:], out_changed[0, 3:]
    )  # batch half: statistics shared across the batch
    assert torch.allclose(out[0, :3].mean(dim=(1, 2)), torch.zeros(3), atol=1e-5)


@pytest.mark.parametrize("design", ["b", "A", "ab", ""])
def test_unknown_ibn_design_is_named(design: str):
    with pytest.raises(ValueError, match=repr(design)):
        build_resnet(18, base_channels=8, ibn=design)


def test_plain_resnet50_weights_load_into_ibn_a_except_the_instance_affines():
    plain_model = timm.create_model("resnet50")  # torchvision/timm ResNet-50 names, no weights downloaded
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in plain_model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_(generator=generator)
                module.running_var.uniform_(0.5, 2.0, generator=generator)
                module.weight.normal_(generator=generator)
    plain = {key: value for key, value in plain_model.state_dict().items() if not key.startswith("fc.")}
    converted = plain_resnet_to_ibn(plain)
    ibn = nn.ModuleDict(build_resnet(50, ibn="a"))
    result = ibn.load_state_dict(converted, strict=False)
    assert result.unexpected_keys == []
    assert sorted(result.missing_keys) == sorted(fresh_ibn_keys(ibn.state_dict()))
    assert len(result.missing_keys) == 2 * (3 + 4 + 6)  # IN weight and bias of every block in layers 1-3
    # the BN half takes the second half of the plain first norm; everything else is taken as it is
    first_norm = plain["layer2.3.bn1.running_var"]
    half = first_norm.shape[0] // 2
    assert torch.equal(ibn["layer2"][3].bn1.BN.running_var, first_norm[half:])
    assert torch.equal(ibn["layer4"][0].bn1.running_var, plain["layer4.0.bn1.running_var"])
    assert torch.equal(ibn["layer1"][0].conv1.weight, plain["layer1.0.conv1.weight"])
    # keys already in IBN form (the authors' resnet50_ibn_a checkpoints) pass through unchanged
    assert plain_resnet_to_ibn(ibn.state_dict()).keys() == ibn.state_dict().keys()


def test_ibn_resnet_starts_from_a_plain_imagenet_file_through_timm(tmp_path):
    """``timm.create_model("iaunet_resnet50", ibn="a", pretrained=True)`` with a plain ResNet-50 file: every key but
    the fresh InstanceNorm affines comes from the file, and those start at ones and zeros."""
    import timm
    from safetensors.torch import save_file

    plain = timm.create_model("resnet50", num_classes=1000)
    weights = tmp_path / "resnet50.safetensors"
    save_file(plain.state_dict(), str(weights))
    model = timm.create_model(
        "iaunet_resnet50",
        ibn="a",
        pretrained=True,
        num_classes=0,
        pretrained_cfg_overlay=dict(file=str(weights)),
    )
    state, source = model.state_dict(), plain.state_dict()
    assert torch.equal(state["layer1.0.bn1.BN.weight"], source["layer1.0.bn1.weight"][32:])
    assert torch.equal(state["layer4.0.bn1.weight"], source["layer4.0.bn1.weight"])  # layer 4 is plain
    assert torch.equal(state["layer2.3.bn1.IN.weight"], torch.ones(64))
    assert torch.equal(state["layer3.0.conv2.weight"], source["layer3.0.conv2.weight"])
