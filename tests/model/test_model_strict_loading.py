"""Strict loading: a checkpoint that does not match its config is an error naming the file and the keys, through
every loader (transformers Auto classes, pipeline, timm local-dir:/hf-hub:, iaunet-eval's loader and CLI)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModel, AutoModelForImageClassification, pipeline

from iaunet_hf import IAUnetConfig, IAUnetForReID, IAUnetImageProcessor, IAUnetModel
from iaunet_hf.hub.checks import check_safetensors
from iaunet_hf.inference import load_reid_model

pytestmark = pytest.mark.reliability

H, W = 64, 32
SCRIPTS = Path(sys.executable).parent


def _save(model, folder: Path) -> Path:
    model.save_pretrained(folder)
    IAUnetImageProcessor(size={"height": H, "width": W}).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def reid_folder(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return _save(
        IAUnetForReID(IAUnetConfig(depth=18, image_size=(H, W), num_labels=4)), tmp_path_factory.mktemp("ok")
    )


def _edit_config(folder: Path, **fields) -> None:
    """Change fields of config.json the way a mix-up would: in the transformers fields and in timm's model_args."""
    path = folder / "config.json"
    config = json.loads(path.read_text())
    for key, value in fields.items():
        config[key] = value
        if key in config["model_args"]:
            config["model_args"][key] = value
    if "depth" in fields:
        config["architecture"] = f"iaunet_resnet{fields['depth']}"
    path.write_text(json.dumps(config))


def _drop_tensors(folder: Path, prefix: str) -> None:
    path = folder / "model.safetensors"
    tensors = load_file(path)
    save_file({k: v for k, v in tensors.items() if not k.startswith(prefix)}, path, metadata={"format": "pt"})


# case -> (how to break a copy of the good folder, a key the error must name)
MISMATCHES = {
    "config iau_stages [2], weights for stages 2 and 3": (
        lambda f: _edit_config(f, iau_stages=[2]),
        "iau.layer3",
    ),
    "config depth 34, ResNet-18 weights": (lambda f: _edit_config(f, depth=34), "layer1.2"),
    "weights without bnneck": (lambda f: _drop_tensors(f, "iaunet.network.bnneck."), "bnneck.weight"),
    "config num_parts 3, weights for 4 parts": (lambda f: _edit_config(f, num_parts=3), "part_conv.weight"),
}
LOADERS = {
    "AutoModel": lambda f: AutoModel.from_pretrained(f),
    "AutoModelForImageClassification": lambda f: AutoModelForImageClassification.from_pretrained(f),
    "pipeline": lambda f: pipeline("image-feature-extraction", model=str(f)),
    "timm local-dir": lambda f: timm.create_model(f"local-dir:{f}", pretrained=True),
    "timm local-dir num_classes=0": lambda f: timm.create_model(
        f"local-dir:{f}", pretrained=True, num_classes=0
    ),
    "iaunet-eval loader, folder": lambda f: load_reid_model(str(f)),
    "iaunet-eval loader, local-dir": lambda f: load_reid_model(f"local-dir:{f}"),
}


