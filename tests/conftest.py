"""Fixtures shared across the test areas: one tiny synthetic reID set, written once per session."""

from pathlib import Path

import pytest

from iaunet_hf.data import load_reid_dataset, write_synthetic_reid

# 4 train identities x 2 cameras x 2 images at 64x32 (a P=2, K=4 batch of 8 is two batches an epoch);
# 3 test identities, a few distractors and one junk image for the protocol.
TINY_SYNTHETIC = dict(
    num_train_ids=4,
    num_test_ids=3,
    num_cameras=2,
    images_per_camera=2,
    num_distractors=2,
    num_junk=1,
    height=64,
    width=32,
    seed=0,
)
# The same identities as tracklets of 3 to 9 frames: shorter than a 4-frame clip (padded by cycling) and longer.
TINY_TRACKLETS = dict(TINY_SYNTHETIC, num_distractors=0, num_junk=0, tracklets=True, tracklet_length=(3, 9))


@pytest.fixture(scope="session")
def tiny_synthetic_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(data folder in the Market-1501 layout, prepared Arrow cache folder) of the tiny synthetic set."""
    root = tmp_path_factory.mktemp("tiny_synthetic")
    data_dir, cache_dir = root / "market", root / "cache"
    write_synthetic_reid(data_dir, **TINY_SYNTHETIC)
    load_reid_dataset("synthetic", data_dir, cache_dir=cache_dir)
    return data_dir, cache_dir


@pytest.fixture(scope="session")
def tiny_tracklet_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(data folder holding the tiny set as DukeMTMC-VideoReID tracklets, prepared Arrow cache folder)."""
    root = tmp_path_factory.mktemp("tiny_tracklets")
    data_dir, cache_dir = root / "synthetic", root / "cache"
    write_synthetic_reid(data_dir, **TINY_TRACKLETS)
    load_reid_dataset("synthetic", data_dir, cache_dir=cache_dir, video=True)
    return data_dir, cache_dir
