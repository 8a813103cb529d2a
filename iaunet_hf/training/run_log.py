"""The record of a run: a dependency-free log (JSON lines + CSV), TensorBoard when installed, and the loss meter.

accelerate's trackers (TensorBoard, ...) are optional installs; the JSON/CSV log is always written so every run
can be inspected and plotted with nothing but the standard library. ``LossMeter`` keeps the running sums of the
losses on the device, so the host waits for them once per logging interval, not once per step.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import torch


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


def tensorboard_available() -> bool:
    return any(importlib.util.find_spec(name) is not None for name in ("tensorboard", "tensorboardX"))


def flat_hparams(config_dict: dict[str, Any]) -> dict[str, Any]:
    """A nested config as flat scalar hyper-parameters, as TensorBoard's hparams plugin needs."""
    flat = {}
    for section, values in config_dict.items():
        items = values.items() if isinstance(values, dict) else [(None, values)]
        for key, value in items:
            name = section if key is None else f"{section}.{key}"
            flat[name] = value if isinstance(value, (int, float, str, bool)) else str(value)
    return flat


class LossMeter:
    """Sums of named loss tensors kept on their device; ``mean`` synchronises (and averages across processes)."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0

    def add(self, values: dict[str, torch.Tensor]) -> None:
        for name, value in values.items():
            value = value.detach().float()
            self.sums[name] = self.sums[name] + value if name in self.sums else value.clone()
        self.count += 1

    def mean(self, accelerator: Any) -> dict[str, float]:
        """The mean of every loss over the added steps (and all processes): one device-to-host copy."""
        if not self.count:
            return {}
        names = list(self.sums)
        stacked = torch.stack([self.sums[name] for name in names]) / self.count
        stacked = accelerator.reduce(stacked, reduction="mean") if accelerator.num_processes > 1 else stacked
        return dict(zip(names, stacked.tolist(), strict=True))

    def reset(self) -> None:
        self.sums, self.count = {}, 0
