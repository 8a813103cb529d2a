"""The ``Gallery`` interface every backend (memory, LanceDB, Milvus) implements, and what a search returns.

The base class owns everything that must not differ between backends: checking and normalising vectors and
metadata, streaming adds in batches, skipping keys already present, parsing filters (one language, see
``filters``) and grouping queries that share a filter. A backend only stores rows and answers one filtered,
batched top-k search.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .filters import Node, parse_where
from .schema import COLUMNS, Metadata, metadata_columns, unit_vectors

INDEX_KINDS = ("flat", "ivf_pq", "hnsw")


@dataclass
class SearchHits:
    """Top-k rows per query, best first; a query with fewer than k matching rows is padded."""

    similarities: np.ndarray  # (Q, k) float32 cosine similarity, descending; -inf past the last match
    keys: np.ndarray  # (Q, k) object; "" past the last match
    metadata: list[list[dict[str, Any]]]  # per query, the schema columns of each match (length <= k)

    @property
    def distances(self) -> np.ndarray:
        """Cosine distances (1 - similarity), ascending."""
        return 1 - self.similarities


def pack_hits(rows: list[list[tuple[float, dict[str, Any]]]], k: int) -> SearchHits:
    """SearchHits from, per query, (similarity, row) pairs already sorted best first."""
    similarities = np.full((len(rows), k), -np.inf, dtype=np.float32)
    keys = np.full((len(rows), k), "", dtype=object)
    for query, matches in enumerate(rows):
        for rank, (similarity, row) in enumerate(matches[:k]):
            similarities[query, rank], keys[query, rank] = similarity, row["key"]
    return SearchHits(similarities, keys, [[row for _, row in matches[:k]] for matches in rows])


class Gallery(abc.ABC):
    """L2-normalised float32 embeddings with one metadata schema, searched by cosine similarity."""

    uri: str = ""

    def __init__(self, dim: int | None = None):
        if dim is not None and dim < 1:
            raise ValueError(f"dim: expected a positive embedding dimension, found {dim}")
        self.dim = dim

    # -- the public operations -------------------------------------------------------------------
    def add(self, embeddings: Any, metadata: Metadata = None, batch_size: int = 10_000) -> int:
        """Append rows (embeddings normalised), streamed in batches; rows whose key is present are skipped.

        Returns the number of rows added. Nothing is written when any row is invalid.
        """
        vectors = unit_vectors(embeddings, self.dim, "embeddings")
        columns = metadata_columns(metadata, len(vectors))
        if self.dim is None:
            self.dim = vectors.shape[1]
        added = 0
        for start in range(0, len(vectors), batch_size):
            part = slice(start, start + batch_size)
            batch = {name: values[part] for name, values in columns.items()}
            present = self._existing_keys(batch["key"].tolist()) if self._size() else set()
            keep = np.array([key not in present for key in batch["key"]], dtype=bool)
            if keep.any():
                self._append(vectors[part][keep], {name: values[keep] for name, values in batch.items()})
                added += int(keep.sum())
        return added

    def search(
        self, queries: Any, k: int = 10, where: str | Sequence[str | None] | None = None, **params: Any
    ) -> SearchHits:
        """The ``k`` most similar rows per query among the rows ``where`` keeps (one filter, or one per query).

        ``params`` tune an ANN index: ``nprobes``, ``ef`` and ``refine_factor`` (candidates re-scored exactly).
        """
        if not self._size():
            raise ValueError(f"{self.uri}: the gallery is empty; add embeddings before searching")
        vectors = unit_vectors(queries, self.dim, "queries")
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k: expected a positive integer, found {k!r}")
        filters = [where] * len(vectors) if where is None or isinstance(where, str) else list(where)
        if len(filters) != len(vectors):
            raise ValueError(f"where: expected one filter per query ({len(vectors)}), found {len(filters)}")
        groups: dict[str | None, list[int]] = {}
        for position, text in enumerate(filters):
            groups.setdefault(text, []).append(position)
        rows: list[list[tuple[float, dict[str, Any]]]] = [[] for _ in vectors]
        for text, positions in groups.items():
            for position, matches in zip(
                positions, self._search(vectors[positions], k, parse_where(text), params)
            ):
                rows[position] = matches
        return pack_hits(rows, k)

    def delete(self, where: str) -> int:
        """Delete the rows ``where`` keeps (a filter is required); returns how many were deleted."""
        node = parse_where(where)
        if node is None:
            raise ValueError("where: expected a filter naming the rows to delete, found none")
        before = self.count()
        self._delete(node)
        return before - self.count()

    def count(self, where: str | None = None) -> int:
        """Number of rows, or of the rows ``where`` keeps."""
        return self._count(parse_where(where))

    def keys(self, where: str | None = None) -> set[str]:
        """The keys of the rows ``where`` keeps (the resumable embed's record of what is done)."""
        return set(self._keys(parse_where(where)))

    def create_index(self, kind: str = "ivf_pq", **params: Any) -> None:
        """Build an ANN index (``ivf_pq`` or ``hnsw``; ``flat`` is exact search) with backend parameters."""
        if kind not in INDEX_KINDS:
            raise ValueError(f"kind: expected one of {INDEX_KINDS}, found {kind!r}")
        if not self._size():
            raise ValueError(f"{self.uri}: the gallery is empty; add embeddings before building an index")
        self._create_index(kind, params)

    def batches(self, batch_size: int = 10_000, where: str | None = None) -> Iterator[dict[str, np.ndarray]]:
        """Every row the filter keeps as column batches: the schema columns and ``vector`` (B, dim)."""
        yield from self._batches(batch_size, parse_where(where))

    def close(self) -> None:  # noqa: B027  (most backends have nothing to release)
        """Release connections; persist what a backend holds in memory."""

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self._size()

    # -- what a backend implements --------------------------------------------------------------
    @abc.abstractmethod
    def _size(self) -> int: ...

    @abc.abstractmethod
    def _append(self, vectors: np.ndarray, columns: dict[str, np.ndarray]) -> None: ...

    @abc.abstractmethod
    def _existing_keys(self, keys: list[str]) -> set[str]: ...

    @abc.abstractmethod
    def _search(
        self, vectors: np.ndarray, k: int, node: Node | None, params: dict[str, Any]
    ) -> list[list[tuple[float, dict[str, Any]]]]: ...

    @abc.abstractmethod
    def _delete(self, node: Node) -> None: ...

    @abc.abstractmethod
    def _count(self, node: Node | None) -> int: ...

    @abc.abstractmethod
    def _keys(self, node: Node | None) -> Iterator[str]: ...

    @abc.abstractmethod
    def _create_index(self, kind: str, params: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    def _batches(self, batch_size: int, node: Node | None) -> Iterator[dict[str, np.ndarray]]: ...


def refine_exactly(
    queries: np.ndarray, candidates: list[list[tuple[np.ndarray, dict[str, Any]]]], k: int
) -> list[list[tuple[float, dict[str, Any]]]]:
    """Re-score ANN candidates (vector, row) by exact cosine and keep the best k, so their order is exact."""
    results = []
    for query, rows in zip(queries, candidates):
        if not rows:
            results.append([])
            continue
        scores = np.stack([vector for vector, _ in rows]).astype(np.float32) @ query
        order = np.argsort(-scores, kind="stable")[:k]
        results.append([(float(scores[i]), rows[i][1]) for i in order])
    return results


def schema_row(record: dict[str, Any]) -> dict[str, Any]:
    """The schema columns of a backend's record, as plain Python values."""
    return {name: record[name] for name in COLUMNS}
