"""Recipes, overrides and the checks that reject a config or dataset before any training starts."""

from __future__ import annotations

import pytest
import yaml

from iaunet_hf.training import available_recipes, load_config
from iaunet_hf.training.cli import main
from iaunet_hf.training.trainer import Trainer


def test_every_recipe_loads_and_follows_the_spec():
    assert set(available_recipes()) >= {
        "market1501",
        "dukemtmc_reid",
        "msmt17",
        "mars",
        "dukemtmc_videoreid",
        "cifar100",
        "synthetic",
    }
    for name in ("market1501", "dukemtmc_reid", "msmt17"):
        config = load_config(name)
        assert (config.optimizer.name, config.optimizer.lr, config.optimizer.weight_decay) == (
            "adam",
            3.5e-4,
            5e-4,
        )
        assert config.scheduler.milestones == [20, 40] and config.train.epochs == 60
        assert (config.data.batch_size, config.data.num_instances, config.data.height, config.data.width) == (
            64,
            4,
            256,
            128,
        )
        assert config.model.pretrained
    for name in ("mars", "dukemtmc_videoreid"):
        config = load_config(name)
        assert config.model.architecture == "iaunet_resnet50_video" and config.model.num_frames == 4
        assert (config.data.clip_length, config.data.clip_stride, config.data.batch_size) == (4, 8, 32)
        assert config.optimizer.lr == 3e-4 and config.scheduler.milestones == [40, 80, 120]
        assert config.train.epochs == 150
    cifar = load_config("cifar100")
    assert cifar.task == "classification" and cifar.model.part_division == "patches"
    assert (cifar.optimizer.name, cifar.optimizer.lr, cifar.data.batch_size, cifar.train.epochs) == (
        "sgd",
        0.1,
        256,
        307,
    )
    assert not load_config("synthetic").model.pretrained


def test_overrides_are_typed_and_resolved():
    config = load_config(
        "market1501",
        {"optimizer.lr": "1e-3", "data-dir": "/data/market", "mixed-precision": "bf16", "iau_stages": "[]"},
    )
    assert config.optimizer.lr == 1e-3
    assert config.data.data_dir == "/data/market"
    assert config.train.mixed_precision == "bf16"
    assert config.model.iau_stages == []
    assert load_config("market1501", {"max_grad_norm": "5"}).train.max_grad_norm == 5.0
    assert load_config("market1501", {"scheduler.milestones": "10,30"}).scheduler.milestones == [10, 30]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"optimizer.lrr": "1"}, "no field 'lrr'"),
        ({"bogus": "1"}, "unknown override --bogus"),
        ({"train.epochs": "many"}, "train.epochs"),
        ({"data.batch_size": "30"}, "not divisible by data.num_instances"),
        ({"mixed_precision": "fp8"}, "train.mixed_precision"),
        ({"optimizer.name": "lamb"}, "optimizer.name"),
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


def test_cli_prints_the_resolved_config_and_rejects_unknown_keys(capsys):
    assert main(["--recipe", "mars", "--data-dir", "/d", "--optimizer.lr=1e-4", "--print-config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["data"]["data_dir"] == "/d" and printed["optimizer"]["lr"] == 1e-4
    with pytest.raises(SystemExit):
        main(["--recipe", "mars", "--optimiser.lr", "1", "--print-config"])
    assert "optimiser" in capsys.readouterr().err


def test_too_few_identities_for_a_batch_is_rejected_before_training(tiny_reid, make_config, tmp_path):
    # the tiny set has 4 training identities; 32 / 4 asks for 8 per batch
    config = make_config(tmp_path / "run", **{"data.batch_size": 32})
    with pytest.raises(ValueError, match="4 identities but a batch needs P = .* = 8"):
        Trainer(config, tiny_reid)
    assert not (tmp_path / "run" / "checkpoints").exists()
