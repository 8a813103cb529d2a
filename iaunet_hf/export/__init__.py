"""Export: the embedding model to deployment formats (ONNX fp32/fp16/int8, OpenVINO, torch.export, TensorRT)
through one pipeline and a registry of targets, each checked against PyTorch in its own runtime.

Built on `iaunet_hf.inference` (loading, the sidecar, the runtimes); the console script is `iaunet-export`.
"""

from .inputs import check_inputs, embedding_dim_of, example_input, image_inputs, input_kind_of
from .parity import REDUCED_TOLERANCES, compare_embeddings, reduced_precision_check
from .pipeline import (
    DEFAULT_NAMES,
    EXPORT_FORMATS,
    TARGETS,
    ExportResult,
    export_model,
    export_onnx,
    get_target,
)
from .target import Built, ExportRequest, ExportTarget
from .tracing import trace_onnx, trace_program

__all__ = [
    "DEFAULT_NAMES",
    "EXPORT_FORMATS",
    "REDUCED_TOLERANCES",
    "TARGETS",
    "Built",
    "ExportRequest",
    "ExportResult",
    "ExportTarget",
    "check_inputs",
    "compare_embeddings",
    "embedding_dim_of",
    "example_input",
    "export_model",
    "export_onnx",
    "get_target",
    "image_inputs",
    "input_kind_of",
    "reduced_precision_check",
    "trace_onnx",
    "trace_program",
]
