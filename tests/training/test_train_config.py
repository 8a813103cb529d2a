"""Recipes, ablation recipes, overrides and the checks that reject a config or dataset before training starts."""

from __future__ import annotations

import subprocess
import sys

import pytest
import timm
import torch
import yaml

from iaunet_hf.training import available_recipes, load_config, read_recipe
from iaunet_hf.training.cli import main
from iaunet_hf.training.recipes import ABLATIONS_DIR
from iaunet_hf.training.trainer import Trainer

BASE_RECIPES = {
    "market1501",
    "dukemtmc_reid",
    "msmt17",
    "mars",
    "dukemtmc_videoreid",
    "cifar100",
    "synthetic",
}


def test_every_recipe_loads_and_follows_the_spec():
    assert set(available_recipes()) >= BASE_RECIPES
    for name in ("market1501", "dukemtmc_reid", "msmt17"):
        config = load_config(name)
        assert (config.optimizer.name, config.optimizer.lr, config.optimizer.weight_decay) == (
            "adam",
            3.5e-4,
            5e-4,
        )
        assert config.scheduler.milestones == [20, 40] and config.train.epochs == 60
        data = config.data
        assert (data.batch_size, data.num_instances, data.height, data.width) == (64, 4, 256, 128)
        assert config.model.pretrained and config.model.options["iau_stages"] == [2, 3]
    for name in ("mars", "dukemtmc_videoreid"):
        config = load_config(name)
        assert (
            config.model.architecture == "iaunet_resnet50_video" and config.model.options["num_frames"] == 4
        )
        assert (config.data.clip_length, config.data.clip_stride, config.data.batch_size) == (4, 8, 32)
        assert config.optimizer.lr == 3e-4 and config.scheduler.milestones == [40, 80, 120]
        assert config.train.epochs == 150
    cifar = load_config("cifar100")
    assert cifar.task == "classification" and cifar.model.options["part_division"] == "patches"
    assert (cifar.optimizer.name, cifar.optimizer.lr, cifar.data.batch_size, cifar.train.epochs) == (
        "sgd",
        0.1,
        256,
        307,
    )
    assert not load_config("synthetic").model.pretrained


def _parameters(config) -> int:
    with torch.device("meta"):
        model = timm.create_model(config.model.architecture, num_classes=0, **config.model.options)
    return sum(p.numel() for p in model.parameters())


def test_ablation_recipes_merge_over_their_base_and_build_the_row_they_name():
    ablations = sorted(p.stem for p in ABLATIONS_DIR.glob("*.yaml"))
    assert len(ablations) >= 20 and set(ablations) <= set(available_recipes())
    for name in ablations:
        raw = read_recipe(name)
        config = load_config(name)
        assert config.name == name and config.base in BASE_RECIPES and config.paper_row.startswith("Table ")
        base = load_config(config.base)
        # only what the row changes differs; the rest (optimizer, schedule, data) is the base recipe's
        assert (config.optimizer, config.scheduler, config.data.dataset) == (
            base.optimizer,
            base.scheduler,
            base.data.dataset,
        )
        assert config.card == base.card and raw["base"] == config.base
    market = _parameters(load_config("market1501"))
    counts = {name: _parameters(load_config(name)) for name in ("market1501_baseline", "market1501_ciau",
                                                                "market1501_stiau", "market1501_iau_stage2")}  # fmt: skip
    # baseline < one block of either kind < the full block after stage 2 < blocks after stages 2 and 3
    assert counts["market1501_baseline"] < min(counts["market1501_ciau"], counts["market1501_stiau"])
    assert (
        max(counts["market1501_ciau"], counts["market1501_stiau"]) < counts["market1501_iau_stage2"] < market
    )
    spatial = load_config("mars_stiau_spatial")
    assert (spatial.model.options["stiau_context"], spatial.model.options["iau_modules"]) == (
        "spatial",
        ["stiau"],
    )
    assert load_config("mars_parallel").model.options["iau_arrangement"] == "parallel"
    no_lp = load_config("market1501_no_part_loss")
    assert (
        no_lp.loss.part_loss_weight == 0.0 and no_lp.model.options == load_config("market1501").model.options
    )


