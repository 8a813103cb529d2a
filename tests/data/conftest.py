"""Fixture writers for the data tests: real files in the datasets' own on-disk formats."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_jpeg(path: Path, *, height: int = 32, width: int = 16) -> Path:
    """A small random JPEG at ``path`` whose content is seeded by its name (stable across runs)."""
    rng = np.random.default_rng(zlib.crc32(path.name.encode()))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)).save(path, quality=90)
    return path


def write_corrupt_jpeg(path: Path) -> Path:
    """A JPEG cut short after its header: opens, but fails to decode."""
    write_jpeg(path)
    path.write_bytes(path.read_bytes()[:200])
    return path


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "hf_cache"


@pytest.fixture
def jpeg_writer():
    return write_jpeg


@pytest.fixture
def corrupt_jpeg_writer():
    return write_corrupt_jpeg
