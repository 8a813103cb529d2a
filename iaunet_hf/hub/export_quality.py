"""Deprecated: moved to `iaunet_hf.export.quality` (this path goes in the next release)."""

import warnings

from ..export.quality import dataset_batches, onnx_features, quantisation_report, retrieval_metrics

warnings.warn(
    "iaunet_hf.hub.export_quality is deprecated; import from iaunet_hf.export.quality",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["dataset_batches", "onnx_features", "quantisation_report", "retrieval_metrics"]
