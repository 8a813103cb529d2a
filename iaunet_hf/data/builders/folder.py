"""``folder``: the documented way to bring your own reID set, as a Market-style tree or as CSV files.

Either a Market-style tree (``data_dir`` holds the split folders)::

    my_reid_set/
        train/     0001_c1_anything.jpg ...   (or bounding_box_train/)
        query/
        gallery/                               (or bounding_box_test/)

with the pid and 1-based camera parsed by ``name_pattern`` (default ``([-\\d]+)_c(\\d)``), or CSV files::

    my_reid_set/
        train.csv  query.csv  gallery.csv      header ``path,pid,camid``; path relative to data_dir,
        images/...                             camid 0-based as written; pid -1 rows are junk (dropped)
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import datasets

from ..records import ImageRecord
from ..reid_builder import REID_SPLITS, ReIDConfig, ReIDImageBuilder
from .market_style import MARKET_NAME_PATTERN, parse_market_style_folder

_SPLIT_FOLDER_NAMES = {
    "train": ("train", "bounding_box_train"),
    "query": ("query",),
    "gallery": ("gallery", "bounding_box_test"),
}
CSV_COLUMNS = ("path", "pid", "camid")


@dataclasses.dataclass
class FolderConfig(ReIDConfig):
    """Options of a custom set: ``name_pattern`` (regex, groups pid and 1-based camera) for the tree form."""

    name_pattern: str = MARKET_NAME_PATTERN


class Folder(ReIDImageBuilder):
    """A user's own reID set: Market-style folders or ``{train,query,gallery}.csv`` files."""

    BUILDER_CONFIG_CLASS = FolderConfig
    BUILDER_CONFIGS = [FolderConfig(name="default", version=datasets.Version("1.0.0"))]
    DATASET_TITLE = "folder"

    def _read_csv(self, root: Path, csv_path: Path) -> list[ImageRecord]:
        records = []
        with csv_path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or not set(CSV_COLUMNS) <= set(reader.fieldnames):
                raise ValueError(
                    f"{self.DATASET_TITLE}: {csv_path} has columns {reader.fieldnames}; expected a header "
                    f"with {list(CSV_COLUMNS)}"
                )
            for line_number, row in enumerate(reader, start=2):
                try:
                    pid, camid = int(row["pid"]), int(row["camid"])
                except (TypeError, ValueError) as error:
                    raise ValueError(
                        f"{self.DATASET_TITLE}: {csv_path} line {line_number} has pid={row['pid']!r} "
                        f"camid={row['camid']!r}; expected integers"
                    ) from error
                path = (root / row["path"]).resolve()
                if not path.is_file():
                    raise FileNotFoundError(
                        f"{self.DATASET_TITLE}: {csv_path} line {line_number} names {row['path']!r}, which does "
                        f"not exist under {root}"
                    )
                if camid < 0:
                    raise ValueError(
                        f"{self.DATASET_TITLE}: {csv_path} line {line_number} has camid {camid}; expected >= 0"
                    )
                records.append(ImageRecord(path=path, pid=pid, camid=camid))
        return records

    def _collect(self, root: Path) -> dict[str, list]:
        if (root / "train.csv").is_file():
            missing = [f"{split}.csv" for split in REID_SPLITS if not (root / f"{split}.csv").is_file()]
            if missing:
                raise FileNotFoundError(
                    f"{self.DATASET_TITLE}: {root} has train.csv but is missing {missing}"
                )
            return {split: self._read_csv(root, root / f"{split}.csv") for split in REID_SPLITS}
        records = {}
        for split, names in _SPLIT_FOLDER_NAMES.items():
            folder = next((root / name for name in names if (root / name).is_dir()), None)
            if folder is None:
                raise FileNotFoundError(
                    f"{self.DATASET_TITLE}: {root} has no {split} split; expected a folder named one of "
                    f"{list(names)} or the files {[f'{s}.csv' for s in REID_SPLITS]}"
                )
            records[split] = parse_market_style_folder(
                folder, dataset_title=self.DATASET_TITLE, num_cameras=None, pattern=self.config.name_pattern
            )
        return records
