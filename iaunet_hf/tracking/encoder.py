"""`IAUnetEncoder`: a frame and its person boxes -> L2-normalised appearance embeddings, for trackers.

It fits boxmot's two interfaces without importing boxmot: trackers' `reid_model=` (`get_features(xyxy,
image_bgr)`) and the pipelines' `reid=` `AppearanceEncoder` protocol (`embedding_dim`, `requirements`,
`encode(frames, detections)`). The embedding runs on PyTorch, ONNX Runtime or OpenVINO (`backend=`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..inference.exports import open_export
from ..inference.loading import load_model_and_processor
from ..inference.preprocessing import processor_of_model
from ..inference.runtimes import TorchRuntime, check_precision
from .crops import ResizeMode, check_frame, crop_batch, pixel_boxes

logger = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx", "openvino")


@dataclass(frozen=True, slots=True)
class EncoderRequirements:
    """Stand-in for boxmot's `EncoderRequirements` when boxmot is not installed: no masks needed."""

    masks: bool = False


def _unit_rows(embeddings: np.ndarray) -> np.ndarray:
    """L2-normalise rows; a non-finite or zero row (never expected) becomes a fixed unit vector, with a warning,
    because trackers reject such rows outright."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    bad = ~np.isfinite(embeddings).all(axis=1, keepdims=True) | (norms <= 1e-12)
    if bad.any():
        logger.warning(
            "%d embedding(s) were non-finite or zero; replaced by a constant unit vector", bad.sum()
        )
        embeddings = np.where(bad, 1.0, embeddings)
        norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    return (embeddings / norms).astype(np.float32)


class IAUnetEncoder:
    """Embeds the person boxes of BGR frames with an IAUnet checkpoint, in batches of `batch_size` crops.

    `resize="checkpoint"` preprocesses crops exactly as the checkpoint's image processor does (its size,
    interpolation and mean/std); `resize="cv2"` uses the cv2 bilinear resize (no antialiasing) that boxmot's own
    reID backends and most trackers apply, then the checkpoint's mean/std.
    """

    def __init__(
        self,
        model: nn.Module | Any,
        image_processor: Any | None = None,
        *,
        device: str | torch.device = "cpu",
        batch_size: int = 32,
        precision: str = "fp32",
        resize: ResizeMode = "checkpoint",
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size: expected a positive integer, found {batch_size!r}")
        check_precision(precision)
        if isinstance(model, nn.Module):
            image_processor = image_processor or processor_of_model(model)
            model = TorchRuntime(model, device, precision)
        if image_processor is None:
            raise ValueError(
                "image_processor: expected the checkpoint's image processor for a non-torch runtime"
            )
        self.runtime = model
        self.image_processor = image_processor
        self.batch_size = batch_size
        self.resize = resize
        height, width = int(image_processor.size.height), int(image_processor.size.width)
        probe = np.zeros((1, 3, height, width), dtype=np.float32)
        self._embedding_dim = int(self.runtime(probe).shape[-1])

    @classmethod
    def from_pretrained(
        cls,
        path_or_hub_id: str | Path,
        *,
        device: str | torch.device = "cpu",
        batch_size: int = 32,
        precision: str = "fp32",
        backend: str = "torch",
        resize: ResizeMode = "checkpoint",
    ) -> IAUnetEncoder:
        """An encoder from a `save_pretrained` folder or Hub id (`backend="torch"`), or from an export:
        a `.onnx` file (`"onnx"`) or an `<name>_openvino_model/` folder / `.xml` file (`"openvino"`), each with
        the sidecar JSON `iaunet-export` writes beside it (its preprocessing and I/O names)."""
        if backend not in BACKENDS:
            raise ValueError(f"backend: expected one of {BACKENDS}, found {backend!r}")
        options = {"batch_size": batch_size, "precision": precision, "resize": resize}
        if backend == "torch":
            model, processor = load_model_and_processor(str(path_or_hub_id))
            return cls(model, processor, device=device, **options)
        runtime, processor = open_export(path_or_hub_id, backend, str(device), precision)
        return cls(runtime, processor, **options)

    # boxmot's tracker interface (`reid_model=`) ------------------------------------------------------------
    def get_features(self, xyxy: np.ndarray, image: np.ndarray) -> np.ndarray:
        """(N, D) float32 unit-norm embeddings of the boxes `xyxy` (N, 4) on a BGR (H, W, 3) uint8 frame."""
        frame = check_frame(image)
        return self.features_rgb(xyxy, frame[..., ::-1])

    def features_rgb(self, xyxy: np.ndarray, rgb_image: np.ndarray) -> np.ndarray:
        """`get_features` for an RGB frame."""
        frame = check_frame(rgb_image)
        boxes = pixel_boxes(xyxy, frame.shape[0], frame.shape[1])
        if len(boxes) == 0:
            return np.zeros((0, self.embedding_dim), dtype=np.float32)
        chunks = [
            self.runtime(
                crop_batch(frame, boxes[start : start + self.batch_size], self.image_processor, self.resize)
            )
            for start in range(0, len(boxes), self.batch_size)
        ]
        return _unit_rows(np.concatenate(chunks))

    # boxmot's AppearanceEncoder protocol (`reid=` of its pipelines) ------------------------------------------
    @property
    def embedding_dim(self) -> int:
        return self._embedding_dim

    @property
    def requirements(self) -> Any:
        """boxmot's `EncoderRequirements()` (crops from boxes, no masks); a local stand-in without boxmot."""
        try:
            from boxmot.reid.protocols import EncoderRequirements as BoxmotRequirements
        except ImportError:
            return EncoderRequirements()
        return BoxmotRequirements()

    def encode(self, frames: Sequence[Any], detections: Sequence[Any]) -> list[torch.Tensor]:
        """One (N, D) float32 CPU tensor per frame, for boxmot `Frame`s (RGB (3, H, W) uint8 `image`) and
        `Detections` (`geometry.values` (N, 4) xyxy)."""
        if len(frames) != len(detections):
            raise ValueError(
                f"encode: {len(frames)} frames but {len(detections)} detection sets; expected one each"
            )
        outputs = []
        for frame, frame_detections in zip(frames, detections):
            geometry = getattr(frame_detections, "geometry", None)
            values = getattr(geometry, "values", None)
            if values is None or values.shape[-1] != 4:
                raise ValueError("encode: expected axis-aligned detections with geometry.values (N, 4) xyxy")
            rgb = frame.image.permute(1, 2, 0).numpy()
            outputs.append(torch.from_numpy(self.features_rgb(values.cpu().numpy(), rgb)).contiguous())
        return outputs