@pytest.fixture(scope="module", params=list(MISMATCHES))
def broken_folder(request, reid_folder, tmp_path_factory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("broken")
    shutil.copytree(reid_folder, folder, dirs_exist_ok=True)
    breaker, key = MISMATCHES[request.param]
    breaker(folder)
    return folder, key


@pytest.mark.parametrize("loader", list(LOADERS))
def test_a_mismatched_checkpoint_is_an_error_naming_file_and_keys(broken_folder, loader):
    folder, key = broken_folder
    with pytest.raises(ValueError) as error:
        LOADERS[loader](folder)
    message = str(error.value)
    assert str(folder / "model.safetensors") in message and key in message


def test_iaunet_eval_exits_with_the_mismatch(reid_folder, tiny_synthetic_dirs, tmp_path):
    data_dir, cache_dir = tiny_synthetic_dirs
    folder = tmp_path / "model"
    shutil.copytree(reid_folder, folder)
    _edit_config(folder, iau_stages=[2])
    run = subprocess.run(
        [
            SCRIPTS / "iaunet-eval",
            "--model",
            str(folder),
            "--dataset",
            "synthetic",
            "--data-dir",
            str(data_dir),
        ]
        + ["--cache-dir", str(cache_dir), "--output", str(tmp_path / "results.json")],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert run.returncode == 2 and not (tmp_path / "results.json").exists()
    assert "iau.layer3" in run.stderr and str(folder / "model.safetensors") in run.stderr
    assert "Traceback" not in run.stderr


def test_a_missing_model_name_says_neither_folder_nor_hub(tiny_synthetic_dirs, tmp_path):
    data_dir, cache_dir = tiny_synthetic_dirs
    run = subprocess.run(
        [SCRIPTS / "iaunet-eval", "--model", "missing-run/model", "--dataset", "synthetic"]
        + ["--data-dir", str(data_dir), "--cache-dir", str(cache_dir), "--output", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")},
    )
    assert run.returncode == 2, run.stderr
    assert "no folder" in run.stderr and "Hub" in run.stderr and "missing-run/model" in run.stderr


def test_hf_hub_checkpoints_are_strict_too(reid_folder, tmp_path):
    """A mismatched checkpoint served from the (offline) Hub cache fails in both faces."""
    snapshot = tmp_path / "hub" / "models--org--broken" / "snapshots" / ("0" * 40)
    shutil.copytree(reid_folder, snapshot)
    _edit_config(snapshot, iau_stages=[2])
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    script = (
        "import timm, iaunet_hf\n"
        "from transformers import AutoModel\n"
        "for load in (lambda: timm.create_model('hf-hub:org/broken', pretrained=True),\n"
        "             lambda: AutoModel.from_pretrained('org/broken')):\n"
        "    try:\n"
        "        load()\n"
        "    except ValueError as error:\n"
        "        print('ValueError:', error)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    lines = [line for line in run.stdout.splitlines() if line.startswith("ValueError:")]
    assert len(lines) == 2, run.stdout + run.stderr
    assert all("iau.layer3" in line and "model.safetensors" in line for line in lines)
    assert "org/broken" in lines[0]


def test_tolerated_differences(reid_folder, tmp_path):
    # an IAUnetForReID checkpoint gives IAUnetModel its embeddings (the classifier is not needed)
    assert isinstance(AutoModel.from_pretrained(reid_folder), IAUnetModel)
    # transformers' idiom for a new head: ignore_mismatched_sizes re-initialises the classifier for num_labels=7
    new_head = AutoModelForImageClassification.from_pretrained(
        reid_folder, num_labels=7, ignore_mismatched_sizes=True
    )
    assert new_head.classifier.out_features == 7
    with pytest.raises(ValueError, match=r"classifier\.weight \(checkpoint \[4, 512\], model \[7, 512\]\)"):
        AutoModelForImageClassification.from_pretrained(reid_folder, num_labels=7)
    # an IAUnetModel checkpoint has no classifier: IAUnetForReID initialises a fresh head (transformers' fine-tuning
    # path) and reports it, but the rest of the network must still match exactly
    base_folder = _save(IAUnetModel(IAUnetConfig(depth=18, image_size=(H, W))), tmp_path / "base")
    fine_tune, info = AutoModelForImageClassification.from_pretrained(
        base_folder, num_labels=9, output_loading_info=True
    )
    assert sorted(info["missing_keys"]) == ["classifier.bias", "classifier.weight"]
    assert fine_tune.classifier.out_features == 9
    assert isinstance(AutoModelForImageClassification.from_pretrained(base_folder), IAUnetForReID)
    _drop_tensors(base_folder, "network.bnneck.")
    with pytest.raises(ValueError, match=r"bnneck\.weight"):
        AutoModelForImageClassification.from_pretrained(base_folder)


def test_imagenet_resnet_loads_into_the_backbone_recognised_by_its_key_set(tmp_path):
    resnet18, resnet34 = tmp_path / "resnet18.safetensors", tmp_path / "resnet34.safetensors"
    imagenet = timm.create_model("resnet18").state_dict()
    save_file(imagenet, resnet18)
    save_file(timm.create_model("resnet34").state_dict(), resnet34)
    model = timm.create_model(
        "iaunet_resnet18", pretrained=True, pretrained_cfg_overlay=dict(file=str(resnet18))
    )
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in imagenet.items() if not k.startswith("fc."))
    assert "iau.layer2.ciau.update.weight" in state and "fc.weight" not in state
    with pytest.raises(ValueError) as error:  # a ResNet, but not the backbone's depth
        timm.create_model("iaunet_resnet18", pretrained=True, pretrained_cfg_overlay=dict(file=str(resnet34)))
    assert str(resnet34) in str(error.value) and "layer1.2" in str(error.value)
    with pytest.raises(ValueError, match="layer1.2"):
        timm.create_model("iaunet_resnet34", pretrained=True, pretrained_cfg_overlay=dict(file=str(resnet18)))


@pytest.mark.parametrize("damage", ["empty", "truncated", "not safetensors"])
def test_damaged_weights_file_is_named(reid_folder, tmp_path, damage):
    folder = tmp_path / "model"
    shutil.copytree(reid_folder, folder)
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(
        {"empty": b"", "truncated": data[: len(data) // 2], "not safetensors": b"{" * 64}[damage]
    )
    loaders = [
        lambda: AutoModel.from_pretrained(folder),
        lambda: AutoModelForImageClassification.from_pretrained(folder),
        lambda: timm.create_model(f"local-dir:{folder}", pretrained=True),
        lambda: check_safetensors(weights),
    ]
    for load in loaders:
        with pytest.raises(ValueError) as error:
            load()
        message = str(error.value)
        assert str(weights) in message and ("truncated" in message or "not a safetensors file" in message)
