"""Inference: the saved model folder, loading, the one ``embed``, preprocessing, export sidecars and runtimes.

The layer below evaluation, export, the Hub and tracking: each of them loads and embeds through here, so a
model is read, preprocessed and embedded one way everywhere. It imports only the model package.
"""

from .embedding import EmbeddingModel, embed, model_input_config
from .exports import open_export
from .loading import add_model_argument, load_embedding_model, load_model_and_processor, load_reid_model
from .model_folder import (
    CONFIG_FILE,
    EVAL_SPLIT_FILE,
    MODEL_FILES,
    PREPROCESSOR_FILE,
    RESULTS_FILE,
    SUMMARY_FILE,
    WEIGHTS_FILE,
    check_safetensors,
    read_training_summary,
    write_training_summary,
)
from .preprocessing import InputSpec, load_image_processor, processor_of_model, processor_of_spec
from .runtimes import OnnxRuntime, OpenVINORuntime, ProgramRuntime, TorchRuntime, check_precision
from .sidecar import INPUT_NAME, OUTPUT_NAME, SIDECAR_NAME, read_sidecar, sidecar_path, write_sidecar

__all__ = [
    "add_model_argument",
    "CONFIG_FILE",
    "INPUT_NAME",
    "MODEL_FILES",
    "OUTPUT_NAME",
    "PREPROCESSOR_FILE",
    "RESULTS_FILE",
    "SIDECAR_NAME",
    "EVAL_SPLIT_FILE",
    "SUMMARY_FILE",
    "WEIGHTS_FILE",
    "EmbeddingModel",
    "InputSpec",
    "OnnxRuntime",
    "OpenVINORuntime",
    "ProgramRuntime",
    "TorchRuntime",
    "check_precision",
    "check_safetensors",
    "embed",
    "load_embedding_model",
    "load_image_processor",
    "load_model_and_processor",
    "load_reid_model",
    "model_input_config",
    "open_export",
    "processor_of_model",
    "processor_of_spec",
    "read_sidecar",
    "read_training_summary",
    "sidecar_path",
    "write_sidecar",
    "write_training_summary",
]
