"""The import paths that moved in the inference/export renovation (and the weights-file checks, now
``iaunet_hf.weights_file``) still import, for one release, with a
DeprecationWarning naming the new path."""

import importlib
import sys

import pytest

OLD_PATHS = {
    "iaunet_hf.hub.export": (
        "export_onnx",
        "read_sidecar",
        "load_embedding_model",
        "InputSpec",
        "onnx_session",
    ),
    "iaunet_hf.hub.export_targets": (
        "export_model",
        "EXPORT_FORMATS",
        "REDUCED_TOLERANCES",
        "export_onnx_fp16",
    ),
    "iaunet_hf.hub.export_tensorrt": ("export_tensorrt",),
    "iaunet_hf.hub.export_quality": ("dataset_batches", "quantisation_report"),
    "iaunet_hf.hub.export_cli": ("main", "build_parser"),
    "iaunet_hf.evaluation.model_loading": ("load_reid_model",),
    "iaunet_hf.tracking.runtimes": ("TorchRuntime", "OnnxRuntime", "OpenVINORuntime", "clip_frames"),
    "iaunet_hf.checkpoints": ("CheckpointMismatchError", "check_safetensors_file", "compare_state_dicts"),
}


@pytest.mark.parametrize("path", sorted(OLD_PATHS))
def test_old_path_imports_with_a_deprecation_warning(path, monkeypatch):
    monkeypatch.delitem(sys.modules, path, raising=False)
    with pytest.warns(DeprecationWarning, match=path.replace(".", r"\.") + " is deprecated"):
        module = importlib.import_module(path)
    for name in OLD_PATHS[path]:
        assert hasattr(module, name), f"{path} lost {name}"
