"""Deprecated: model loading moved to `iaunet_hf.inference.loading` (this path goes in the next release)."""

import warnings

from ..inference.loading import load_reid_model

warnings.warn(
    "iaunet_hf.evaluation.model_loading is deprecated; import from iaunet_hf.inference",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["load_reid_model"]
