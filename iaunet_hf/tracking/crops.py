"""Detection boxes on a frame -> the model's normalised input batch.

Boxes are rounded and clipped to the frame the way boxmot crops them; a box that is empty after clipping
(zero area, inverted, fully outside) becomes the nearest one-pixel crop inside the frame, so every detection
still gets a real, finite appearance instead of an error or a zero row.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from torch.nn import functional as F

ResizeMode = Literal["checkpoint", "cv2"]
RESIZE_MODES = ("checkpoint", "cv2")


def pixel_boxes(xyxy: Any, height: int, width: int) -> np.ndarray:
    """(N, 4) int64 `x1, y1, x2, y2` inside the frame with x2 > x1 and y2 > y1 (half-open pixel ranges)."""
    boxes = np.asarray(xyxy, dtype=np.float64)
    if boxes.size == 0:
        return np.zeros((0, 4), dtype=np.int64)
    if boxes.ndim == 1:
        boxes = boxes[None]
    if boxes.ndim != 2 or boxes.shape[1] < 4:
        raise ValueError(f"xyxy: expected an (N, 4) array of x1, y1, x2, y2 boxes, found shape {boxes.shape}")
    boxes = boxes[:, :4]
    if not np.isfinite(boxes).all():
        raise ValueError("xyxy: expected finite box coordinates, found NaN or inf")
    rounded = np.round(boxes)
    x1 = np.clip(np.minimum(rounded[:, 0], rounded[:, 2]), 0, width - 1)
    y1 = np.clip(np.minimum(rounded[:, 1], rounded[:, 3]), 0, height - 1)
    x2 = np.clip(np.maximum(rounded[:, 0], rounded[:, 2]), x1 + 1, width)
    y2 = np.clip(np.maximum(rounded[:, 1], rounded[:, 3]), y1 + 1, height)
    return np.stack([x1, y1, x2, y2], axis=1).astype(np.int64)


def check_frame(image: Any, name: str = "image") -> np.ndarray:
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8 or 0 in array.shape:
        raise ValueError(
            f"{name}: expected an (H, W, 3) uint8 frame, found shape {array.shape} and dtype {array.dtype}"
        )
    return array


def cv2_bilinear_resize(crop: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(3, h, w) uint8 -> (3, H, W) uint8 like `cv2.resize(..., INTER_LINEAR)`: bilinear, half-pixel centres,
    no antialiasing (the resize boxmot and most trackers apply); equal to cv2 up to its fixed-point rounding."""
    resized = F.interpolate(
        crop[None].float(), size=size, mode="bilinear", align_corners=False, antialias=False
    )[0]
    return resized.round_().clamp_(0, 255).to(torch.uint8)


def crop_batch(
    rgb_frame: np.ndarray,
    boxes: np.ndarray,
    image_processor: Any,
    resize: ResizeMode = "checkpoint",
) -> torch.Tensor:
    """(N, 3, H, W) float32 model input of the `pixel_boxes` crops of an RGB (H, W, 3) uint8 frame.

    `resize="checkpoint"` runs the checkpoint's own image processor (its size, interpolation, mean/std: the
    preprocessing the embeddings were trained and evaluated with); `"cv2"` resizes like cv2 bilinear first and
    lets the processor only rescale and normalise.
    """
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize: expected one of {RESIZE_MODES}, found {resize!r}")
    frame = torch.from_numpy(np.ascontiguousarray(rgb_frame)).permute(2, 0, 1)  # (3, H, W) view
    crops = [frame[:, y1:y2, x1:x2] for x1, y1, x2, y2 in boxes.tolist()]
    options: dict[str, Any] = {}
    if resize == "cv2":
        size = (int(image_processor.size.height), int(image_processor.size.width))
        crops = [cv2_bilinear_resize(crop, size) for crop in crops]
        options["do_resize"] = False
    output = image_processor(images=crops, return_tensors="pt", input_data_format="channels_first", **options)
    return output["pixel_values"].float()
