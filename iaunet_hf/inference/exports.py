"""Opening an export written by `iaunet-export` (an ONNX file or an OpenVINO IR folder) with its sidecar.

The tracker encoder deploys exports through this, and gets the runtime and the preprocessing the sidecar
describes, so a graph always runs with the inputs it was exported for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .preprocessing import processor_of_spec
from .runtimes import OnnxRuntime, OpenVINORuntime
from .sidecar import read_sidecar

EXPORT_BACKENDS = ("onnx", "openvino")


def open_export(
    path: str | Path, backend: str, device: str = "cpu", precision: str = "fp32"
) -> tuple[OnnxRuntime | OpenVINORuntime, Any]:
    """The runtime of an export (`backend` "onnx" or "openvino") and the image processor its sidecar describes."""
    if backend not in EXPORT_BACKENDS:
        raise ValueError(f"backend: expected one of {EXPORT_BACKENDS}, found {backend!r}")
    path = Path(path)
    if backend == "onnx":
        if path.is_dir():
            path = path / "model.onnx"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: expected an ONNX file written by iaunet-export")
        if precision != "fp32":
            raise ValueError(
                f"precision {precision!r}: an ONNX graph's precision is fixed at export; "
                "load the onnx-fp16 or onnx-int8 export with precision='fp32' (float32 I/O)"
            )
        spec, sidecar = read_sidecar(path)
        return OnnxRuntime(path, sidecar, str(device)), processor_of_spec(spec)
    xml = path if path.suffix == ".xml" else path / "model.xml"
    if not xml.is_file():
        raise FileNotFoundError(f"{xml}: expected the OpenVINO IR written by iaunet-export --format openvino")
    spec, sidecar = read_sidecar(xml.parent)
    return OpenVINORuntime(xml, sidecar, str(device), precision), processor_of_spec(spec)
