"""Files written through a temporary file in the same folder and a rename, so a reader (or a crash) never sees
half a file: the one atomic write every layer uses (data splits, model folders, training state)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (parent folders made); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | Path, content: object, indent: int = 1) -> Path:
    """Write ``content`` as JSON to ``path`` atomically; return the path."""
    return write_text_atomic(path, json.dumps(content, indent=indent))
