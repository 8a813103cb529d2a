"""The training command on a timm backbone: ``--model.backbone regnety_032`` trains a step from the backbone's
ImageNet weights (a local timm checkpoint through timm's loader) and saves a model both libraries load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import timm
import torch
from safetensors.torch import save_file
from train_cli import tiny_train_argv
from transformers import AutoModel

BIN = Path(sys.executable).parent


def test_iaunet_train_runs_a_step_on_regnety_032(tiny_reid_dirs, tiny_overrides, tmp_path):
    plain = timm.create_model("regnety_032", num_classes=1000)
    weights = tmp_path / "regnety_032.safetensors"
    save_file(plain.state_dict(), str(weights))
    argv = tiny_train_argv(tmp_path / "run", tiny_reid_dirs, tiny_overrides, "--train.epochs", "1")
    argv += ["--model.backbone", "regnety_032", "--model.pretrained_file", str(weights)]
    done = subprocess.run([str(BIN / "iaunet-train"), *argv], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    folder = tmp_path / "run" / "model"
    model = AutoModel.from_pretrained(folder).eval()
    assert model.config.backbone == "regnety_032" and model.config.use_timm_backbone
    timm_model = timm.create_model(f"local-dir:{folder}", pretrained=True, num_classes=0).eval()
    pixels = torch.randn(2, 3, 64, 32)
    with torch.no_grad():
        torch.testing.assert_close(timm_model(pixels), model(pixel_values=pixels).pooler_output)
    # the stem came from the ImageNet file (one step of Adam at lr 3.5e-4 moves it by far less than 1e-2)
    trained = model.network.state_dict()["stem.conv.weight"]
    assert (trained - plain.state_dict()["stem.conv.weight"]).abs().max() < 1e-2
