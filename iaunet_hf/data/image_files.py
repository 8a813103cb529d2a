"""Image files on disk: where they may live, how they are checked, and how deep pixels become 8 bit.

Three rules shared by every builder:

* **containment**: a file named by a layout, a list or a CSV row must lie inside the dataset
  folder. A symlinked *folder* inside the layout (``images/`` on another disk) is an ordinary
  layout choice and is followed; a name with ``..``, an absolute name, or a symlinked *file* whose
  target lies outside both the dataset folder and the folder holding the link is refused, so no
  file elsewhere is opened or embedded because a name or a link points there.
* **checks**: ``header`` (default) opens each file and verifies its header and structure without
  decoding pixels (cheap: what a set of hundreds of thousands of images can afford); ``decode``
  decodes every image fully.
* **bit depth**: 16-bit and 32-bit images are scaled to 8 bit (``convert("RGB")`` alone saturates a
  16-bit PNG at 255); the embedded bytes are then an 8-bit PNG.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

VERIFY_MODES = ("header", "decode")
_JPEG_END_MARKER = b"\xff\xd9"
_JPEG_TAIL_BYTES = 4096  # encoders may pad after the end marker
#: PIL modes holding more than 8 bits per sample, and the largest value of each
_HIGH_BIT_DEPTH_MAX = {"I;16": 65535, "I;16L": 65535, "I;16B": 65535, "I;16N": 65535, "I": None, "F": None}


def path_inside(root: Path, name: str | Path, *, where: str) -> Path:
    """``root / name`` after checking that the name stays inside ``root`` (no ``..`` escape, not absolute).

    ``where`` names the source of the name (file and line) for the error message.
    """
    if Path(name).is_absolute():
        raise ValueError(f"{where}: path {str(name)!r} is absolute; expected a path relative to {root}")
    joined = Path(os.path.normpath(root / name))
    if joined != root and root not in joined.parents:
        raise ValueError(
            f"{where}: path {str(name)!r} escapes the data folder {root}; expected a path inside it"
        )
    return joined


def link_problem(root: Path, path: Path) -> str | None:
    """Why the symlinked file ``path`` may not be read (its target is outside the data folder), or None."""
    if not path.is_symlink():
        return None
    target = path.resolve()
    allowed = (root.resolve(), path.parent.resolve())
    if any(base == target or base in target.parents for base in allowed):
        return None
    return f"is a symlink to {target}, outside the data folder {root}; refusing to read it"


def image_problem(path: Path, mode: str = "header") -> str | None:
    """Why ``path`` is not a readable image (``header``: header/structure check, ``decode``: full decode).

    ``header`` parses the header and runs PIL's ``verify`` (PNG: every chunk CRC and the end chunk)
    and, for JPEG, which ``verify`` does not cover, looks for the end-of-image marker in the file's
    tail: a file cut short is caught without decoding a pixel.
    """
    try:
        with Image.open(path) as image:
            image_format = image.format
            if mode == "decode":
                image.load()
            else:
                image.verify()
        if mode != "decode" and image_format == "JPEG":
            with path.open("rb") as handle:
                handle.seek(max(0, path.stat().st_size - _JPEG_TAIL_BYTES))
                if _JPEG_END_MARKER not in handle.read():
                    return "OSError: JPEG file is truncated (no end-of-image marker)"
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        return f"{type(error).__name__}: {error}"
    return None


def is_high_bit_depth(image: Image.Image) -> bool:
    """True when the image has more than 8 bits per sample (PIL modes I;16*, I, F)."""
    return image.mode in _HIGH_BIT_DEPTH_MAX


def to_8bit(image: Image.Image) -> Image.Image:
    """An 8-bit ``L`` image scaled from a 16/32-bit one: full range maps to 0..255, not clipped at 255."""
    array = np.asarray(image, dtype=np.float64)
    peak = _HIGH_BIT_DEPTH_MAX[image.mode]
    if peak is None:  # 32-bit int or float: 16-bit data stored as "I" is the common case
        peak = 65535.0 if array.max(initial=0) > 255 else 255.0
        if image.mode == "F" and array.max(initial=0) <= 1.0:
            peak = 1.0
    scaled = np.clip(np.rint(array * (255.0 / peak)), 0, 255).astype(np.uint8)
    return Image.fromarray(scaled, mode="L")


def rgb_image(image: Image.Image) -> Image.Image:
    """RGB version of any PIL image, high-bit-depth ones scaled (not saturated) first."""
    if is_high_bit_depth(image):
        image = to_8bit(image)
    return image if image.mode == "RGB" else image.convert("RGB")


def embeddable_bytes(path: Path) -> bytes:
    """The file's bytes, or an 8-bit PNG re-encoding when the file holds a high-bit-depth image."""
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as image:
            if not is_high_bit_depth(image):
                return data
            converted = to_8bit(image)
    except (OSError, SyntaxError, ValueError):
        return data  # not an image PIL can open: left to the image check / the decoder to report
    buffer = io.BytesIO()
    converted.save(buffer, format="PNG")
    return buffer.getvalue()
