"""OSNet as a timm model: the four widths, its feature levels, torchreid-layout weights through timm's loader."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import timm
import torch

import iaunet_hf  # noqa: F401  (registers the OSNet models with timm)
from iaunet_hf.model.backbones import OSNET_WIDTHS, OSNet

HEIGHT, WIDTH = 64, 32


def randomise_norms(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Non-trivial BN statistics and affines, so a norm that is not loaded or not used changes the output."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.normal_(0.0, 0.2, generator=generator)
                module.running_var.uniform_(0.5, 2.0, generator=generator)
                module.weight.normal_(1.0, 0.2, generator=generator)
                module.bias.normal_(0.0, 0.2, generator=generator)
    return model


@pytest.mark.parametrize("name", list(OSNET_WIDTHS))
def test_osnet_widths_shapes_and_feature_levels(name: str):
    model = timm.create_model(name).eval()
    stem_chs, *stage_chs = OSNET_WIDTHS[name]
    x = torch.randn(2, 3, HEIGHT, WIDTH)
    with torch.no_grad():
        feature_map = model.forward_features(x)
        embedding = model.forward_head(feature_map, pre_logits=True)
        logits = model.forward_head(feature_map)
    assert feature_map.shape == (2, stage_chs[-1], HEIGHT // 16, WIDTH // 16)
    assert embedding.shape == (2, 512) and logits.shape == (2, 1000)
    assert (model.num_features, model.head_hidden_size) == (stage_chs[-1], 512)
    assert [info["reduction"] for info in model.feature_info] == [2, 4, 8, 16, 16]
    assert [info["num_chs"] for info in model.feature_info] == [stem_chs, *stage_chs, stage_chs[-1]]
    for info in model.feature_info:  # every tap names a real module (dotted inside conv2-conv4)
        model.get_submodule(info["module"])
    # timm's feature extractor finds the taps, and the maps have the reported channels and reductions
    extractor = timm.create_model(name, features_only=True).eval()
    with torch.no_grad():
        maps = extractor(x)
    assert [m.shape[1] for m in maps] == extractor.feature_info.channels()
    assert [HEIGHT // m.shape[2] for m in maps] == extractor.feature_info.reduction() == [2, 4, 8, 16, 16]


HEAD_MODULES = ("global_pool", "head", "fc", "classifier", "head_drop", "flatten")


def test_osnet_splits_into_stem_and_four_stages_by_its_feature_taps():
    """Top-level children in order, Sequentials holding a tap expanded, up to the first head module: run unit by
    unit they are forward_features, and the last four taps fall at reductions 4, 8, 16, 16."""
    model = randomise_norms(timm.create_model("osnet_x0_25")).eval()
    taps = [info["module"] for info in model.feature_info]
    units = []
    for name, child in model.named_children():
        if name in HEAD_MODULES:
            break
        if isinstance(child, torch.nn.Sequential) and any(tap.startswith(f"{name}.") for tap in taps):
            units += [(f"{name}.{index}", grandchild) for index, grandchild in child.named_children()]
        else:
            units.append((name, child))
    x = torch.randn(2, 3, HEIGHT, WIDTH)
    reductions = {}
    with torch.no_grad():
        y = x
        for name, unit in units:
            y = unit(y)
            if name in taps:
                reductions[name] = HEIGHT // y.shape[2]
        assert torch.equal(y, model.forward_features(x))
    assert list(reductions) == taps and list(reductions.values())[-4:] == [4, 8, 16, 16]
    # the transitions that end conv2 and conv3 open the next stage
    assert [name for name, _ in units].index("conv2.2") == [name for name, _ in units].index(taps[1]) + 1


def test_osnet_intermediates_and_pruning_keep_the_taps():
    model = randomise_norms(timm.create_model("osnet_x0_25")).eval()
    x = torch.randn(2, 3, HEIGHT, WIDTH)
    with torch.no_grad():
        final, taps = model.forward_intermediates(x)
        assert torch.equal(final, model.forward_features(x)) and len(taps) == 5
        assert torch.equal(
            model.forward_intermediates(x, [2], stop_early=True, intermediates_only=True)[0], taps[2]
        )
        model.prune_intermediate_layers(
            [2]
        )  # conv3's transition, conv4 and conv5 go; so do fc and the classifier
        assert torch.equal(model.forward_features(x), taps[2])
    assert not any(
        name.startswith(("conv4", "conv5", "fc", "classifier")) for name, _ in model.named_parameters()
    )
    with pytest.raises(ValueError, match="output_stride=32"):
        timm.create_model("osnet_x0_25", output_stride=32)


def test_osnet_x1_0_matches_the_papers_size():
    model = timm.create_model("osnet_x1_0")
    classifier = sum(p.numel() for p in model.get_classifier().parameters())
    total = sum(p.numel() for p in model.parameters())
    assert classifier == 512 * 1000 + 1000
    # the paper's Table 1: 2.2M parameters for OSNet (without the ImageNet classifier)
    assert 2.15e6 < total - classifier < 2.25e6


def test_osnet_head_classifier_and_post_pool_embedding():
    model = randomise_norms(timm.create_model("osnet_x0_25")).eval()
    x = torch.randn(2, 3, HEIGHT, WIDTH)
    with torch.no_grad():
        feature_map = model.forward_features(x)
        embedding = model.forward_head(feature_map, pre_logits=True)
        post_pool = model.get_submodule(OSNet.reid_post_pool)
        assert torch.equal(post_pool(model.global_pool(feature_map)), embedding)
        model.reset_classifier(7)
        assert model(x).shape == (2, 7) and model.get_classifier().out_features == 7
        model.reset_classifier(0)
        assert torch.equal(model(x), embedding)
        model.reset_classifier(0, "")  # pooling (and so fc) off: the map itself
        assert torch.equal(model(x), feature_map)
        model.to(torch.float64).reset_classifier(3, "avg")
        assert model.get_classifier().weight.dtype == torch.float64 and not model.get_classifier().training
    with pytest.raises(ValueError, match="catavgmax"):
        model.reset_classifier(0, global_pool="catavgmax")
    on_meta = timm.create_model("osnet_x0_25", device="meta")
    assert all(p.device.type == "meta" for p in on_meta.parameters())


def test_osnet_gradient_checkpointing_gives_the_same_gradients():
    model = randomise_norms(timm.create_model("osnet_x0_25", num_classes=3)).eval()
    x = torch.randn(2, 3, HEIGHT, WIDTH)
    gradients = []
    for enable in (False, True):
        model.set_grad_checkpointing(enable)
        model.zero_grad()
        model(x).square().sum().backward()
        gradients.append(model.conv2[0].conv1.conv.weight.grad.clone())
    torch.testing.assert_close(gradients[1], gradients[0])


def save_in_torchreid_layout(model: torch.nn.Module, path: Path) -> Path:
    """A state dict as torchreid's DataParallel training saves it: every key under ``module.``."""
    torch.save({f"module.{key}": value for key, value in model.state_dict().items()}, path)
    return path


