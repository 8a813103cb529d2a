"""Checks on what users upload: every refusal is an ``UploadError`` whose message names the file and what was
expected, which the UI shows in the browser instead of failing the request.

Images are checked from their header before any pixel is decoded (a huge or decompression-bomb image costs
nothing); videos are decoded frame by frame with a cap on frames and frame size; MOT detections must lie in
the frame.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

MAX_IMAGE_PIXELS = 4096 * 4096  # a person crop or a photo; a larger upload is refused, not resized
MAX_VIDEO_FRAMES = 300
MAX_FRAME_PIXELS = 1920 * 1080
GIF_SUFFIXES = (".gif",)


class UploadError(ValueError):
    """An upload the app refuses; the message is shown to the user as it is."""


def _name(path: str | Path) -> str:
    return Path(path).name


def open_image(path: str | Path | None, what: str = "image") -> Image.Image:
    """The uploaded file as an RGB image, or an ``UploadError`` (missing, not an image, too large, corrupt)."""
    if path is None:
        raise UploadError(f"{what}: no file; expected an image (JPEG, PNG, ...)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise UploadError(
                    f"{what} {_name(path)}: {width}x{height} pixels is too large; expected at most "
                    f"{MAX_IMAGE_PIXELS} pixels (e.g. 4096x4096)"
                )
            image.load()
    except UploadError:
        raise
    except UnidentifiedImageError as error:
        raise UploadError(f"{what} {_name(path)}: not an image file; expected JPEG, PNG, ...") from error
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise UploadError(f"{what} {_name(path)}: refused as too large to decode ({error})") from error
    except (OSError, SyntaxError, ValueError) as error:  # truncated or corrupt pixel data
        raise UploadError(f"{what} {_name(path)}: the image is corrupt ({error})") from error
    return image.convert("RGB")


@dataclass(frozen=True)
class Video:
    """RGB frames (T, H, W, 3) uint8 and the frame rate; the shape ``tracking.mot`` runs trackers on."""

    frames: np.ndarray
    frame_rate: int


def _check_frames(frames: list[np.ndarray], path: str | Path) -> np.ndarray:
    if not frames:
        raise UploadError(
            f"video {_name(path)}: no frame could be decoded; expected an MP4, AVI or GIF video"
        )
    if any(frame.shape != frames[0].shape for frame in frames):
        raise UploadError(f"video {_name(path)}: frames change size; expected one frame size")
    return np.stack(frames)


def _check_frame_size(width: int, height: int, path: Path) -> None:
    """Refuse large frames before decoding them (300 4K frames would be gigabytes)."""
    if width * height > MAX_FRAME_PIXELS:
        raise UploadError(
            f"video {path.name}: frames of {width}x{height} are too large; expected at most {MAX_FRAME_PIXELS} pixels"
        )


def _gif_frames(path: Path) -> tuple[list[np.ndarray], int]:
    try:
        image = Image.open(path)
    except (UnidentifiedImageError, OSError) as error:
        raise UploadError(f"video {path.name}: not a readable GIF ({error})") from error
    _check_frame_size(*image.size, path)
    # encoders merge repeated frames into one longer frame: repeat it so frame numbers match the detections'
    frame_ms = image.info.get("duration") or 100
    frames = []
    for frame in ImageSequence.Iterator(image):
        repeats = max(1, round((frame.info.get("duration") or frame_ms) / frame_ms))
        if len(frames) + repeats > MAX_VIDEO_FRAMES:
            raise UploadError(
                f"video {path.name}: more than {MAX_VIDEO_FRAMES} frames; expected a short clip"
            )
        frames.extend([np.asarray(frame.convert("RGB"))] * repeats)
    return frames, max(1, round(1000 / frame_ms))


def _cv2_frames(path: Path) -> tuple[list[np.ndarray], int]:
    import cv2  # opencv-python-headless: the tracking extra

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise UploadError(f"video {path.name}: cannot be opened as a video; expected an MP4, AVI or GIF file")
    frame_rate = int(round(capture.get(cv2.CAP_PROP_FPS) or 10)) or 10
    _check_frame_size(
        int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)), path
    )
    frames = []
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if len(frames) >= MAX_VIDEO_FRAMES:
                raise UploadError(
                    f"video {path.name}: more than {MAX_VIDEO_FRAMES} frames; expected a short clip"
                )
            frames.append(np.ascontiguousarray(frame[..., ::-1]))  # BGR -> RGB
    finally:
        capture.release()
    return frames, frame_rate


def read_video(path: str | Path | None) -> Video:
    """The uploaded video (MP4/AVI through OpenCV, GIF through Pillow), or an ``UploadError``."""
    if path is None:
        raise UploadError("video: no file; expected an MP4, AVI or GIF video")
    path = Path(path)
    frames, frame_rate = (_gif_frames if path.suffix.lower() in GIF_SUFFIXES else _cv2_frames)(path)
    return Video(_check_frames(frames, path), frame_rate)


def _mot_rows(path: Path, what: str) -> np.ndarray:
    rows = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values = [float(value) for value in line.replace(" ", "").split(",")]
        except ValueError:
            raise UploadError(
                f"{what} {path.name} line {number}: {line[:60]!r} is not numbers; expected MOT rows "
                "frame,id,left,top,width,height[,conf,...]"
            ) from None
        if len(values) < 6 or not np.isfinite(values[:7]).all():
            raise UploadError(
                f"{what} {path.name} line {number}: expected at least 6 finite values "
                f"frame,id,left,top,width,height, found {len(values)}"
            )
        rows.append(values[:7] + [1.0] * (7 - min(len(values), 7)))
    if not rows:
        raise UploadError(
            f"{what} {path.name}: no rows; expected MOT rows frame,id,left,top,width,height,..."
        )
    return np.array(rows, dtype=np.float64)


def read_mot_boxes(path: str | Path | None, video: Video, what: str = "detections") -> np.ndarray:
    """(N, 7) MOT rows frame, id, left, top, width, height, conf of a text file, checked against the video:
    frames 1..T and boxes of positive size that overlap the frame; else an ``UploadError`` naming the line."""
    if path is None:
        raise UploadError(f"{what}: no file; expected a MOT text file frame,id,left,top,width,height,conf")
    path = Path(path)
    rows = _mot_rows(path, what)
    num_frames, height, width = video.frames.shape[:3]
    frame, left, top, box_w, box_h = rows[:, 0], rows[:, 2], rows[:, 3], rows[:, 4], rows[:, 5]
    checks = [
        ((frame < 1) | (frame > num_frames) | (frame != np.round(frame)), f"frame numbers 1..{num_frames}"),
        ((box_w <= 0) | (box_h <= 0), "boxes of positive width and height"),
        (
            (left >= width) | (top >= height) | (left + box_w <= 0) | (top + box_h <= 0),
            f"boxes inside the {width}x{height} frame",
        ),
    ]
    for bad, expected in checks:
        if bad.any():
            line = int(np.flatnonzero(bad)[0]) + 1
            raise UploadError(
                f"{what} {path.name}: row {line} ({', '.join(f'{v:g}' for v in rows[line - 1, :6])}) "
                f"is not valid; expected {expected}"
            )
    return rows
