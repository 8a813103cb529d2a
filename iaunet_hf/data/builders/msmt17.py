"""MSMT17 builder (V1 and V2 layouts, driven by the official list files).

Layout (``data_dir`` is this folder or its parent)::

    MSMT17_V1/                          MSMT17_V2/
        train/0000/0000_000_01_0303morning_0015_0.jpg    mask_train_v2/...
        test/0000/0000_000_01_0303morning_0016_0.jpg     mask_test_v2/...
        list_train.txt  list_val.txt  list_query.txt  list_gallery.txt

Each list line is ``<relative path> <pid>``; train/val paths are relative to the train folder,
query/gallery ones to the test folder. The camera is the file name's third ``_`` field (1..15,
stored 0-based). ``combine_train_val=True`` trains on list_train + list_val (the common "all" setting).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..image_files import path_inside
from ..records import ImageRecord
from ..reid_builder import ReIDConfig, ReIDImageBuilder

_IMAGE_FOLDERS = {"V1": ("train", "test"), "V2": ("mask_train_v2", "mask_test_v2")}


@dataclasses.dataclass
class Msmt17Config(ReIDConfig):
    """MSMT17 options: ``combine_train_val`` adds list_val.txt to the train split."""

    combine_train_val: bool = False


class Msmt17(ReIDImageBuilder, config=Msmt17Config):
    """MSMT17 (Wei et al., CVPR 2018): 4,101 identities, 15 cameras."""

    DATASET_TITLE = "MSMT17"
    ROOT_MARKERS = ("list_train.txt", "list_query.txt", "list_gallery.txt")
    NUM_CAMERAS = 15

    def _image_folders(self, root: Path) -> tuple[Path, Path]:
        for train_name, test_name in _IMAGE_FOLDERS.values():
            if (root / train_name).is_dir() and (root / test_name).is_dir():
                return root / train_name, root / test_name
        raise FileNotFoundError(
            f"{self.DATASET_TITLE}: {root} has no image folders; expected 'train/' and 'test/' (V1) or "
            "'mask_train_v2/' and 'mask_test_v2/' (V2)"
        )

    def _read_list(self, list_file: Path, image_folder: Path) -> list[ImageRecord]:
        if not list_file.is_file():
            raise FileNotFoundError(f"{self.DATASET_TITLE}: list file {list_file} is missing")
        records = []
        for line_number, line in enumerate(list_file.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            fields = line.split()
            if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
                raise ValueError(
                    f"{self.DATASET_TITLE}: {list_file} line {line_number} is {line!r}; expected "
                    "'<relative image path> <pid>'"
                )
            path = path_inside(
                image_folder, fields[0], where=f"{self.DATASET_TITLE}: {list_file} line {line_number}"
            )
            name_fields = path.name.split("_")
            if len(name_fields) < 3 or not name_fields[2].isdigit():
                raise ValueError(
                    f"{self.DATASET_TITLE}: cannot parse the camera from file name {path} ({list_file} line "
                    f"{line_number}); expected '<pid>_<index>_<camera>_...' such as '0000_000_01_0303morning_0015_0.jpg'"
                )
            camera = int(name_fields[2])
            if not 1 <= camera <= self.NUM_CAMERAS:
                raise ValueError(
                    f"{self.DATASET_TITLE}: file {path} has camera {camera}; expected 1..{self.NUM_CAMERAS}"
                )
            if not path.is_file():
                raise FileNotFoundError(
                    f"{self.DATASET_TITLE}: {list_file} line {line_number} names {path}, which does not exist"
                )
            records.append(ImageRecord(path=path, pid=int(fields[1]), camid=camera - 1))
        return records

    def _collect(self, root: Path) -> dict[str, list]:
        train_folder, test_folder = self._image_folders(root)
        train = self._read_list(root / "list_train.txt", train_folder)
        if self.config.combine_train_val:
            train += self._read_list(root / "list_val.txt", train_folder)
        return {
            "train": train,
            "query": self._read_list(root / "list_query.txt", test_folder),
            "gallery": self._read_list(root / "list_gallery.txt", test_folder),
        }
