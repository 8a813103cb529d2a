"""Deprecated: ONNX export moved to `iaunet_hf.export`, loading and the sidecar to `iaunet_hf.inference`
(this path goes in the next release)."""

import warnings

from ..export.inputs import check_inputs, embedding_dim_of, example_input, image_inputs, input_kind_of
from ..export.parity import compare_embeddings
from ..export.pipeline import ExportResult, export_onnx
from ..export.tracing import trace_onnx
from ..inference.embedding import EmbeddingModel
from ..inference.loading import load_embedding_model
from ..inference.preprocessing import InputSpec, load_image_processor
from ..inference.runtimes import onnx_session
from ..inference.sidecar import (
    INPUT_NAME,
    OUTPUT_NAME,
    SIDECAR_NAME,
    graph_frames,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)

warnings.warn(
    "iaunet_hf.hub.export is deprecated; import from iaunet_hf.export and iaunet_hf.inference",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "INPUT_NAME",
    "OUTPUT_NAME",
    "SIDECAR_NAME",
    "EmbeddingModel",
    "ExportResult",
    "InputSpec",
    "check_inputs",
    "compare_embeddings",
    "embedding_dim_of",
    "example_input",
    "export_onnx",
    "graph_frames",
    "image_inputs",
    "input_kind_of",
    "load_embedding_model",
    "load_image_processor",
    "onnx_session",
    "read_sidecar",
    "sidecar_path",
    "trace_onnx",
    "write_sidecar",
]
