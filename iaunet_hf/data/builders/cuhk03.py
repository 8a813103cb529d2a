"""CUHK03 builder: labeled or detected images, new protocol (767/700) or the classic 20 splits.

Layout (``data_dir`` is this folder or its parent)::

    cuhk03/
        cuhk03_release/cuhk-03.mat                     HDF5 (MATLAB v7.3): labeled, detected, testsets
        cuhk03_new_protocol_config_labeled.mat         new protocol (Zhong et al., CVPR 2017)
        cuhk03_new_protocol_config_detected.mat
        images_labeled/1_001_1_01.png ...              extracted from cuhk-03.mat on first use
        images_detected/...                            (or already there: the .mat is then optional)

Images are named ``<camera pair 1-5>_<person 3 digits>_<view 1|2>_<image 2 digits>.png`` (images
1-5 are view 1, 6-10 view 2; empty cells are skipped), as torchreid extracts them. ``camid`` is the
view within the camera pair (0/1), as torchreid assigns it. Options (torchreid's names):
``cuhk03_labeled`` (default False: detected boxes), ``cuhk03_classic_split`` (default False: the
new protocol) and ``split_id`` (classic: 0..19).

New protocol: train/query/gallery are the protocol file's ``train_idx`` / ``query_idx`` /
``gallery_idx`` rows of ``filelist`` (1-based), pids its ``labels``: 767 train and 700 test
identities, the same splits as torchreid's. Classic: ``testsets[split_id]`` lists 100 (pair,
person) test identities; the other 1,367 train; query and gallery are both all test images (the
evaluation's same-view rule then removes each query's own view). Classic pids number the persons
1..1467 in pair order, the numbering the new protocol's labels use.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from ..image_files import path_inside
from ..records import ImageRecord
from ..reid_builder import ReIDConfig, ReIDImageBuilder
from ..splits import choose_split

RAW_MAT = "cuhk03_release/cuhk-03.mat"


@dataclasses.dataclass
class Cuhk03Config(ReIDConfig):
    """CUHK03 options (torchreid's names): ``cuhk03_labeled``, ``cuhk03_classic_split``, ``split_id``."""

    cuhk03_labeled: bool = False
    cuhk03_classic_split: bool = False
    split_id: int = 0


def _camid(name: str) -> int:
    return int(name.split("_")[2]) - 1


class Cuhk03(ReIDImageBuilder, config=Cuhk03Config):
    """CUHK03 (Li et al., CVPR 2014): 1,467 identities, 5 camera pairs, labeled and detected boxes."""

    DATASET_TITLE = "CUHK03"
    ROOT_MARKERS = (RAW_MAT,)

    @property
    def image_type(self) -> str:
        return "labeled" if self.config.cuhk03_labeled else "detected"

    def _is_root(self, folder: Path) -> bool:
        config = folder / f"cuhk03_new_protocol_config_{self.image_type}.mat"
        return (folder / RAW_MAT).is_file() or (
            config.is_file() and (folder / f"images_{self.image_type}").is_dir()
        )

    def _open_raw(self, root: Path):
        path = root / RAW_MAT
        if not path.is_file():
            raise FileNotFoundError(
                f"{self.DATASET_TITLE}: {path} is missing; expected the released HDF5 .mat (needed to extract "
                f"images_{self.image_type}/ and for the classic splits)"
            )
        import h5py  # a declared dependency, imported here so only CUHK03 users pay for it

        return h5py.File(path, "r")

    def _images_folder(self, root: Path) -> Path:
        """``images_<type>/``, extracted from cuhk-03.mat (atomically: a folder appears complete or not)."""
        folder = root / f"images_{self.image_type}"
        if folder.is_dir():
            return folder
        try:
            staging = Path(tempfile.mkdtemp(dir=root, prefix=f".images_{self.image_type}."))
        except OSError as error:
            raise OSError(
                f"{self.DATASET_TITLE}: cannot extract images_{self.image_type}/ from {RAW_MAT} into {root} ({error}); "
                "expected a writable dataset folder the first time (or the extracted folder already there)"
            ) from error
        try:
            with self._open_raw(root) as mat:
                for pair, pair_ref in enumerate(mat[self.image_type][0]):
                    cells = mat[pair_ref][:].T  # (persons, 10) references
                    for person in range(cells.shape[0]):
                        for index, ref in enumerate(cells[person]):
                            image = mat[ref][:].T
                            if image.size == 0 or image.ndim < 3:
                                continue  # empty cell: this person has fewer images in that view
                            view = 1 if index < 5 else 2
                            name = f"{pair + 1}_{person + 1:03d}_{view}_{index + 1:02d}.png"
                            Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(staging / name)
            os.replace(staging, folder)
        finally:
            if staging.exists():
                shutil.rmtree(staging)
        return folder

    def _new_protocol(self, root: Path, folder: Path) -> dict[str, list]:
        path = root / f"cuhk03_new_protocol_config_{self.image_type}.mat"
        if not path.is_file():
            raise FileNotFoundError(f"{self.DATASET_TITLE}: new-protocol file {path} is missing")
        config = scipy.io.loadmat(str(path))
        missing = [
            k for k in ("filelist", "labels", "train_idx", "query_idx", "gallery_idx") if k not in config
        ]
        if missing:
            raise ValueError(
                f"{self.DATASET_TITLE}: {path} lacks {missing}; expected the new-protocol variables"
            )
        names = [str(np.asarray(entry).ravel()[0]) for entry in config["filelist"].ravel()]
        labels = config["labels"].ravel().astype(int)

        def rows(key: str) -> list[ImageRecord]:
            indices = config[key].ravel().astype(int) - 1
            if indices.min(initial=0) < 0 or indices.max(initial=0) >= len(names):
                raise ValueError(f"{self.DATASET_TITLE}: {path} {key} points outside its {len(names)} files")
            where = f"{self.DATASET_TITLE}: {path} {key}"
            return [
                ImageRecord(path_inside(folder, names[i], where=where), int(labels[i]), _camid(names[i]))
                for i in indices
            ]

        return {"train": rows("train_idx"), "query": rows("query_idx"), "gallery": rows("gallery_idx")}

    def _classic(self, root: Path, folder: Path) -> dict[str, list]:
        with self._open_raw(root) as mat:
            persons_per_pair = [mat[ref].shape[1] for ref in mat[self.image_type][0]]
            test_sets = [mat[ref][:].T for ref in mat["testsets"][0]]
        test = {
            (int(pair), int(person))
            for pair, person in choose_split(test_sets, self.config.split_id, "cuhk03")
        }
        offsets = np.concatenate([[0], np.cumsum(persons_per_pair)])
        train, test_records = [], []
        for path in sorted(folder.glob("*.png")):
            pair, person = (int(v) for v in path.name.split("_")[:2])
            record = ImageRecord(path, int(offsets[pair - 1] + person), _camid(path.name))
            (test_records if (pair, person) in test else train).append(record)
        return {"train": train, "query": test_records, "gallery": list(test_records)}

    def _collect(self, root: Path) -> dict[str, list]:
        folder = self._images_folder(root)
        return (
            self._classic(root, folder)
            if self.config.cuhk03_classic_split
            else self._new_protocol(root, folder)
        )