def test_overrides_are_typed_and_reach_every_model_and_data_option():
    config = load_config(
        "market1501",
        {
            "optimizer.lr": "1e-3",
            "data-dir": "/data/market",
            "mixed-precision": "no",  # YAML 1.1 would read a bare no as false
            "model.iau_stages": "[]",
            "model.iau_modules": "[ciau]",
            "model.stiau_context": "spatial",
            "model.drop_rate": "0.1",
            "data.with_distractors": "true",
        },
    )
    assert config.optimizer.lr == 1e-3 and config.data.data_dir == "/data/market"
    assert config.train.mixed_precision == "fp32"  # accelerate's "no", in the package's one vocabulary
    assert config.model.options | {"iau_stages": []} == config.model.options
    assert config.model.options["iau_modules"] == ["ciau"] and config.model.options["drop_rate"] == 0.1
    assert config.data.options == {"with_distractors": True}
    assert load_config("market1501", {"max_grad_norm": "5"}).train.max_grad_norm == 5.0
    assert load_config("market1501", {"scheduler.milestones": "[10, 30]"}).scheduler.milestones == [10, 30]
    # a builder option keeps the string the user typed, even where YAML would read a list
    folder = load_config("synthetic", {"data.dataset": "folder", "data.name_pattern": "[0-9]+_c([0-9])"})
    assert folder.data.options == {"name_pattern": "[0-9]+_c([0-9])"}
    # the recipe's card facts describe its own dataset: another dataset drops them
    assert load_config("synthetic").card and folder.card is None
    # the resolved config round-trips through its own YAML
    assert load_config("market1501", {}).to_dict()["model"]["iau_stages"] == [2, 3]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"optimizer.lrr": "1"}, "no field 'lrr'"),
        ({"bogus": "1"}, "unknown override --bogus"),
        ({"train.epochs": "many"}, "train.epochs"),
        ({"data.batch_size": "30"}, "not divisible by data.num_instances"),
        ({"mixed_precision": "fp8"}, "train.mixed_precision"),
        ({"optimizer.name": "lamb"}, "optimizer.name"),
        ({"model.stiau_context": "diagonal"}, "stiau_context must be one of"),  # the network's own check
        ({"model.iau_modules": "[ciau, ciau]"}, "iau_modules"),
        ({"model.no_such_option": "1"}, "no_such_option"),
        ({"data.name_pattern": "x"}, "data.name_pattern is not an option of the market1501"),
        ({"data.dataset": "nowhere"}, "data.dataset 'nowhere' is unknown"),
    ],
)
def test_bad_overrides_are_rejected(overrides, message):
    with pytest.raises(ValueError, match=message):
        load_config("market1501", overrides)


def test_recipe_files_are_checked(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "train": {"epochs": 3, "epoch": 4}}))
    with pytest.raises(ValueError, match=r"train\.epoch"):
        load_config(path)
    path.write_text(yaml.safe_dump({"version": 99}))
    with pytest.raises(ValueError, match="version is 99; expected 1"):
        load_config(path)
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ValueError, match="unknown recipe"):
        load_config("market")
    # a user's own ablation file over a shipped base
    path.write_text("base: synthetic\npaper_row: mine\nmodel:\n  iau_stages: [3]\n")
    mine = load_config(path)
    assert mine.model.options["iau_stages"] == [3] and mine.base == "synthetic" and mine.name == "mine"
    path.write_text(f"base: {path}\n")
    with pytest.raises(ValueError, match="loops back"):
        load_config(path)


def test_cli_prints_the_resolved_config(capsys):
    argv = ["--recipe", "mars_stiau_spatial", "--data-dir", "/d", "--optimizer.lr=1e-4", "--print-config"]
    assert main(argv) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["data"]["data_dir"] == "/d" and printed["optimizer"]["lr"] == 1e-4
    assert printed["model"]["stiau_context"] == "spatial" and printed["base"] == "mars"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--optimiser.lr", "1"], "optimiser"),
        (["--model.stiau_context", "diagonal"], "stiau_context must be one of"),
        (["--train.epochs", "many"], "train.epochs"),
        (["--recipe", "nope"], "unknown recipe 'nope'"),
    ],
)
def test_cli_usage_errors_print_one_line_and_exit_2(argv, message):
    run = subprocess.run(
        [sys.executable, "-m", "iaunet_hf.train", *argv, "--print-config"], capture_output=True, text=True
    )
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("iaunet-train: error:") and message in lines[0]
    assert "Traceback" not in run.stderr


def test_too_few_identities_for_a_batch_is_rejected_before_training(tiny_reid, make_config, tmp_path):
    # the tiny set has 4 training identities; 32 / 4 asks for 8 per batch
    config = make_config(tmp_path / "run", **{"data.batch_size": 32})
    with pytest.raises(ValueError, match="4 identities but a batch needs P = .* = 8"):
        Trainer(config, tiny_reid)
    assert not (tmp_path / "run" / "checkpoints").exists()
