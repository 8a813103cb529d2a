"""``GalleryIndex``: the first in-memory gallery, kept for its users as a thin wrapper over
``iaunet_hf.retrieval.memory`` (its growable rows and exact search). New code opens a ``Gallery``
(``iaunet_hf.retrieval.open_gallery``): the same exact search in memory, or LanceDB and Milvus with filters.

Search is exact cosine similarity (inner product of unit vectors). FAISS (``faiss-cpu`` or
``faiss-gpu``, the optional ``[faiss]`` extra) is used when installed; otherwise a chunked
``torch.topk`` gives the same neighbours. Non-finite embeddings are refused on ``add``, ``search``
and ``load`` (a NaN row would rank first for every query). Saved as ``gallery_index.safetensors`` (the
embeddings) plus ``gallery_index.json`` (dimension and metadata).
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from .exact_search import GrowableRows, check_finite, exact_top_k
from .metrics import ArrayLike, as_tensor

EMBEDDINGS_FILE = "gallery_index.safetensors"
METADATA_FILE = "gallery_index.json"
FORMAT_VERSION = 1


def faiss_available() -> bool:
    """Whether a FAISS build (CPU or GPU) can be imported."""
    return importlib.util.find_spec("faiss") is not None


@dataclass
class SearchResult:
    """Top-k neighbours per query: similarities and gallery indices (Q, k), and their metadata."""

    similarities: torch.Tensor  # (Q, k) cosine similarity, descending
    indices: torch.Tensor  # (Q, k) gallery positions
    metadata: list[list[dict[str, Any]]]

    @property
    def distances(self) -> torch.Tensor:
        """Cosine distances (1 - similarity), ascending."""
        return 1 - self.similarities


def _normalized(embeddings: ArrayLike, name: str) -> torch.Tensor:
    tensor = as_tensor(embeddings, name)
    if tensor.dim() == 1:
        tensor = tensor[None, :]
    if tensor.dim() != 2 or not tensor.is_floating_point():
        raise ValueError(
            f"{name}: expected a 2-D float (num_items, dim) array, found {tuple(tensor.shape)} {tensor.dtype}"
        )
    check_finite(tensor, name)
    return torch.nn.functional.normalize(tensor.detach().float().cpu(), dim=1)


class GalleryIndex:
    """Gallery embeddings (normalised on insertion) with metadata, answering top-k cosine queries.

    Args:
        dim: embedding dimension.
        use_faiss: ``None`` uses FAISS when installed, ``True`` requires it, ``False`` uses torch.
    """

    def __init__(self, dim: int, use_faiss: bool | None = None):
        if dim < 1:
            raise ValueError(f"dim: expected a positive embedding dimension, found {dim}")
        if use_faiss and not faiss_available():
            raise ValueError(
                "use_faiss: FAISS was requested but is not installed (install faiss-cpu or faiss-gpu)"
            )
        self.dim = dim
        self.use_faiss = faiss_available() if use_faiss is None else use_faiss
        self._rows = GrowableRows(dim, {})  # amortised O(1) adds: capacity doubles when full
        self.metadata: list[dict[str, Any]] = []
        self._faiss_index = None

    def __len__(self) -> int:
        return self._rows.size

    @property
    def embeddings(self) -> torch.Tensor:
        """The (N, dim) unit-length gallery embeddings (a view, not a copy)."""
        return torch.from_numpy(self._rows.vectors[: self._rows.size])

    def add(self, embeddings: ArrayLike, metadata: list[dict[str, Any]] | None = None) -> None:
        """Appends (N, dim) embeddings; ``metadata`` is one JSON-serialisable dict per embedding."""
        vectors = _normalized(embeddings, "embeddings")
        if vectors.shape[1] != self.dim:
            raise ValueError(f"embeddings: expected dimension {self.dim}, found {vectors.shape[1]}")
        metadata = [{} for _ in range(vectors.shape[0])] if metadata is None else list(metadata)
        if len(metadata) != vectors.shape[0]:
            raise ValueError(
                f"metadata: expected {vectors.shape[0]} entries (one per embedding), found {len(metadata)}"
            )
        self._rows.append(vectors.numpy(), {})
        self.metadata.extend(dict(item) for item in metadata)
        if self._faiss_index is not None:
            self._faiss_index.add(vectors.numpy())

    def _faiss(self):
        if self._faiss_index is None:
            import faiss  # optional dependency, imported only when used

            index = faiss.IndexFlatIP(self.dim)
            if hasattr(faiss, "index_cpu_to_all_gpus") and faiss.get_num_gpus() > 0:
                index = faiss.index_cpu_to_all_gpus(index)  # a faiss-gpu build with a visible GPU
            if len(self):
                index.add(self.embeddings.numpy())
            self._faiss_index = index
        return self._faiss_index

    def search(self, queries: ArrayLike, k: int = 10, chunk_size: int = 1024) -> SearchResult:
        """The ``k`` most similar gallery items for each query (queries are normalised first)."""
        vectors = _normalized(queries, "queries")
        if vectors.shape[1] != self.dim:
            raise ValueError(f"queries: expected dimension {self.dim}, found {vectors.shape[1]}")
        if not 1 <= k <= len(self):
            raise ValueError(f"k: expected 1 <= k <= {len(self)} (the gallery size), found {k}")
        if self.use_faiss:
            similarities, indices = self._faiss().search(vectors.numpy(), k)
            similarities, indices = torch.from_numpy(similarities), torch.from_numpy(indices).long()
        else:
            found = exact_top_k(vectors.numpy(), self._rows.vectors[: len(self)], k, chunk_size=chunk_size)
            similarities, indices = torch.from_numpy(found[0]), torch.from_numpy(found[1])
        metadata = [[self.metadata[i] for i in row] for row in indices.tolist()]
        return SearchResult(similarities, indices, metadata)

    def save(self, directory: str | Path) -> Path:
        """Writes the embeddings (safetensors) and metadata (JSON) into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file({"embeddings": self.embeddings.contiguous()}, str(directory / EMBEDDINGS_FILE))
        header = {
            "format_version": FORMAT_VERSION,
            "dim": self.dim,
            "metric": "cosine",
            "metadata": self.metadata,
        }
        (directory / METADATA_FILE).write_text(json.dumps(header, default=_json_default))
        return directory

    @classmethod
    def load(cls, directory: str | Path, use_faiss: bool | None = None) -> GalleryIndex:
        """Reads an index written by ``save``."""
        directory = Path(directory)
        for name in (EMBEDDINGS_FILE, METADATA_FILE):
            if not (directory / name).is_file():
                raise FileNotFoundError(
                    f"{directory / name}: expected a gallery index file written by GalleryIndex.save"
                )
        header = json.loads((directory / METADATA_FILE).read_text())
        if header.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{directory / METADATA_FILE}: expected format_version {FORMAT_VERSION}, found {header.get('format_version')!r}"
            )
        embeddings = load_file(str(directory / EMBEDDINGS_FILE)).get("embeddings")
        if embeddings is None or embeddings.dim() != 2 or embeddings.shape[1] != header["dim"]:
            found = None if embeddings is None else tuple(embeddings.shape)
            raise ValueError(
                f"{directory / EMBEDDINGS_FILE}: expected an 'embeddings' tensor (N, {header['dim']}), found {found}"
            )
        if len(header["metadata"]) != embeddings.shape[0]:
            raise ValueError(
                f"{directory / METADATA_FILE}: expected {embeddings.shape[0]} metadata entries, found {len(header['metadata'])}"
            )
        check_finite(embeddings, str(directory / EMBEDDINGS_FILE))
        index = cls(header["dim"], use_faiss=use_faiss)
        index._rows.append(embeddings.float().numpy(), {})
        index.metadata = header["metadata"]
        return index


def _json_default(value: Any) -> Any:
    # numpy/torch scalars in metadata (pids from a dataset) become plain numbers
    if isinstance(value, np.generic | torch.Tensor):
        return value.item()
    raise TypeError(f"metadata: expected JSON-serialisable values, found {type(value).__name__}")
