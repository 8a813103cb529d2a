"""Occluded-DukeMTMC builder: DukeMTMC-reID re-split so that every query is occluded.

Two layouts (``data_dir`` is this folder or its parent)::

    Occluded_Duke/                         converted (the release's convert_duke_to_occduke.py output)
        bounding_box_train/  query/  bounding_box_test/     Duke names: 0001_c2_f0046182.jpg

    Occluded_Duke/                         list form: the release's name lists + the original set
        train.list  query.list  gallery.list                one image name per line
        DukeMTMC-reID/bounding_box_train/ query/ bounding_box_test/   (a folder or a symlinked folder)

In the list form each name is looked up, as the release's conversion does, in the original
folder of its split and otherwise in ``bounding_box_test/`` (occluded gallery images moved to the
query). Names parse as DukeMTMC-reID's (``([-\\d]+)_c(\\d)``, camera 1..8 stored 0-based).
Statistics: 702 train identities (15,618 images), 519 query identities (2,210 images), 1,110
gallery identities (17,661 images).
"""

from __future__ import annotations

from pathlib import Path

from ..image_files import path_inside
from .market_style import MARKET_SPLIT_FOLDERS, MarketStyleBuilder, parse_market_style_name

FOLDERS = MARKET_SPLIT_FOLDERS
NUM_CAMERAS = 8


class OccludedDuke(MarketStyleBuilder):
    """Occluded-DukeMTMC (Miao et al., ICCV 2019): 1,404 identities, 8 cameras, occluded queries."""

    DATASET_TITLE = "Occluded-DukeMTMC"
    NUM_CAMERAS = NUM_CAMERAS

    def _is_root(self, folder: Path) -> bool:
        lists = all((folder / f"{split}.list").is_file() for split in FOLDERS)
        return lists or super()._is_root(folder)

    def _from_list(self, root: Path, split: str) -> list:
        list_file, duke = root / f"{split}.list", root / "DukeMTMC-reID"
        if not duke.is_dir():
            raise FileNotFoundError(
                f"{self.DATASET_TITLE}: {root} has the name lists but no DukeMTMC-reID/ folder; expected the "
                "original DukeMTMC-reID set (or a symlink to it) there"
            )
        records = []
        for line_number, name in enumerate(list_file.read_text().splitlines(), start=1):
            if not name.strip():
                continue
            where = f"{self.DATASET_TITLE}: {list_file} line {line_number}"
            path = path_inside(duke, Path(FOLDERS[split]) / name.strip(), where=where)
            if not path.is_file():
                path = path_inside(duke, Path("bounding_box_test") / name.strip(), where=where)
            if not path.is_file():
                raise FileNotFoundError(
                    f"{where} names {name.strip()!r}, found neither in {duke / FOLDERS[split]} nor in "
                    f"{duke / 'bounding_box_test'}"
                )
            records.append(
                parse_market_style_name(path, dataset_title=self.DATASET_TITLE, num_cameras=NUM_CAMERAS)
            )
        return records

    def _collect(self, root: Path) -> dict[str, list]:
        if all((root / f"{split}.list").is_file() for split in FOLDERS):
            return {split: self._from_list(root, split) for split in FOLDERS}
        return super()._collect(root)
