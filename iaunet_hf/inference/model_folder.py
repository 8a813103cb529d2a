"""The saved model folder: its file names, the checks on its weights, and reading and atomically writing its JSON.

A model folder (``save_pretrained`` plus the run's facts) is written by training, read by evaluation, export,
tracking and the Hub: this module is the one place that spells its file names, so they cannot drift apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open

from ..atomic_write import write_text_atomic
from ..weights_file import WEIGHTS_NAME, check_safetensors_file

WEIGHTS_FILE = WEIGHTS_NAME  # "model.safetensors", named where the strict checkpoint checks live
CONFIG_FILE = "config.json"
PREPROCESSOR_FILE = "preprocessor_config.json"
SUMMARY_FILE = "training_summary.json"
RESULTS_FILE = "eval_results.json"
EVAL_SPLIT_FILE = "eval_split.json"  # beside the model folder: the identities a train-only run held out
MODEL_FILES = (WEIGHTS_FILE, CONFIG_FILE, PREPROCESSOR_FILE)  # what a shareable folder must hold


def require_config(folder: str | Path) -> Path:
    """``folder`` as a Path; FileNotFoundError when it has no ``config.json`` (not a save_pretrained folder)."""
    folder = Path(folder)
    if not (folder / CONFIG_FILE).is_file():
        raise FileNotFoundError(
            f"model folder {folder} lacks {CONFIG_FILE}; expected a save_pretrained folder"
        )
    return folder


def check_safetensors(path: str | Path) -> dict[str, tuple[int, ...]]:
    """Open a safetensors file and read every tensor; return name -> shape. Corrupt or truncated -> ValueError."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist; expected a safetensors file")
    check_safetensors_file(path)  # names an empty or truncated file precisely, before any tensor is read
    shapes = {}
    try:
        with safe_open(str(path), framework="pt") as weights:
            for name in weights.keys():  # noqa: SIM118 - safe_open handles are not iterable
                shapes[name] = tuple(weights.get_tensor(name).shape)
    except (SafetensorError, OSError, RuntimeError, ValueError) as error:
        raise ValueError(
            f"weights file {path} ({path.stat().st_size} bytes) is not a readable safetensors file: {error}; "
            "expected an intact file written by save_pretrained (re-save or re-download it)"
        ) from error
    if not shapes:
        raise ValueError(f"weights file {path} holds no tensors; expected the model's state dict")
    return shapes


def read_training_summary(folder: str | Path) -> dict[str, Any] | None:
    """A model folder's ``training_summary.json`` (None when the folder has none)."""
    path = Path(folder) / SUMMARY_FILE
    if not path.is_file():
        return None
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"training summary {path} is not valid JSON: {error}") from None
    if not isinstance(summary, dict):
        raise ValueError(f"training summary {path}: expected a JSON object, got {type(summary).__name__}")
    return summary


def write_training_summary(folder: str | Path, summary: dict[str, Any]) -> Path:
    """Write ``training_summary.json`` atomically; return its path."""
    path = Path(folder) / SUMMARY_FILE
    write_text_atomic(path, json.dumps(summary, indent=2))
    return path
