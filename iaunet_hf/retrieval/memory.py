"""The in-memory gallery: exact cosine search (chunked torch, or FAISS when installed) over growable arrays.

Rows live in arrays whose capacity doubles when full, so a stream of adds costs amortised O(1) per row (the old
``GalleryIndex`` concatenated the whole tensor on every add: O(N^2)). ``memory://FOLDER`` keeps the gallery in
FOLDER between sessions: vectors as safetensors, metadata as a Parquet table of native columns, written to a new
version folder and then published by an atomic rename of ``gallery.json``, so a reader never sees half a gallery.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from safetensors.numpy import load_file, save_file

from ..atomic_write import write_json_atomic
from ..evaluation.exact_search import GrowableRows, check_finite, exact_top_k
from .filters import Node, numpy_mask
from .gallery import Gallery
from .schema import COLUMNS, NUMPY_TYPES, rows_of

HEADER_FILE = "gallery.json"
FORMAT_VERSION = 1


class MemoryGallery(Gallery):
    """Exact search in RAM; ``folder`` (``memory://FOLDER``) loads it from and saves it to disk on ``close``."""

    def __init__(self, dim: int | None = None, folder: str | Path | None = None):
        super().__init__(dim)
        self.folder = None if folder is None else Path(folder)
        self.uri = f"memory://{self.folder or ''}"
        self._rows: GrowableRows | None = None
        self._positions: dict[str, int] = {}
        self._dirty = False
        if self.folder is not None and (self.folder / HEADER_FILE).is_file():
            self._load()

    def _table(self) -> GrowableRows:
        if self._rows is None:
            self._rows = GrowableRows(
                self.dim, {name: NUMPY_TYPES[kind] for name, (kind, _) in COLUMNS.items()}
            )
        return self._rows

    def _size(self) -> int:
        return 0 if self._rows is None else self._rows.size

    def _append(self, vectors: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        table = self._table()
        self._positions.update((key, table.size + i) for i, key in enumerate(columns["key"]))
        table.append(vectors, columns)
        self._dirty = True

    def _existing_keys(self, keys: list[str]) -> set[str]:
        return {key for key in keys if key in self._positions}

    def _mask(self, node: Node | None) -> np.ndarray | None:
        return None if node is None else numpy_mask(node, self._rows.columns, self._rows.size)

    def _search(self, vectors, k, node, params):
        table = self._rows
        similarities, positions = exact_top_k(vectors, table.vectors[: table.size], k, self._mask(node))
        return [
            list(zip(row_scores.tolist(), rows_of(table.columns, row)))
            for row_scores, row in zip(similarities, positions.tolist())
        ]

    def _delete(self, node: Node) -> None:
        self._rows.keep(~self._mask(node))
        self._positions = {key: i for i, key in enumerate(self._rows.columns["key"][: self._rows.size])}
        self._dirty = True

    def _count(self, node: Node | None) -> int:
        if not self._size():
            return 0
        return self._rows.size if node is None else int(self._mask(node).sum())

    def _keys(self, node: Node | None) -> Iterator[str]:
        if self._size():
            mask = self._mask(node)
            keys = self._rows.columns["key"][: self._rows.size]
            yield from (keys if mask is None else keys[mask])

    def _create_index(self, kind: str, params: dict[str, Any]) -> None:
        """Nothing to build: the memory gallery is always searched exactly (``kind`` is accepted for uniformity)."""

    def _batches(self, batch_size: int, node: Node | None) -> Iterator[dict[str, np.ndarray]]:
        if not self._size():
            return
        mask = self._mask(node)
        kept = np.arange(self._rows.size) if mask is None else np.flatnonzero(mask)
        for start in range(0, len(kept), batch_size):
            part = kept[start : start + batch_size]
            yield {"vector": self._rows.vectors[part], **{n: v[part] for n, v in self._rows.columns.items()}}

    # -- persistence ------------------------------------------------------------------------------
    def close(self) -> None:
        if self.folder is not None and self._dirty:
            self.save()

    def save(self) -> Path:
        """Write a new version folder, publish it through ``gallery.json``, keep the previous one for readers."""
        if self.folder is None:
            raise ValueError("save: this memory gallery has no folder; open it as memory://FOLDER")
        header_path = self.folder / HEADER_FILE
        previous = _read_header(header_path)["version"] if header_path.is_file() else 0
        version = self.folder / f"v{previous + 1}"
        version.mkdir(parents=True, exist_ok=True)
        size = self._size()
        vectors = self._rows.vectors[:size] if size else np.zeros((0, self.dim or 0), np.float32)
        save_file({"vectors": np.ascontiguousarray(vectors)}, str(version / "vectors.safetensors"))
        columns = {} if not size else {name: values[:size] for name, values in self._rows.columns.items()}
        pq.write_table(
            pa.table({name: pa.array(columns.get(name, [])) for name in COLUMNS}),
            version / "metadata.parquet",
        )
        write_json_atomic(
            header_path, {"format_version": FORMAT_VERSION, "dim": self.dim, "version": previous + 1}
        )
        shutil.rmtree(self.folder / f"v{previous - 1}", ignore_errors=True)
        self._dirty = False
        return self.folder

    def _load(self) -> None:
        header = _read_header(self.folder / HEADER_FILE)
        version = self.folder / f"v{header['version']}"
        vectors = load_file(str(version / "vectors.safetensors"))["vectors"]
        table = pq.read_table(version / "metadata.parquet")
        if vectors.ndim != 2 or vectors.shape[0] != table.num_rows:
            raise ValueError(
                f"{version}: expected {table.num_rows} vectors, found an array of shape {vectors.shape}"
            )
        check_finite(vectors, str(version / "vectors.safetensors"))
        if self.dim is not None and self.dim != header["dim"]:
            raise ValueError(
                f"{self.uri}: the gallery holds {header['dim']}-d embeddings, expected dim {self.dim}"
            )
        self.dim = header["dim"]
        if len(vectors):
            columns = {name: table.column(name).to_numpy(zero_copy_only=False) for name in COLUMNS}
            self._append(vectors.astype(np.float32), columns)
        self._dirty = False


def _read_header(path: Path) -> dict[str, Any]:
    header = json.loads(path.read_text())
    if header.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path}: expected format_version {FORMAT_VERSION}, found {header.get('format_version')!r}"
        )
    return header
