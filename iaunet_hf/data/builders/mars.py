"""MARS builder (video), driven by the official ``info/`` tables.

Layout (``data_dir`` is this folder or its parent)::

    MARS/
        info/   train_name.txt  test_name.txt  tracks_train_info.mat  tracks_test_info.mat  query_IDX.mat
        bbox_train/0001/0001C1T0001F001.jpg ...
        bbox_test/00-1/...  bbox_test/0000/...  bbox_test/0002/...

``tracks_*_info`` rows are ``[start, end, pid, camid]`` with 1-based inclusive indices into the
name list; ``query_IDX`` holds 1-based row indices of the query tracklets in the test table.
A frame ``0001C1T0001F001.jpg`` lives in ``<bbox>/0001/``. Gallery protocols:
``official`` (default, the MARS evaluation code: every test tracklet, query ones included) and
``torchreid`` (test tracklets not in the query). Junk tracklets (pid -1) are dropped; distractors
(pid 0) are kept.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import scipy.io

from ..records import TrackletRecord
from ..reid_builder import ReIDConfig, ReIDVideoBuilder

GALLERY_PROTOCOLS = ("official", "torchreid")


@dataclasses.dataclass
class MarsConfig(ReIDConfig):
    """MARS options: ``gallery_protocol`` is ``official`` (query tracklets also in the gallery) or ``torchreid``."""

    gallery_protocol: str = "official"


class Mars(ReIDVideoBuilder, config=MarsConfig):
    """MARS (Zheng et al., ECCV 2016): 1,261 identities, 6 cameras, ~20k tracklets."""

    DATASET_TITLE = "MARS"
    ROOT_MARKERS = ("info", "bbox_train", "bbox_test")
    NUM_CAMERAS = 6

    def _read_names(self, path: Path) -> list[str]:
        if not path.is_file():
            raise FileNotFoundError(f"{self.DATASET_TITLE}: name list {path} is missing")
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]

    def _read_table(self, path: Path, key: str) -> np.ndarray:
        if not path.is_file():
            raise FileNotFoundError(f"{self.DATASET_TITLE}: table {path} is missing")
        content = scipy.io.loadmat(str(path))
        if key not in content:
            found = sorted(k for k in content if not k.startswith("__"))
            raise ValueError(f"{self.DATASET_TITLE}: {path} has no {key!r} variable; found {found}")
        return np.asarray(content[key])

    def _tracklets(self, table: np.ndarray, names: list[str], bbox: Path, table_path: Path) -> list:
        if table.ndim != 2 or table.shape[1] != 4:
            raise ValueError(
                f"{self.DATASET_TITLE}: {table_path} has shape {table.shape}; expected (N, 4) rows [start, end, pid, camid]"
            )
        tracklets = []
        for row_number, (start, end, pid, camera) in enumerate(table.astype(np.int64), start=1):
            if not 1 <= start <= end <= len(names):
                raise ValueError(
                    f"{self.DATASET_TITLE}: {table_path} row {row_number} spans names {start}..{end}; expected "
                    f"1-based indices within the {len(names)} names of the list"
                )
            if not 1 <= camera <= self.NUM_CAMERAS:
                raise ValueError(
                    f"{self.DATASET_TITLE}: {table_path} row {row_number} has camera {camera}; expected 1..{self.NUM_CAMERAS}"
                )
            frame_names = names[start - 1 : end]
            pid_prefix = "00-1" if pid == -1 else f"{pid:04d}"  # MARS writes junk as 00-1
            for name in frame_names:
                if len(name) < 6 or name[:4] != pid_prefix or name[5] != str(camera):
                    raise ValueError(
                        f"{self.DATASET_TITLE}: frame {name!r} of {table_path} row {row_number} does not match the "
                        f"row's pid {pid} and camera {camera}; expected names like '{pid_prefix}C{camera}T0001F001.jpg'"
                    )
            tracklets.append(
                TrackletRecord(
                    frame_paths=tuple(bbox / name[:4] / name for name in frame_names),
                    pid=int(pid),
                    camid=int(camera) - 1,
                )
            )
        return tracklets

    def _tracklet_path(self, root: Path, record: TrackletRecord) -> str:
        first = record.frame_paths[0]
        return (first.parent / first.name.split("F")[0]).relative_to(root).as_posix()

    def _collect(self, root: Path) -> dict[str, list]:
        protocol = self.config.gallery_protocol
        if protocol not in GALLERY_PROTOCOLS:
            raise ValueError(
                f"{self.DATASET_TITLE}: gallery_protocol is {protocol!r}; expected one of {GALLERY_PROTOCOLS}"
            )
        info = root / "info"
        train = self._tracklets(
            self._read_table(info / "tracks_train_info.mat", "track_train_info"),
            self._read_names(info / "train_name.txt"),
            root / "bbox_train",
            info / "tracks_train_info.mat",
        )
        test = self._tracklets(
            self._read_table(info / "tracks_test_info.mat", "track_test_info"),
            self._read_names(info / "test_name.txt"),
            root / "bbox_test",
            info / "tracks_test_info.mat",
        )
        query_rows = self._read_table(info / "query_IDX.mat", "query_IDX").astype(np.int64).ravel()
        if query_rows.size == 0 or query_rows.min() < 1 or query_rows.max() > len(test):
            raise ValueError(
                f"{self.DATASET_TITLE}: {info / 'query_IDX.mat'} holds indices {query_rows.min(initial=0)}.."
                f"{query_rows.max(initial=0)}; expected 1-based rows within the {len(test)} test tracklets"
            )
        query_set = set((query_rows - 1).tolist())
        query = [test[row] for row in query_rows - 1]
        if protocol == "official":
            gallery = list(test)
        else:
            gallery = [tracklet for row, tracklet in enumerate(test) if row not in query_set]
        for split, tracklets in (("train", train), ("test", test)):
            missing = [p for t in tracklets for p in t.frame_paths if not p.is_file()]
            if missing:
                raise FileNotFoundError(
                    f"{self.DATASET_TITLE}: {len(missing)} {split} frame(s) named in info/ do not exist, e.g. "
                    f"{missing[:5]}"
                )
        return {"train": train, "query": query, "gallery": gallery}
