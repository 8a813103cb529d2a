"""CIFAR-100 builder, from the official python pickles (the paper's generic-classification check).

Layout (``data_dir`` is this folder or its parent)::

    cifar-100-python/
        train   test   meta        (python pickles as distributed)

Rows: ``image`` (32x32 RGB), ``fine_label`` and ``coarse_label`` as ``ClassLabel`` with the names
from ``meta``. The pickles are read through a restricted unpickler that admits only builtin
containers, bytes/str/numbers and numpy arrays, so a crafted archive cannot run code.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import datasets
import numpy as np

from ..reid_builder import ReIDBuilderBase
from ..safe_pickle import load_data_pickle


class Cifar100(ReIDBuilderBase):
    """CIFAR-100 (Krizhevsky, 2009): 50,000 train / 10,000 test images, 100 fine / 20 coarse classes."""

    DATASET_TITLE = "CIFAR-100"
    ROOT_MARKERS = ("train", "test", "meta")
    SPLITS = ("train", "test")

    def _load_pickle(self, path: Path) -> dict:
        if not path.is_file():
            raise FileNotFoundError(f"{self.DATASET_TITLE}: pickle {path} is missing")
        try:
            content = load_data_pickle(path, encoding="bytes")
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
            raise ValueError(
                f"{self.DATASET_TITLE}: {path} is not a readable CIFAR pickle: {error}"
            ) from error
        if not isinstance(content, dict):
            raise ValueError(f"{self.DATASET_TITLE}: {path} holds {type(content).__name__}, expected a dict")
        return content

    def _field(self, content: dict, key: str, path: Path):
        if key.encode() in content:
            return content[key.encode()]
        if key in content:
            return content[key]
        raise ValueError(
            f"{self.DATASET_TITLE}: {path} has no {key!r} entry; found {sorted(map(str, content))}"
        )

    def _info(self) -> datasets.DatasetInfo:
        root = self.locate_root()
        meta = self._load_pickle(root / "meta")

        def names(key: str) -> list[str]:
            return [
                n.decode() if isinstance(n, bytes) else str(n) for n in self._field(meta, key, root / "meta")
            ]

        features = datasets.Features(
            {
                "image": datasets.Image(),
                "fine_label": datasets.ClassLabel(names=names("fine_label_names")),
                "coarse_label": datasets.ClassLabel(names=names("coarse_label_names")),
            }
        )
        return datasets.DatasetInfo(description=self.__doc__, features=features)

    def _split_generators(self, dl_manager) -> list[datasets.SplitGenerator]:
        # Pickles are read and checked here, not in _generate_examples, so bad files raise our own
        # error rather than datasets' generic DatasetGenerationError.
        root = self.locate_root()
        return [
            datasets.SplitGenerator(name=split, gen_kwargs=self._read_split(root / split))
            for split in self.SPLITS
        ]

    def _read_split(self, path: Path) -> dict:
        content = self._load_pickle(path)
        data = np.asarray(self._field(content, "data", path), dtype=np.uint8)
        fine = [int(v) for v in self._field(content, "fine_labels", path)]
        coarse = [int(v) for v in self._field(content, "coarse_labels", path)]
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or not len(data) == len(fine) == len(coarse):
            raise ValueError(
                f"{self.DATASET_TITLE}: {path} holds data {data.shape} with {len(fine)} fine and {len(coarse)} "
                "coarse labels; expected (N, 3072) uint8 rows and N labels of each kind"
            )
        images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # (N, 3072) -> (N, 32, 32, 3)
        return {"images": images, "fine": fine, "coarse": coarse}

    def _generate_examples(
        self, images: np.ndarray, fine: list[int], coarse: list[int]
    ) -> Iterator[tuple[int, dict]]:
        for index, (image, fine_label, coarse_label) in enumerate(zip(images, fine, coarse)):
            yield index, {"image": image, "fine_label": fine_label, "coarse_label": coarse_label}
