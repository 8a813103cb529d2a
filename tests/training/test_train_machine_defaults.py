"""What a run takes from the machine it runs on (issue 26): data workers, part-mask warnings, ImageNet weights
without the Hub."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

from iaunet_hf.training import load_config, recipes, trainer_for
from iaunet_hf.training.cli import main

SCRIPTS_DIR = Path(sys.executable).parent


def print_config(capsys, *argv: str) -> dict:
    capsys.readouterr()
    assert main([*argv, "--print-config"]) == 0
    return yaml.safe_load(capsys.readouterr().out)


def test_the_recipes_data_workers_default_to_the_machines_cpus(monkeypatch, capsys):
    monkeypatch.setattr(recipes, "available_cpus", lambda: 2)
    assert print_config(capsys, "--recipe", "market1501")["data"]["num_workers"] == 2  # the recipe says 4
    assert print_config(capsys, "--recipe", "market1501_ciau")["data"]["num_workers"] == 2
    # a value the user gives is kept, in any spelling
    for option in ("--data.num_workers", "--num-workers"):
        assert print_config(capsys, "--recipe", "market1501", option, "4")["data"]["num_workers"] == 4
    assert load_config("market1501", {"data.num_workers": 3}).data.num_workers == 3
    monkeypatch.setattr(recipes, "available_cpus", lambda: 16)
    assert load_config("market1501").data.num_workers == 4  # never raised above the recipe's


def tiny_market_overrides(tiny_reid_dirs, tiny_overrides: dict, output_dir: Path) -> dict:
    """The tiny set read as plain Market-1501 (no part masks of its own), a real recipe's network from scratch."""
    data_dir, cache_dir = tiny_reid_dirs
    return {**tiny_overrides, "data.dataset": "market1501", "data.data_dir": str(data_dir),
            "data.cache_dir": str(cache_dir), "checkpoint.output_dir": str(output_dir),
            "model.pretrained": False}  # fmt: skip


@pytest.mark.parametrize(("recipe", "warns"), [("market1501_ciau", False), ("market1501_stiau", True)])
def test_only_a_network_with_part_attention_asks_for_part_masks(
    tiny_reid_dirs, tiny_overrides, tmp_path, recipe, warns
):
    # CIAU only has no part attention, so no part loss to lose; STIAU has one, and it is off without masks
    config = load_config(recipe, tiny_market_overrides(tiny_reid_dirs, tiny_overrides, tmp_path / "run"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer = trainer_for(config)
    asked = [w for w in caught if "--data.mask_dir" in str(w.message)]
    assert bool(asked) == warns, [str(w.message) for w in caught]
    assert trainer.part_masks_used is False


def test_imagenet_weights_offline_say_what_to_do(tiny_reid_dirs, tiny_overrides, tmp_path):
    # the market1501 recipe starts from the Hub's ImageNet weights; offline with an empty cache they are not there
    overrides = tiny_market_overrides(tiny_reid_dirs, tiny_overrides, tmp_path / "run")
    overrides.pop("model.pretrained")
    argv = ["iaunet-train", "--recipe", "market1501", "--train.epochs", "1"]
    for key, value in overrides.items():
        argv += [f"--{key}", str(value)]
    (tmp_path / "hf_home").mkdir()
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"),
               PATH=f"{SCRIPTS_DIR}{os.pathsep}{os.environ.get('PATH', '')}")  # fmt: skip
    env.pop("HF_HUB_CACHE", None)
    completed = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert completed.returncode == 2, completed.stderr[-3000:]
    [line] = [line for line in completed.stderr.splitlines() if line.startswith("iaunet-train: error: ")]
    assert "timm/resnet50.tv_in1k" in line and "--model.pretrained_file PATH" in line
    assert "--model.pretrained false" in line and "Traceback" not in completed.stderr
    # the proposed option trains
    completed = subprocess.run([*argv, "--model.pretrained", "false"], env=env, cwd=tmp_path,
                               capture_output=True, text=True, timeout=240)  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert (tmp_path / "run" / "model" / "training_summary.json").is_file()