def test_torchreid_layout_file_loads_through_timm(tmp_path: Path):
    source = randomise_norms(timm.create_model("osnet_x0_25")).eval()
    path = save_in_torchreid_layout(source, tmp_path / "osnet_x0_25_imagenet.pth")
    x = torch.randn(2, 3, HEIGHT, WIDTH)
    overlay = dict(file=str(path))
    loaded = timm.create_model("osnet_x0_25", pretrained=True, pretrained_cfg_overlay=overlay).eval()
    as_embedder = timm.create_model(
        "osnet_x0_25", pretrained=True, num_classes=0, pretrained_cfg_overlay=overlay
    )
    with torch.no_grad():
        assert torch.equal(loaded(x), source(x))
        expected_embedding = source.forward_head(source.forward_features(x), pre_logits=True)
        assert torch.equal(as_embedder.eval()(x), expected_embedding)
    # an in-memory state dict with the wrapper prefix and an identity classifier of another size
    state = {f"module.{key}": value for key, value in source.state_dict().items()}
    state["module.classifier.weight"] = torch.zeros(751, 512)
    state["module.classifier.bias"] = torch.zeros(751)
    reid = timm.create_model(
        "osnet_x0_25", pretrained=True, num_classes=5, pretrained_cfg_overlay=dict(state_dict=state)
    )
    with torch.no_grad():
        assert torch.equal(
            reid.eval().forward_head(reid.forward_features(x), pre_logits=True), expected_embedding
        )


class _RunsCodeWhenUnpickled:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickle_that_runs_code_is_refused(tmp_path: Path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "osnet_x0_25_imagenet.pth"
    torch.save({"conv1.conv.weight": _RunsCodeWhenUnpickled(marker)}, path)
    with pytest.raises(RuntimeError, match="weights_only"):
        timm.create_model("osnet_x0_25", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    assert not marker.exists()


def _torchreid_osnet_module():
    pytest.importorskip("torchreid")
    for module_name in (
        "torchreid.models.osnet",
        "torchreid.reid.models.osnet",
    ):  # upstream / the PyPI repackage
        try:
            return importlib.import_module(module_name)
        except ImportError:
            continue
    pytest.skip("torchreid is installed but has no osnet module")


@pytest.mark.parametrize("name", ["osnet_x1_0", "osnet_x0_25"])
def test_parity_with_torchreid(name: str):
    reference_module = _torchreid_osnet_module()
    reference = randomise_norms(getattr(reference_module, name)(num_classes=10, pretrained=False)).eval()
    model = timm.create_model(name, num_classes=10)
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 128, 64)
    with torch.no_grad():
        expected = reference(x)  # torchreid returns the fc embedding in eval mode
        embedding = model.eval().forward_head(model.forward_features(x), pre_logits=True)
    print(f"{name}: max |ours - torchreid| = {(embedding - expected).abs().max().item():.3g}")
    torch.testing.assert_close(embedding, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "name",
    [
        "osnet_x1_0",
        "osnet_x0_25",
    ],
)
def test_osnet_in_the_generic_iaunet_keeps_fc_and_starts_as_osnet(name: str, tmp_path: Path):
    """The any-timm-CNN path on OSNet: torchreid-layout weights load, the IAU blocks are the identity at init,
    and the global feature is OSNet's own fc(pool(conv5)) embedding."""
    source = randomise_norms(timm.create_model(name, num_classes=0)).eval()
    path = save_in_torchreid_layout(source, tmp_path / f"{name}_imagenet.pth")
    model = timm.create_model(
        "iaunet", backbone=name, pretrained=True, num_classes=0, pretrained_cfg_overlay=dict(file=str(path))
    ).eval()
    x = torch.randn(2, 3, HEIGHT, WIDTH)
    with torch.no_grad():
        output = model.forward_reid(x)
        expected = source.forward_head(source.forward_features(x), pre_logits=True)
    assert model.layout.stage_strides[-1] == 1 and model.layout.stages[-1] == ("conv5",)
    assert torch.equal(output.global_feature, expected)
