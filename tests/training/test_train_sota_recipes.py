"""The BoT/AGW/SBS/SBS+IAU recipes train a step on the synthetic set, and their training components (warm-up and
cosine schedules, parameter groups, backbone freeze, center loss, augmentations) resume exactly."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import shutil
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from iaunet_hf.model import IAUnetOptions
from iaunet_hf.training import Trainer, TrainingConfig, available_recipes, load_config
from iaunet_hf.training.optimization import parameter_groups
from iaunet_hf.training.schedules import WarmupDecayLR

FAMILIES = ("bot", "agw", "sbs", "sbs_iau", "sbs_ibn", "sbs_resnest")
DATASETS = ("market1501", "dukemtmc_reid", "msmt17")
TINY = {
    "data.dataset": "synthetic",
    "model.pretrained": False,
    "data.height": 64,
    "data.width": 32,
    "data.batch_size": 8,
    "data.num_instances": 4,
    "data.num_workers": 0,
    "train.epochs": 2,
    "train.max_steps_per_epoch": 1,
    "train.mixed_precision": "no",
    "eval.every_epochs": 0,
    "eval.rerank": False,
}
NARROW = {"model.base_channels": 8}  # a ResNet at 1/8 width: the components, not the capacity, are under test


def tiny(name: str, output_dir, **more) -> dict:
    config = load_config(name)
    overrides = {**TINY, "checkpoint.output_dir": str(output_dir), **more}
    if config.model.architecture == "iaunet_resnet50":
        overrides.update({"model.architecture": "iaunet_resnet18", **NARROW})
    if config.model.options.get("backbone") == "resnest50d":  # the smallest ResNeSt of the same design
        overrides["model.backbone"] = "resnest14d"
    if config.train.freeze_backbone_iterations:
        overrides["train.freeze_backbone_iterations"] = 1
    if config.scheduler.delay_epochs:
        overrides["scheduler.delay_epochs"] = 1
    return overrides


def test_every_recipe_exists_for_every_dataset_and_states_its_target():
    names = set(available_recipes())
    for family in FAMILIES:
        for dataset in DATASETS:
            name = f"{family}_{dataset}"
            assert name in names
            config = load_config(name)
            assert config.data.dataset == dataset and set(config.card["paper"]) == {"mAP", "rank-1"}
            assert "fast-reid model zoo" in config.card["paper_table"]
    sbs = load_config("sbs_market1501")  # fast-reid's configs/Base-SBS.yml
    assert (
        sbs.model.options["classifier"],
        sbs.model.options["classifier_margin"],
        sbs.data.autoaugment,
    ) == (
        "circle",
        0.35,
        0.1,
    )
    assert (sbs.scheduler.name, sbs.scheduler.delay_epochs, sbs.train.freeze_backbone_iterations) == (
        "cosine",
        30,
        1000,
    )
    assert load_config("bot_msmt17").optimizer == load_config("bot_market1501").optimizer


@pytest.mark.parametrize("family", FAMILIES)
def test_the_recipe_trains_a_step_on_the_synthetic_set(family, tiny_reid, tmp_path):
    name = f"{family}_market1501"
    trainer = Trainer(load_config(name, tiny(name, tmp_path / "run")), tiny_reid)
    network = trainer.accelerator.unwrap_model(trainer.model).iaunet.network
    before = {k: v.clone() for k, v in network.state_dict().items()}
    losses = trainer.train_step(next(iter(trainer.train_loader)))
    assert torch.isfinite(losses["loss"])
    changed = {k for k, v in network.state_dict().items() if not torch.equal(v, before[k])}
    assert any(k.startswith("bnneck.") for k in changed)
    if trainer.config.train.freeze_backbone_iterations:  # SBS: the first step trains only the new layers
        assert not any(k.startswith(("conv1.", "bn1.", "layer")) for k in changed)
    else:
        assert any(k.startswith("layer1.") for k in changed)


RESUMABLE = {  # every new component at once, with the warm-up and the freeze still running at the checkpoint
    "scheduler.name": "cosine",
    "scheduler.per_iteration": True,
    "scheduler.warmup_iterations": 3,
    "scheduler.min_lr": 1e-6,
    "train.freeze_backbone_iterations": 3,
    "train.max_grad_norm": 5.0,
    "train.max_steps_per_epoch": 2,
    "optimizer.name": "adamw",
    "optimizer.lr": 1e-3,
    "optimizer.bias_lr_factor": 2.0,
    "optimizer.head_lr_factor": 10.0,
    "optimizer.weight_decay_norm": 0.0,
    "loss.center_weight": 5e-4,
    "loss.circle_weight": 0.5,
    "loss.triplet_soft_margin": True,
    "model.classifier": "arcface",
    "model.pooling": "gem",
    "model.gem_learnable_p": True,
    "model.embedding_dim": 32,
    "data.padding": 4,
    "data.autoaugment": 0.5,
    "data.color_jitter": 0.5,
    "data.random_patch": 0.5,
    "checkpoint.every_epochs": 1,
    **NARROW,
}


def test_a_run_resumed_mid_warm_up_and_mid_freeze_matches_the_uninterrupted_run(
    make_config, tiny_reid, tmp_path
):
    # 2 epochs x 2 steps; the checkpoint after epoch 1 is at step 2, inside the 3-step warm-up and freeze
    full = Trainer(make_config(tmp_path / "full", **RESUMABLE), tiny_reid).train()
    # the interrupted run: the same run stopped after its first checkpoint (a cosine depends on the run's length,
    # so it cannot be a shorter run), continued with --resume
    (tmp_path / "parts" / "checkpoints").mkdir(parents=True)
    shutil.copytree(
        full.output_dir / "checkpoints" / "checkpoint_1", tmp_path / "parts" / "checkpoints" / "checkpoint_1"
    )
    resumed = Trainer(
        make_config(tmp_path / "parts", **RESUMABLE, **{"checkpoint.resume": "latest"}), tiny_reid
    ).train()
    expected, actual = (
        load_file(full.model_dir / "model.safetensors"),
        load_file(resumed.model_dir / "model.safetensors"),
    )
    assert expected.keys() == actual.keys() and "iaunet.network.pooling.p" in expected
    assert [k for k in expected if not torch.equal(expected[k], actual[k])] == []
    assert full.history[-1]["train/loss"] == resumed.history[-1]["train/loss"]
    assert {"train/center", "train/circle"} <= set(full.history[-1])


def test_schedule_groups_and_freeze_follow_their_definitions(make_config, tiny_reid, tmp_path):
    config = make_config(tmp_path / "run", **RESUMABLE, **{"train.epochs": 4})
    trainer = Trainer(config, tiny_reid)
    scheduler = trainer.scheduler.scheduler
    assert isinstance(scheduler, WarmupDecayLR) and scheduler.iterations_per_epoch == 2
    ratio = 1e-6 / 1e-3
    for step in range(8):  # warm-up x0.1 -> 1 over 3 steps, times a cosine over 4 epochs of 2 steps
        warmup = 0.1 + 0.9 * step / 3 if step < 3 else 1.0
        cosine = ratio + (1 - ratio) * 0.5 * (1 + math.cos(math.pi * step / 8))
        assert scheduler.factor(step) == pytest.approx(warmup * cosine)
    model = trainer.accelerator.unwrap_model(trainer.model)
    groups = {(g["lr_factor"], g["decay_kind"]): g for g in parameter_groups(model, config.optimizer)}
    classifier_weight = model.classifier.weight
    assert any(p is classifier_weight for p in groups[(10.0, "default")]["params"])
    assert groups[(20.0, "norm")]["weight_decay"] == 0.0  # the BN neck's bias: head x bias factors
    assert groups[(1.0, "default")]["weight_decay"] == 5e-4
    with pytest.raises(ValueError, match="freeze_backbone_iterations is 8; expected fewer than the run's 8"):
        Trainer(make_config(tmp_path / "long", **{**RESUMABLE, "train.freeze_backbone_iterations": 8,
                                                  "train.epochs": 4}), tiny_reid)  # fmt: skip


def test_help_and_docs_list_every_option():
    completed = subprocess.run(
        [sys.executable, "-m", "iaunet_hf.train", "--help"], capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stderr
    help_text = " ".join(completed.stdout.split())
    docs = (Path(__file__).parents[2] / "docs" / "training.md").read_text(encoding="utf-8")
    head = (
        "pooling",
        "gem_p",
        "gem_learnable_p",
        "embedding_dim",
        "classifier",
        "classifier_scale",
        "classifier_margin",
    )
    for keyword in IAUnetOptions.keywords():
        assert keyword in help_text
    for keyword in head:
        assert f"`model.{keyword}`" in docs or f"`{keyword}`" in docs, keyword
    for section, cls in typing.get_type_hints(TrainingConfig).items():
        if dataclasses.is_dataclass(cls):
            for field in (f.name for f in dataclasses.fields(cls) if f.name != "options"):
                assert f" {field}," in help_text or f" {field};" in help_text, f"{section}.{field}"
                assert f"`{field}`" in docs or f"`{section}.{field}`" in docs, f"{section}.{field}"


def test_the_comparison_tool_scales_each_recipe_to_the_study(tmp_path, monkeypatch):
    path = Path(__file__).parents[2] / "scripts" / "ablation_study.py"
    monkeypatch.syspath_prepend(str(path.parent))  # as when run as a script: its sibling modules import
    spec = importlib.util.spec_from_file_location("ablation_study", path)
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    # SBS: 60 epochs of ~202 steps -> a 6-epoch study of 4 steps: the same fractions of the run
    assert study.scaled_schedule("sbs_market1501", 6, 4) == {
        "scheduler.milestones": [4, 9],
        "scheduler.delay_epochs": 3,
        "scheduler.warmup_iterations": 4,
        "train.freeze_backbone_iterations": 2,
    }
    variants = study.parse_variants(
        [["paper", "market1501"], ["sbs_gem4", "sbs_market1501", "model.gem_p=4"]]
    )
    assert variants == {"paper": ("market1501", {}), "sbs_gem4": ("sbs_market1501", {"model.gem_p": 4})}
    settings = dict(study.PRESETS["cpu"])
    for name, variant in study.COMPARISONS["recipes"].items():
        config = load_config(variant[0], study.overrides_for(variant, 0, tmp_path, tmp_path / name, settings))
        assert (config.data.dataset, config.model.architecture, config.train.epochs) == (
            "synthetic",
            "iaunet_resnet18",
            settings["epochs"],
        )
