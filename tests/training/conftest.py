"""Fixtures of the training tests: a tiny synthetic reID set on disk and small, fast training configs."""

from __future__ import annotations

from pathlib import Path

import pytest
from accelerate.state import AcceleratorState, GradientState

from iaunet_hf.data import load_reid_dataset
from iaunet_hf.training import TrainingConfig, load_config


@pytest.fixture(scope="session")
def tiny_reid_dirs(tiny_synthetic_dirs: tuple[Path, Path]) -> tuple[Path, Path]:
    """(data folder in the Market-1501 layout, Arrow cache folder): the session's tiny synthetic set."""
    return tiny_synthetic_dirs


@pytest.fixture
def tiny_reid(tiny_reid_dirs: tuple[Path, Path]):
    data_dir, cache_dir = tiny_reid_dirs
    return load_reid_dataset("synthetic", data_dir, cache_dir=cache_dir)


# The synthetic recipe shrunk to seconds: ResNet-18 at 64x32, 8 images a batch, fp32, no re-ranking.
TINY_TRAINING = {
    "data.height": 64,
    "data.width": 32,
    "data.batch_size": 8,
    "data.num_instances": 4,
    "data.eval_batch_size": 16,
    "train.epochs": 2,
    "train.max_steps_per_epoch": 1,
    "train.mixed_precision": "no",
    "train.log_every": 1,
    "checkpoint.every_epochs": 1,
    "eval.every_epochs": 0,
    "eval.rerank": False,
}


def tiny_config(output_dir: Path, **overrides) -> TrainingConfig:
    """The synthetic recipe with ``TINY_TRAINING`` and ``overrides`` (dotted keys), writing to ``output_dir``."""
    return load_config("synthetic", {"checkpoint.output_dir": str(output_dir), **TINY_TRAINING, **overrides})


@pytest.fixture(scope="session")
def tiny_overrides() -> dict:
    """``TINY_TRAINING`` as command-line style overrides."""
    return dict(TINY_TRAINING)


@pytest.fixture(autouse=True)
def reset_accelerate_state():
    """accelerate keeps process-wide singletons; reset them after each test as its own test cases do."""
    yield
    AcceleratorState._reset_state(True)
    GradientState._reset_state()


@pytest.fixture
def make_config():
    """``make_config(output_dir, **{"section.field": value})``: a tiny config (see ``tiny_config``)."""
    return tiny_config
