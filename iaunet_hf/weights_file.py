"""Strict checks of a weights file, shared by the timm and transformers faces: a file loads exactly or not at all.

transformers logs missing/unexpected/mismatched keys and initialises the rest at random, and timm's filter path
would do the same for a backbone-only file; either way a checkpoint that does not match its config would give a
randomly initialised model and a plausible-looking mAP. Both faces call these checks instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

WEIGHTS_NAME = "model.safetensors"
_HEADER_LIMIT = 100_000_000  # the safetensors format caps its JSON header at 100 MB


def check_safetensors_file(path: str | Path) -> None:
    """Raise a ValueError naming ``path`` when it is empty, truncated or not a safetensors file.

    Reads only the 8-byte length and the JSON header, then compares the data size the header describes with the
    file size, so it costs nothing next to loading the tensors.
    """
    path = Path(path)
    size = path.stat().st_size
    expected = f"expected the intact {WEIGHTS_NAME} written by save_pretrained (re-save or re-download it)"
    if size < 8:
        raise ValueError(f"{path} is {size} bytes: empty or truncated, not a safetensors file; {expected}")
    with path.open("rb") as handle:
        header_size = int.from_bytes(handle.read(8), "little")
        if header_size > min(size - 8, _HEADER_LIMIT):
            raise ValueError(
                f"{path} ({size} bytes) is truncated or not a safetensors file: its header claims {header_size} "
                f"bytes; {expected}"
            )
        try:
            header = json.loads(handle.read(header_size))
            data_size = max(
                (int(entry["data_offsets"][1]) for name, entry in header.items() if name != "__metadata__"),
                default=0,
            )
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
            raise ValueError(
                f"{path} ({size} bytes) is not a safetensors file (unreadable header: {error}); {expected}"
            ) from None
    if 8 + header_size + data_size > size:
        raise ValueError(
            f"{path} is truncated: {size} bytes, but its header describes {8 + header_size + data_size}; {expected}"
        )


class CheckpointMismatchError(ValueError, RuntimeError):
    """A checkpoint that does not match its model: a ValueError (the package's error for bad input) and a
    RuntimeError (what transformers' ``from_pretrained`` raises for a size mismatch), so callers of either catch it."""


def _preview(names: list[str], limit: int = 8) -> str:
    return ", ".join(names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def raise_on_mismatch(
    source: str,
    missing: Iterable[str] = (),
    unexpected: Iterable[str] = (),
    mismatched: Iterable[tuple[str, tuple[int, ...], tuple[int, ...]]] = (),
) -> None:
    """Raise a ValueError naming the checkpoint and the keys when anything does not match; else return."""
    missing, unexpected = sorted(missing), sorted(unexpected)
    mismatched = sorted((name, tuple(a), tuple(b)) for name, a, b in mismatched)
    if not (missing or unexpected or mismatched):
        return
    parts = []
    if missing:
        parts.append(f"missing from the checkpoint: {_preview(missing)}")
    if unexpected:
        parts.append(f"unexpected in the checkpoint: {_preview(unexpected)}")
    if mismatched:
        shapes = [f"{name} (checkpoint {list(a)}, model {list(b)})" for name, a, b in mismatched]
        parts.append(f"shape differs: {_preview(shapes)}")
    raise CheckpointMismatchError(
        f"checkpoint {source} does not match the model its config describes; "
        + "; ".join(parts)
        + ". Expected "
        "the weights saved together with this config (a config/weights mix-up or a different depth/iau_stages)"
    )


def compare_state_dicts(
    source: str, found: Mapping[str, tuple[int, ...]], expected: Mapping[str, tuple[int, ...]]
) -> None:
    """Compare name -> shape maps of a checkpoint and a model; raise ``raise_on_mismatch``'s error on a difference."""
    raise_on_mismatch(
        source,
        missing=set(expected) - set(found),
        unexpected=set(found) - set(expected),
        mismatched=[
            (k, found[k], expected[k]) for k in set(found) & set(expected) if found[k] != expected[k]
        ],
    )


def checkpoint_source(pretrained_cfg: Mapping | None) -> str:
    """The file or Hub location timm loads a pretrained cfg's weights from, for error messages."""
    pretrained_cfg = pretrained_cfg or {}
    location = pretrained_cfg.get("file")
    if location:
        path = Path(location)
        return str(path / WEIGHTS_NAME) if path.is_dir() else str(path)
    hub_id = pretrained_cfg.get("hf_hub_id")
    if hub_id:
        return f"hf-hub:{hub_id}/{pretrained_cfg.get('hf_hub_filename') or WEIGHTS_NAME}"
    return str(pretrained_cfg.get("url") or "(unknown source)")
