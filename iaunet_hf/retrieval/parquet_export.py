"""A gallery's rows as a Hugging Face ``datasets`` Parquet shard set (``data/train-0000N-of-0000M.parquet``),
readable with ``datasets.load_dataset("parquet", data_dir=...)`` or pushed to the Hub as a dataset."""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
from datasets.table import InMemoryTable

from .gallery import Gallery
from .lance import arrow_table
from .schema import COLUMNS, VECTOR_COLUMN


def write_parquet_shards(
    gallery: Gallery, folder: Path, where: str | None = None, rows_per_shard: int = 100_000
) -> list[Path]:
    """Write the rows ``where`` keeps, sorted by key, as Parquet shards of ``rows_per_shard`` rows."""
    batches = list(gallery.batches(rows_per_shard, where))
    keys = np.concatenate([batch["key"] for batch in batches]) if batches else np.array([], dtype=object)
    order = np.argsort(keys.astype(str), kind="stable")
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    for stale in data.glob("train-*.parquet"):  # a rerun rewrites the whole set
        stale.unlink()
    total = max(1, -(-len(order) // rows_per_shard))
    written = []
    for shard in range(total):
        rows = order[shard * rows_per_shard : (shard + 1) * rows_per_shard]
        table = _rows(batches, rows, gallery.dim)
        path = data / f"train-{shard:05d}-of-{total:05d}.parquet"
        datasets.Dataset(InMemoryTable(table)).to_parquet(str(path))
        written.append(path)
    return written


def _rows(batches: list[dict[str, np.ndarray]], rows: np.ndarray, dim: int) -> pa.Table:
    if not batches:
        return arrow_table(np.zeros((0, dim), np.float32), {name: np.array([]) for name in COLUMNS})
    merged = {
        name: np.concatenate([batch[name] for batch in batches])[rows] for name in [*COLUMNS, VECTOR_COLUMN]
    }
    return arrow_table(merged.pop(VECTOR_COLUMN), merged)
