"""``folder``: the documented way to bring your own reID set, as a Market-style tree, a flat folder of crops,
an identity-per-folder tree or CSV files.

A Market-style tree (``data_dir`` holds the split folders)::

    my_reid_set/
        train/     0001_c1_anything.jpg ...   (or bounding_box_train/)
        query/
        gallery/                               (or bounding_box_test/)

with the pid and 1-based camera parsed by ``name_pattern`` (default ``([-\\d]+)_c(\\d)``; one group
= pid only, camera unknown). The train folder alone (``train/`` or ``bounding_box_train/``, no query or
gallery folder) is a train-only set; train with query but no gallery (or the reverse) is an error naming
the missing split. A flat folder of crops named that way, with no split folders, is a train-only set too::

    my_crops/0002_c1s1_000451_03.jpg  my_crops/0002_c2s1_000301_01.jpg  my_crops/0007_c1_x.jpg ...

An identity-per-folder tree (torchvision ``ImageFolder`` style), with or without split folders (without:
a train-only set)::

    my_reid_set/0001/a.jpg  my_reid_set/0002/...          or  my_reid_set/{train,query,gallery}/<pid>/<image>

pids are the folder names when they are all integers, otherwise the folders' index in sorted name
order over all splits; the camera is unknown (camid -1). Or CSV files::

    my_reid_set/
        train.csv  query.csv  gallery.csv      header ``path,pid[,camid]``; path relative to data_dir,
        images/...                             camid 0-based (-1 or no column: unknown); pid -1 = junk

``query.csv`` / ``gallery.csv`` may both be absent (a train-only set). A train-only set is evaluated on
identities held out of it: ``split_identities``, or ``iaunet-train --data.missing_eval_splits split``, whose
``eval_split.json`` ``iaunet-eval`` reads back (see docs/data.md and docs/evaluation.md).
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

from ..image_files import path_inside
from ..records import ImageRecord
from ..reid_builder import REID_SPLITS, UNKNOWN_CAMID, ReIDConfig, ReIDImageBuilder
from .market_style import MARKET_EXAMPLE, MARKET_NAME_PATTERN, list_images, parse_market_style_folder

_SPLIT_FOLDER_NAMES = {
    "train": ("train", "bounding_box_train"),
    "query": ("query",),
    "gallery": ("gallery", "bounding_box_test"),
}
_ALTERNATIVES = {split: " or ".join(repr(n) for n in names) for split, names in _SPLIT_FOLDER_NAMES.items()}
CSV_COLUMNS = ("path", "pid")


@dataclasses.dataclass
class FolderConfig(ReIDConfig):
    """Options of a custom set: ``name_pattern`` (regex: groups pid and 1-based camera, or pid only)."""

    name_pattern: str = MARKET_NAME_PATTERN


class Folder(ReIDImageBuilder, config=FolderConfig):
    """A user's own reID set: Market-style folders, identity folders or ``{train,query,gallery}.csv`` files."""

    DATASET_TITLE = "folder"

    def _read_csv(self, root: Path, csv_path: Path) -> list[ImageRecord]:
        records = []
        with csv_path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or not set(CSV_COLUMNS) <= set(reader.fieldnames):
                raise ValueError(
                    f"{self.DATASET_TITLE}: {csv_path} has columns {reader.fieldnames}; expected a header "
                    "with ['path', 'pid'] and optionally 'camid'"
                )
            for line_number, row in enumerate(reader, start=2):
                where = f"{self.DATASET_TITLE}: {csv_path} line {line_number}"
                camid_text = row.get("camid")
                try:
                    pid = int(row["pid"])
                    camid = UNKNOWN_CAMID if camid_text in (None, "") else int(camid_text)
                except (TypeError, ValueError) as error:
                    raise ValueError(
                        f"{where} has pid={row['pid']!r} camid={camid_text!r}; expected integers"
                    ) from error
                path = path_inside(root, row["path"] or "", where=where)
                if not path.is_file():
                    raise FileNotFoundError(
                        f"{where} names {row['path']!r}, which does not exist under {root}"
                    )
                if camid < UNKNOWN_CAMID:
                    raise ValueError(f"{where} has camid {camid}; expected >= 0, or -1 for unknown")
                records.append(ImageRecord(path=path, pid=pid, camid=camid))
        return records

    def _identity_folders(self, root: Path, split_folders: dict[str, Path]) -> dict[str, list]:
        """Records of ``<split>/<identity>/<image>`` trees; camera unknown."""
        people = {
            split: sorted(p for p in folder.iterdir() if p.is_dir())
            for split, folder in split_folders.items()
        }
        names = sorted({p.name for folders in people.values() for p in folders})
        numeric = all(name.lstrip("-").isdigit() for name in names)
        pid_of = {name: int(name) if numeric else index for index, name in enumerate(names)}
        return {
            split: [
                ImageRecord(path=image, pid=pid_of[person.name], camid=UNKNOWN_CAMID)
                for person in folders
                for image in list_images(person)
            ]
            for split, folders in people.items()
        }

    def _collect(self, root: Path) -> dict[str, list]:
        if (root / "train.csv").is_file():
            present = [split for split in REID_SPLITS if (root / f"{split}.csv").is_file()]
            if present not in (["train"], list(REID_SPLITS)):
                raise FileNotFoundError(
                    f"{self.DATASET_TITLE}: {root} has {[f'{s}.csv' for s in present]}; expected train.csv alone "
                    "(a train-only set) or train.csv, query.csv and gallery.csv"
                )
            return {split: self._read_csv(root, root / f"{split}.csv") for split in present}
        split_folders = {}
        for split, names in _SPLIT_FOLDER_NAMES.items():
            folder = next((root / name for name in names if (root / name).is_dir()), None)
            if folder is not None:
                split_folders[split] = folder
        if not split_folders:
            return self._train_only_root(root)
        missing = [split for split in REID_SPLITS if split not in split_folders]
        if missing and list(split_folders) != ["train"]:  # train alone is a train-only set
            found = [folder.name for folder in split_folders.values()]
            raise FileNotFoundError(
                f"{self.DATASET_TITLE}: {root} has the split folders {found} but no {missing[0]} split (a folder "
                f"{_ALTERNATIVES[missing[0]]}); expected train, query and gallery folders (Market-style or one "
                "folder per identity), or the train folder alone (a train-only set)"
            )
        if not list_images(split_folders["train"]) and any(
            p.is_dir() for p in split_folders["train"].iterdir()
        ):
            return self._identity_folders(root, split_folders)
        return {split: self._market_named(folder) for split, folder in split_folders.items()}

    def _market_named(self, folder: Path) -> list[ImageRecord]:
        return parse_market_style_folder(
            folder, dataset_title=self.DATASET_TITLE, num_cameras=None, pattern=self.config.name_pattern
        )

    def _train_only_root(self, root: Path) -> dict[str, list]:
        """A root without split folders or CSV files: a flat folder of Market-named crops, or one folder per
        identity; either is a train-only set."""
        images = list_images(root)
        people = [p for p in sorted(root.iterdir()) if p.is_dir() and list_images(p)]
        if images and people:
            raise ValueError(
                f"{self.DATASET_TITLE}: {root} holds both images (e.g. {images[0].name}) and folders of images "
                f"(e.g. {people[0].name}/); expected one layout: a flat folder of crops named like "
                f"{MARKET_EXAMPLE!r} (pid and camera from name_pattern), or one folder per identity"
            )
        if images:
            return {"train": self._market_named(root)}  # <root>/<pid>_c<cam>_*.jpg: train only
        if people:
            return self._identity_folders(root, {"train": root})  # <root>/<pid>/<image>: train only
        raise FileNotFoundError(
            f"{self.DATASET_TITLE}: {root} has no images; expected split folders "
            f"{[names[0] for names in _SPLIT_FOLDER_NAMES.values()]} (Market-style or one folder per identity), "
            f"only a train folder, a flat folder of crops named like {MARKET_EXAMPLE!r}, identity folders "
            f"'<pid>/<image>', or the files {[f'{s}.csv' for s in REID_SPLITS]}"
        )
