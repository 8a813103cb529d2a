"""i-LIDS (QMUL iLIDS, image) builder: 119 identities, 476 images, 10 random splits.

Layout (``data_dir`` is this folder or its parent)::

    i-LIDS_Pedestrian/
        Persons/0001001.jpg ...     (<pid: 4 digits><image index: 3 digits>.jpg)
        iaunet_splits_ilids_seed0.json    (written on first use: the 10 random splits)

i-LIDS has no camera labels. As torchreid, ``camid`` is the image's index within its identity
(digits 5..7, 0-based): it is not a camera, but since a query and its gallery match are always
different images of the person, the same-camera filter of the evaluation never removes a true match.
Each of the 10 seeded splits trains on half the identities (59, all their images) and, for every
other identity, picks two random images: one query, one gallery.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from ..records import ImageRecord
from ..reid_builder import ReIDImageBuilder
from ..splits import SplitProtocolConfig, choose_split, protocol_splits

NUM_SPLITS = 10


def _draw_splits(names_by_pid: dict[int, list[str]], rng: np.random.Generator) -> list[dict]:
    pids = sorted(names_by_pid)
    splits = []
    for _ in range(NUM_SPLITS):
        order = rng.permutation(len(pids))
        train = sorted(pids[i] for i in order[: len(pids) // 2])
        test = sorted(pids[i] for i in order[len(pids) // 2 :])
        pairs = [rng.choice(names_by_pid[pid], size=2, replace=False).tolist() for pid in test]
        splits.append({"train": train, "query": [q for q, _ in pairs], "gallery": [g for _, g in pairs]})
    return splits


class Ilids(ReIDImageBuilder, config=SplitProtocolConfig):
    """QMUL i-LIDS (Zheng et al., BMVC 2009): 119 identities, 476 images, no camera labels."""

    DATASET_TITLE = "i-LIDS"
    ROOT_MARKERS = ("Persons",)

    def _record(self, folder: Path, name: str) -> ImageRecord:
        stem = Path(name).stem
        if len(stem) != 7 or not stem.isdigit():
            raise ValueError(
                f"{self.DATASET_TITLE}: cannot parse {folder / name}; expected '<pid: 4 digits><index: 3 digits>.jpg'"
            )
        return ImageRecord(folder / name, int(stem[:4]), int(stem[4:7]) - 1)

    def _collect(self, root: Path) -> dict[str, list]:
        folder = root / "Persons"
        names_by_pid: dict[int, list[str]] = defaultdict(list)
        for path in sorted(folder.glob("*.jpg")):
            names_by_pid[self._record(folder, path.name).pid].append(path.name)
        single = [pid for pid, names in names_by_pid.items() if len(names) < 2]
        if single or not names_by_pid:
            raise ValueError(
                f"{self.DATASET_TITLE}: {folder} has identities with fewer than 2 images ({single[:10]}) or none; "
                "expected at least two images per identity"
            )
        splits = protocol_splits(
            self.config,
            root,
            "ilids",
            lambda rng: _draw_splits(names_by_pid, rng),
        )
        split = choose_split(splits, self.config.split_id, "ilids")
        train_pids = set(split["train"])
        return {
            "train": [self._record(folder, n) for pid in sorted(train_pids) for n in names_by_pid[pid]],
            "query": [self._record(folder, n) for n in split["query"]],
            "gallery": [self._record(folder, n) for n in split["gallery"]],
        }
