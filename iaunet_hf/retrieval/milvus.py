"""The Milvus gallery, through ``pymilvus``: a cluster by URI (``http://host:19530``), or ``milvus-lite`` (the
embedded engine behind the same client) for a local ``.db`` file.

One collection (``gallery`` unless named) with the schema's columns as scalar fields and ``key`` as primary key.
Search asks the index for ``k * refine_factor`` candidates with their vectors and re-scores them exactly here:
Milvus' own refine option is not available in every deployment (milvus-lite has none), and doing it in one
place gives the same exact top-k order on any server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from .filters import Node, milvus_expression
from .gallery import Gallery, refine_exactly, schema_row
from .schema import COLUMNS, VECTOR_COLUMN

DEFAULT_COLLECTION = "gallery"
MAX_TEXT = 2048
DEFAULT_SEARCH = {"nprobe": 32, "ef": 128, "refine_factor": 10}
INDEX_TYPES = {"flat": "FLAT", "ivf_pq": "IVF_PQ", "hnsw": "HNSW"}
# milvus-lite accepts IVF_PQ at creation but cannot load it (HNSW, HNSW_SQ, IVF_FLAT, IVF_SQ8 only): there the
# IVF family's quantised index is IVF_SQ8
LITE_INDEX_TYPES = {**INDEX_TYPES, "ivf_pq": "IVF_SQ8"}


class MilvusGallery(Gallery):
    """A Milvus collection; ``uri`` is a server address or a milvus-lite file, the token from ``MILVUS_TOKEN``."""

    def __init__(
        self, uri: str, dim: int | None = None, collection: str = DEFAULT_COLLECTION, token: str | None = None
    ):
        from pymilvus import MilvusClient  # optional dependency: the [gallery] extra

        super().__init__(dim)
        self.uri, self.collection = uri, collection
        self._client = MilvusClient(uri=uri, token=token or os.environ.get("MILVUS_TOKEN", ""))
        self._exists = self._client.has_collection(collection)
        if self._exists:
            fields = self._client.describe_collection(collection)["fields"]
            stored = next(field["params"]["dim"] for field in fields if field["name"] == VECTOR_COLUMN)
            if dim is not None and dim != int(stored):
                raise ValueError(
                    f"{uri}: the collection {collection!r} holds {stored}-d embeddings, expected dim {dim}"
                )
            self.dim = int(stored)
            self._client.load_collection(collection)

    def _create(self) -> None:
        from pymilvus import DataType, MilvusClient

        types = {"int": DataType.INT64, "float": DataType.DOUBLE, "text": DataType.VARCHAR}
        schema = MilvusClient.create_schema(auto_id=False)
        for name, (kind, _) in COLUMNS.items():
            text = {"max_length": MAX_TEXT} if kind == "text" else {}
            schema.add_field(name, types[kind], is_primary=name == "key", **text)
        schema.add_field(VECTOR_COLUMN, DataType.FLOAT_VECTOR, dim=self.dim)
        self._client.create_collection(
            self.collection,
            schema=schema,
            index_params=self._index_params("flat", {}),
            consistency_level="Strong",
        )
        self._exists = True

    def _index_params(self, kind: str, params: dict[str, Any]) -> Any:
        index_type = (LITE_INDEX_TYPES if self.uri.endswith(".db") else INDEX_TYPES)[kind]
        if index_type == "IVF_SQ8":
            params = {name: value for name, value in params.items() if name != "m"}
        index_params = self._client.prepare_index_params()
        index_params.add_index(VECTOR_COLUMN, index_type=index_type, metric_type="COSINE", params=params)
        return index_params

    def _size(self) -> int:
        return self._count(None) if self._exists else 0

    def _append(self, vectors: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        if not self._exists:
            self._create()
        rows = [
            {
                name: values[i].item() if kind != "text" else values[i]
                for name, (kind, _) in COLUMNS.items()
                for values in [columns[name]]
            }
            for i in range(len(vectors))
        ]
        for row, vector in zip(rows, vectors):
            row[VECTOR_COLUMN] = vector
        for start in range(0, len(rows), 2000):  # under the server's message size limit at 2048-d
            self._client.insert(self.collection, rows[start : start + 2000])

    def _existing_keys(self, keys: list[str]) -> set[str]:
        found = self._client.get(self.collection, ids=keys, output_fields=["key"])
        return {record["key"] for record in found}

    def _search(self, vectors, k, node, params):
        settings = {**DEFAULT_SEARCH, **params}
        refine = int(settings.pop("refine_factor"))
        limit = min(k * max(refine, 1), 16_384)  # 16384: the largest top-k Milvus serves
        found = self._client.search(
            self.collection,
            data=list(vectors),
            limit=limit,
            filter=milvus_expression(node),
            output_fields=[*COLUMNS, VECTOR_COLUMN],
            search_params={"metric_type": "COSINE", "params": settings},
        )
        candidates = [
            [
                (np.asarray(hit["entity"][VECTOR_COLUMN], np.float32), schema_row(hit["entity"]))
                for hit in hits
            ]
            for hits in found
        ]
        return refine_exactly(vectors, candidates, k)

    def _delete(self, node: Node) -> None:
        self._client.delete(self.collection, filter=milvus_expression(node))

    def _count(self, node: Node | None) -> int:
        if not self._exists:
            return 0
        result = self._client.query(
            self.collection, filter=milvus_expression(node), output_fields=["count(*)"]
        )
        return int(result[0]["count(*)"])

    def _keys(self, node: Node | None) -> Iterator[str]:
        for batch in self._batches(10_000, node, fields=["key"]):
            yield from batch["key"].tolist()

    def _create_index(self, kind: str, params: dict[str, Any]) -> None:
        settings = dict(params)
        if kind == "ivf_pq":
            settings.setdefault("nlist", max(1, int(np.sqrt(self._size()))))
            settings.setdefault("m", max(1, self.dim // 8))
        elif kind == "hnsw":
            settings.setdefault("M", 16)
            settings.setdefault("efConstruction", 200)
        self._client.release_collection(self.collection)
        self._client.drop_index(self.collection, VECTOR_COLUMN)
        index_params = self._index_params(kind, settings)
        try:
            self._client.create_index(self.collection, index_params)
        except Exception as error:  # pymilvus' MilvusException; the client is an optional dependency
            # a build longer than the server's keepalive window (1M rows in milvus-lite: minutes) gets its
            # connection dropped; pymilvus then retries the call, which finds the index it started building
            if "already exists" not in str(error) or self._index_type() != index_params[0].index_type:
                raise
        self._client.load_collection(self.collection)

    def _index_type(self) -> str:
        return self._client.describe_index(self.collection, VECTOR_COLUMN)["index_type"]

    def _batches(
        self, batch_size: int, node: Node | None, fields: list[str] | None = None
    ) -> Iterator[dict[str, np.ndarray]]:
        if not self._exists:
            return
        names = fields or [*COLUMNS, VECTOR_COLUMN]
        iterator = self._client.query_iterator(
            self.collection,
            batch_size=min(batch_size, 16_384),
            filter=milvus_expression(node),
            output_fields=names,
        )
        while records := iterator.next():
            yield {name: _column(name, [record[name] for record in records]) for name in names}
        iterator.close()

    def close(self) -> None:
        if self._exists:
            self._client.flush(self.collection)
        self._client.close()


def _column(name: str, values: list[Any]) -> np.ndarray:
    if name == VECTOR_COLUMN:
        return np.asarray(values, dtype=np.float32)
    return np.array(values, dtype=object if COLUMNS[name][0] == "text" else None)
