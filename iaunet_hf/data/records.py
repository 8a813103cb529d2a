"""Plain records that dataset parsers produce before anything touches Arrow.

Each builder's only job is to turn a folder layout into these records; everything
shared (junk dropping, labels, image checks, embedding, masks) lives in `reid_builder`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ImageRecord:
    """One image: absolute path, dataset identity number and 0-based camera index."""

    path: Path
    pid: int
    camid: int


@dataclass(frozen=True)
class TrackletRecord:
    """One tracklet: frame paths in true temporal order, identity and 0-based camera index."""

    frame_paths: tuple[Path, ...]
    pid: int
    camid: int
