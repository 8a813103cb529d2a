"""What the app serves: the settings it was started with, the loaded model, the dataset's query picks, the
embedded galleries and the chosen threshold, each made once and shared by every request."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import datasets

from .compare import ThresholdChoice, threshold_from_split
from .engine import ReidEngine
from .gallery import DatasetSource, Gallery, GalleryCache


def default_synthetic_dir() -> Path:
    """Where the synthetic set is generated when no --data-dir is given (beside the datasets cache)."""
    return Path(datasets.config.HF_DATASETS_CACHE).parent / "iaunet_app" / "synthetic"


@dataclass(frozen=True)
class AppSettings:
    """Command-line settings (``iaunet-app --help``)."""

    model: str
    dataset: str = "synthetic"
    data_dir: Path = field(default_factory=default_synthetic_dir)
    gallery_split: str = "gallery"
    query_split: str = "query"
    validation_split: str = "train"
    cache_dir: Path | None = None
    device: str | None = None
    top_k: int = 10

    def source(self, split: str) -> DatasetSource:
        return DatasetSource(self.dataset, Path(self.data_dir), split, self.cache_dir)


class AppContext:
    """The model is loaded and the query split read at start; galleries and the threshold on first use."""

    def __init__(self, settings: AppSettings) -> None:
        self.settings = settings
        self.engine = ReidEngine.load(settings.model, settings.device)
        self.galleries = GalleryCache(self.engine)
        self.queries = self._optional_split(settings.query_split)
        self._threshold: ThresholdChoice | None = None
        self._threshold_lock = threading.Lock()

    def _optional_split(self, split: str) -> datasets.Dataset | None:
        """A labelled split to pick images from, or None when the dataset has no such split."""
        try:
            return self.settings.source(split).load()
        except ValueError:
            return None

    def gallery(self) -> Gallery:
        """The gallery to search: the seam where a gallery of the retrieval tools would be returned instead."""
        return self.galleries.get(self.settings.source(self.settings.gallery_split))

    def query_choices(self) -> list[str]:
        """Dropdown labels of the query split's images (index first, so a label maps back to its row)."""
        if self.queries is None:
            return []
        rows = self.queries.with_format(None).select_columns(["pid", "camid"])
        return [f"{index}: id {row['pid']} cam {row['camid'] + 1}" for index, row in enumerate(rows)]

    def threshold(self) -> ThresholdChoice:
        """The same-person threshold chosen on the validation split (once)."""
        with self._threshold_lock:
            if self._threshold is None:
                source = self.settings.source(self.settings.validation_split)
                split = source.load()
                name = f"the {source.name} {source.split} split"
                self._threshold = threshold_from_split(self.engine, split, name)
            return self._threshold
