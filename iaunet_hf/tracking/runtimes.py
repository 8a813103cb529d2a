"""Deprecated: the runtimes moved to `iaunet_hf.inference.runtimes` (this path goes in the next release)."""

import warnings

from ..inference.runtimes import (
    OnnxRuntime,
    OpenVINORuntime,
    TorchRuntime,
    _still_clips,  # noqa: F401  (private, kept for old callers)
)
from ..inference.sidecar import clip_frames
from ..precision import PRECISIONS, check_precision

warnings.warn(
    "iaunet_hf.tracking.runtimes is deprecated; import from iaunet_hf.inference.runtimes",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["PRECISIONS", "OnnxRuntime", "OpenVINORuntime", "TorchRuntime", "check_precision", "clip_frames"]
