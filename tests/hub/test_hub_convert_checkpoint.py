"""Checkpoint conversion from torchreid / strong-baseline key layouts, loaded with weights_only=True."""

import argparse
import importlib.util
import logging
from pathlib import Path

import pytest
import timm
import torch
import torchvision
from safetensors.torch import load_file, save_file

import iaunet_hf  # noqa: F401 - registers the timm models
from iaunet_hf.hub.convert import convert_checkpoint, read_reid_checkpoint

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "convert_checkpoint.py"


def load_script():
    """scripts/ is not a package: load the script file as a module to call its main()."""
    spec = importlib.util.spec_from_file_location("convert_checkpoint_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reid_resnet50():
    """A torchvision ResNet-50 with non-trivial BN statistics, standing in for a trained reID backbone."""
    torch.manual_seed(0)
    network = torchvision.models.resnet50(weights=None)
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(module.running_mean, -0.1, 0.1)
            torch.nn.init.uniform_(module.running_var, 0.5, 1.5)
            torch.nn.init.uniform_(module.weight, 0.5, 1.5)
    return network.eval()


def torchreid_checkpoint(network, path):
    """torchreid's layout: DataParallel prefix, `classifier` head, extra training state around `state_dict`."""
    state = {f"module.{k}": v for k, v in network.state_dict().items() if not k.startswith("fc.")}
    state["module.classifier.weight"] = torch.randn(751, 2048)
    state["module.classifier.bias"] = torch.zeros(751)
    optimizer = {"state": {}, "param_groups": [{"lr": 3.5e-4, "params": [0, 1]}]}
    torch.save({"state_dict": state, "epoch": 60, "rank1": 0.93, "optimizer": optimizer}, path)
    return path


def strong_baseline_checkpoint(network, path):
    """The strong baseline's layout: `base.` backbone, `bottleneck` BN neck, bias-free classifier."""
    state = {f"base.{k}": v for k, v in network.state_dict().items()}
    neck = torch.nn.BatchNorm1d(2048)
    torch.nn.init.uniform_(neck.running_var, 0.5, 1.5)
    state.update({f"bottleneck.{k}": v for k, v in neck.state_dict().items()})
    state["classifier.weight"] = torch.randn(702, 2048)
    torch.save(state, path)
    return path


def test_torchreid_checkpoint_loads_into_iaunet(reid_resnet50, tmp_path):
    source = torchreid_checkpoint(reid_resnet50, tmp_path / "model.pth.tar")
    report = convert_checkpoint(source, tmp_path / "backbone.safetensors")
    assert set(report.unmapped) == {"module.classifier.weight", "module.classifier.bias"}
    assert "classifier" in report.unmapped["module.classifier.weight"]
    assert all(k.startswith(("iau.", "bnneck.")) for k in report.not_provided)

    converted = load_file(tmp_path / "backbone.safetensors")
    assert torch.equal(converted["layer4.2.conv3.weight"], reid_resnet50.layer4[2].conv3.weight)

    # The IAU blocks start as the identity: with the source's last stride, IAUnet reproduces its features.
    model = timm.create_model(
        "iaunet_resnet50",
        pretrained=True,
        last_stride=2,
        pretrained_cfg_overlay=dict(file=str(tmp_path / "backbone.safetensors")),
    ).eval()
    x = torch.randn(2, 3, 64, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        trunk = torch.nn.Sequential(*list(reid_resnet50.children())[:-2])
        torch.testing.assert_close(model.forward_features(x), trunk(x), rtol=1e-4, atol=1e-5)


def test_strong_baseline_checkpoint_with_neck_cli(reid_resnet50, tmp_path, capsys):
    source = strong_baseline_checkpoint(reid_resnet50, tmp_path / "resnet50_model_120.pth")
    script = load_script()
    assert script.main([str(source), str(tmp_path / "out.safetensors"), "--with-neck"]) == 0
    assert "not converted: classifier.weight (classifier of the source identities)" in capsys.readouterr().out
    converted = load_file(tmp_path / "out.safetensors")
    assert torch.equal(
        converted["bnneck.running_var"], torch.load(source, weights_only=True)["bottleneck.running_var"]
    )
    assert torch.equal(converted["conv1.weight"], reid_resnet50.conv1.weight)
    assert script.main([str(tmp_path / "missing.pth"), str(tmp_path / "x.safetensors")]) == 2
    assert "missing.pth does not exist" in capsys.readouterr().err


def test_without_neck_the_neck_is_reported(reid_resnet50, tmp_path):
    source = strong_baseline_checkpoint(reid_resnet50, tmp_path / "sb.pth")
    report = convert_checkpoint(source, tmp_path / "out.safetensors")
    assert {k for k in report.unmapped if k.startswith("bottleneck.")} == {
        "bottleneck.weight", "bottleneck.bias", "bottleneck.running_mean", "bottleneck.running_var",
        "bottleneck.num_batches_tracked",
    }  # fmt: skip
    assert "bnneck.weight" not in load_file(tmp_path / "out.safetensors")


def test_pickled_objects_are_refused(reid_resnet50, tmp_path):
    path = tmp_path / "with_args.pth"
    torch.save({"state_dict": reid_resnet50.state_dict(), "args": argparse.Namespace(lr=3.5e-4)}, path)
    with pytest.raises(ValueError, match="weights_only=True"):
        read_reid_checkpoint(path)


def test_wrong_depth_is_a_clear_error(reid_resnet50, tmp_path):
    source = torchreid_checkpoint(reid_resnet50, tmp_path / "model.pth.tar")
    with pytest.raises(ValueError, match="full ResNet-18 backbone"):
        convert_checkpoint(source, tmp_path / "out.safetensors", depth=18)


def test_with_neck_file_loads_the_documented_way(reid_resnet50, tmp_path, caplog):
    """Issue 26: a --with-neck file was refused by the documented call ("missing from the checkpoint:
    iau.layer2.ciau.norm.bias, ..."). It loads: backbone and neck from the file, the IAU blocks at their
    identity initialisation, and a warning names them."""
    source = strong_baseline_checkpoint(reid_resnet50, tmp_path / "resnet50_model_120.pth")
    assert load_script().main([str(source), str(tmp_path / "neck.safetensors"), "--with-neck"]) == 0
    converted = load_file(tmp_path / "neck.safetensors")
    assert any(k.startswith("bnneck.") for k in converted) and not any(
        k.startswith("iau.") for k in converted
    )

    torch.manual_seed(3)
    fresh = timm.create_model("iaunet_resnet50").state_dict()
    torch.manual_seed(3)
    with caplog.at_level(logging.WARNING, logger="iaunet_hf"):
        model = timm.create_model(
            "iaunet_resnet50",
            pretrained=True,
            pretrained_cfg_overlay=dict(file=str(tmp_path / "neck.safetensors")),
        )
    state = model.state_dict()
    assert set(state) == set(fresh)
    for key, value in state.items():
        expected = converted[key] if key in converted else fresh[key]
        assert torch.equal(value, expected), key
    iau = [k for k in state if k.startswith("iau.")]
    assert iau and not set(iau) & set(converted)
    # identity: the zero-initialised residual BNs of every IAU block
    residual = [m for m in model.iau.modules() if getattr(m, "zero_init_residual", False)]
    assert residual and all(not m.weight.any() for m in residual)
    (message,) = [r.getMessage() for r in caplog.records if r.name == "iaunet_hf.timm_weights"]
    assert str(tmp_path / "neck.safetensors") in message and "BN neck" in message
    for block in ("iau.layer2.ciau", "iau.layer2.stiau", "iau.layer3.ciau", "iau.layer3.stiau"):
        assert block in message

    model.eval()
    x = torch.randn(2, 3, 64, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # with the source's last stride, the features are the source network's
        same_stride = timm.create_model(
            "iaunet_resnet50",
            pretrained=True,
            last_stride=2,
            pretrained_cfg_overlay=dict(file=str(tmp_path / "neck.safetensors")),
        ).eval()
        trunk = torch.nn.Sequential(*list(reid_resnet50.children())[:-2])
        torch.testing.assert_close(same_stride.forward_features(x), trunk(x), rtol=1e-4, atol=1e-5)


def test_a_partial_neck_or_extra_keys_stay_refused(reid_resnet50, tmp_path):
    source = strong_baseline_checkpoint(reid_resnet50, tmp_path / "sb.pth")
    convert_checkpoint(source, tmp_path / "neck.safetensors", include_neck=True)
    tensors = load_file(tmp_path / "neck.safetensors")
    cases = {
        "bnneck.running_var": {k: v for k, v in tensors.items() if k != "bnneck.running_var"},
        "layer4.2.conv3.weight": {k: v for k, v in tensors.items() if k != "layer4.2.conv3.weight"},
        "bnneck.extra": {**tensors, "bnneck.extra": torch.zeros(1)},
    }
    for key, state in cases.items():
        path = tmp_path / f"{key}.safetensors"
        save_file(state, str(path))
        with pytest.raises(ValueError, match=key.replace(".", r"\.")):
            timm.create_model("iaunet_resnet50", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
