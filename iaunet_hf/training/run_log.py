"""A dependency-free record of a run: one JSON object per line, plus a CSV of the same rows.

accelerate's trackers (TensorBoard, ...) are optional installs; this log is always written so every run can be
inspected and plotted with nothing but the standard library.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any


class RunLog:
    """Appends ``{"kind": ..., "epoch": ..., "step": ..., **values}`` rows to ``log.jsonl`` and ``log.csv``.

    The CSV header is the union of all keys seen so far; when a new key appears the CSV is rewritten from the
    JSONL so columns always line up.
    """

    def __init__(self, folder: str | Path, enabled: bool = True) -> None:
        self.folder = Path(folder)
        self.enabled = enabled
        self.jsonl_path = self.folder / "log.jsonl"
        self.csv_path = self.folder / "log.csv"
        self._columns: list[str] = []
        if enabled:
            self.folder.mkdir(parents=True, exist_ok=True)
            for row in self.rows():
                self._add_columns(row)

    def rows(self) -> list[dict[str, Any]]:
        if not self.jsonl_path.is_file():
            return []
        return [json.loads(line) for line in self.jsonl_path.read_text(encoding="utf-8").splitlines() if line]

    def _add_columns(self, row: dict[str, Any]) -> bool:
        new = [key for key in row if key not in self._columns]
        self._columns.extend(new)
        return bool(new)

    def write(self, kind: str, epoch: int, step: int, values: dict[str, Any]) -> None:
        if not self.enabled:
            return
        row = {"kind": kind, "epoch": epoch, "step": step}
        for key, value in values.items():
            value = (
                float(value) if hasattr(value, "__float__") and not isinstance(value, (int, str)) else value
            )
            row[key] = None if isinstance(value, float) and not math.isfinite(value) else value
        with self.jsonl_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        if self._add_columns(row) or not self.csv_path.is_file():
            with self.csv_path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=self._columns)
                writer.writeheader()
                writer.writerows(self.rows())
        else:
            with self.csv_path.open("a", newline="", encoding="utf-8") as handle:
                csv.DictWriter(handle, fieldnames=self._columns).writerow(row)
