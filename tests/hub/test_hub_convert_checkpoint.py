"""Checkpoint conversion from torchreid / strong-baseline key layouts, loaded with weights_only=True."""

import argparse
import importlib.util
from pathlib import Path

import pytest
import timm
import torch
import torchvision
from safetensors.torch import load_file

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
