"""Galleries to search: a split of any dataset the package loads (an image folder is the ``folder`` set),
embedded once through the engine and kept in memory.

``Gallery`` is the seam the Search view depends on: anything with ``labelled``, ``search`` and ``image``
(for example a gallery built by the package's retrieval tools) can stand in for ``EmbeddedSplit``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import datasets
import torch
from PIL import Image
from tqdm.auto import tqdm

from ..data import load_reid_dataset
from ..evaluation.visualization import ranked_gallery
from .engine import ReidEngine

EMBED_BATCH = 32


@dataclass(frozen=True)
class Match:
    """One ranked gallery item: its index, cosine similarity, identity and camera (None: unknown), file name."""

    index: int
    score: float
    pid: int | None
    camid: int | None
    name: str


class Gallery(Protocol):
    """What the Search view needs of a gallery."""

    labelled: bool

    def search(
        self, query: torch.Tensor, k: int, same_view: tuple[int, int] | None = None
    ) -> list[Match]: ...

    def image(self, index: int) -> Image.Image: ...


@dataclass(frozen=True)
class DatasetSource:
    """A split of a dataset loaded by ``load_reid_dataset`` (``name="folder"``: your own image folder)."""

    name: str
    data_dir: Path
    split: str = "gallery"
    cache_dir: Path | None = None

    def load(self) -> datasets.Dataset:
        """The split; an image folder without split folders is a train-only set, so ``train`` stands in."""
        dataset_dict = load_reid_dataset(self.name, self.data_dir, cache_dir=self.cache_dir)
        split = self.split if self.split in dataset_dict else None
        if split is None and self.name == "folder" and list(dataset_dict) == ["train"]:
            split = "train"
        if split is None:
            raise ValueError(
                f"{self.name} at {self.data_dir}: no split {self.split!r}; expected one of {sorted(dataset_dict)}"
            )
        dataset = dataset_dict[split]
        if "image" not in dataset.column_names:
            raise ValueError(
                f"{self.name} {split}: the app searches image sets; found {dataset.column_names}"
            )
        return dataset


def embed_split(engine: ReidEngine, split: datasets.Dataset, description: str) -> torch.Tensor:
    """(N, D) unit embeddings of a split's images, batch by batch with a tqdm bar (the UI mirrors it)."""
    chunks = []
    for start in tqdm(range(0, len(split), EMBED_BATCH), desc=description, unit="batch"):
        images = split[start : start + EMBED_BATCH]["image"]
        chunks.append(engine.embed_images(images, EMBED_BATCH))
    return torch.cat(chunks)


class EmbeddedSplit:
    """A dataset split and its embeddings: exhaustive cosine search in memory."""

    def __init__(self, split: datasets.Dataset, embeddings: torch.Tensor) -> None:
        self.split = split
        self.embeddings = embeddings
        self.pids = split.with_format(None)["pid"] if "pid" in split.column_names else None
        camids = split.with_format(None)["camid"] if "camid" in split.column_names else None
        self.camids = camids if camids is not None else [-1] * len(split)
        paths = split.with_format(None)["path"] if "path" in split.column_names else None
        self.names = [Path(path).name for path in paths] if paths else [str(i) for i in range(len(split))]
        # pid -1 marks junk and pid 0 distractors in the reID layouts: still identities the app can show
        self.labelled = self.pids is not None

    def __len__(self) -> int:
        return len(self.split)

    def search(self, query: torch.Tensor, k: int, same_view: tuple[int, int] | None = None) -> list[Match]:
        """The ``k`` most similar items to one unit embedding (D,), best first.

        ``same_view=(pid, camid)`` of a labelled query leaves out that identity's images from the same camera,
        as the reID protocol (and ``iaunet-eval``) does.
        """
        scores = self.embeddings @ query.flatten()
        if same_view is not None and self.labelled:
            order, _ = ranked_gallery(1 - scores, *same_view, self.pids, self.camids, k)
            top_indices = torch.tensor(order, dtype=torch.long)
        else:
            top_indices = torch.topk(scores, min(k, len(scores))).indices
        return [
            Match(
                index=int(index),
                score=float(score),
                pid=int(self.pids[index]) if self.pids is not None else None,
                camid=int(self.camids[index]) if self.camids is not None else None,
                name=self.names[index],
            )
            for score, index in zip(scores[top_indices].tolist(), top_indices.tolist())
        ]

    def image(self, index: int) -> Image.Image:
        return self.split[int(index)]["image"]


class GalleryCache:
    """Embeds each source once per engine; concurrent first requests wait for the one embedding."""

    def __init__(self, engine: ReidEngine) -> None:
        self.engine = engine
        self._galleries: dict[DatasetSource, EmbeddedSplit] = {}
        self._lock = threading.Lock()

    def get(self, source: DatasetSource) -> EmbeddedSplit:
        with self._lock:
            if source not in self._galleries:
                split = source.load()
                description = f"embedding {source.name} {source.split} ({len(split)} images)"
                self._galleries[source] = EmbeddedSplit(split, embed_split(self.engine, split, description))
            return self._galleries[source]
