"""The runtimes an embedding runs on: PyTorch, ONNX Runtime, OpenVINO, and a saved torch.export program.

Each maps a float32 (B, 3, H, W) batch (or the (B, T, 3, H, W) clips a clip graph takes) to (B, D) float32
NumPy embeddings. The tracker encoder and the export parity checks run the same runtimes, so a graph is
checked exactly as it will be deployed. The exported graphs' I/O names and input layout come from the
export's sidecar JSON (`iaunet_hf.inference.sidecar`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..precision import check_precision
from .embedding import embed
from .sidecar import clip_frames

OPENVINO_HINTS = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}


def _still_clips(pixel_values: np.ndarray, num_frames: int | None) -> np.ndarray:
    """Images (B, 3, H, W) as still clips (B, T, 3, H, W) for graphs exported with a clip input."""
    if num_frames is None or pixel_values.ndim != 4:
        return pixel_values
    return np.ascontiguousarray(np.repeat(pixel_values[:, None], num_frames, axis=1))


def onnx_session(onnx_path: str | Path, providers: Sequence[str] = ("CPUExecutionProvider",)) -> Any:
    try:
        import onnxruntime
    except ImportError as error:  # the optional extra
        raise ValueError(
            "onnxruntime is not installed; expected the 'onnx' extra (pip install iaunet-hf[onnx])"
        ) from error
    return onnxruntime.InferenceSession(str(onnx_path), providers=list(providers))


def compile_openvino(xml_path: str | Path, device: str = "cpu", precision: str = "fp32") -> Any:
    """An OpenVINO IR compiled for `device` with an explicit inference precision hint."""
    try:
        import openvino
    except ImportError as error:
        raise ValueError(
            "openvino is not installed; expected the 'openvino' extra (pip install iaunet-hf[openvino])"
        ) from error
    check_precision(precision)
    # f32 explicitly: OpenVINO's CPU plugin otherwise picks bf16 on CPUs that have it
    config = {"INFERENCE_PRECISION_HINT": OPENVINO_HINTS[precision]}
    device_name = "CPU" if str(device).lower() == "cpu" else str(device).upper()
    return openvino.Core().compile_model(str(xml_path), device_name, config)


class TorchRuntime:
    """A model of the package in eval mode, embedded through `iaunet_hf.inference.embed`."""

    def __init__(self, model: nn.Module, device: str | torch.device = "cpu", precision: str = "fp32") -> None:
        self.model = model.eval().to(device)
        self.device = torch.device(device)
        self.autocast_dtype = check_precision(precision)

    def __call__(self, pixel_values: np.ndarray | torch.Tensor) -> np.ndarray:
        inputs = torch.as_tensor(pixel_values).to(self.device)
        autocast = (
            torch.autocast(self.device.type, dtype=self.autocast_dtype)
            if self.autocast_dtype is not None
            else contextlib.nullcontext()
        )
        with torch.inference_mode(), autocast:
            return embed(self.model, inputs).float().cpu().numpy()


class OnnxRuntime:
    """An exported ONNX graph (float32 I/O: the fp32, fp16 and int8 exports alike) in onnxruntime."""

    def __init__(self, path: str | Path, sidecar: dict[str, Any], device: str = "cpu") -> None:
        providers = ["CPUExecutionProvider"]
        if str(device).startswith("cuda"):
            providers.insert(0, "CUDAExecutionProvider")
        self.session = onnx_session(path, providers)
        self.input_name, self.output_name = sidecar["input_name"], sidecar["output_name"]
        self.num_frames = clip_frames(sidecar)

    def __call__(self, pixel_values: np.ndarray | torch.Tensor) -> np.ndarray:
        inputs = _still_clips(np.asarray(pixel_values, dtype=np.float32), self.num_frames)
        return np.asarray(
            self.session.run([self.output_name], {self.input_name: inputs})[0], dtype=np.float32
        )


class OpenVINORuntime:
    """An OpenVINO IR (`<name>_openvino_model/`) compiled for a device with an explicit precision hint."""

    HINTS = OPENVINO_HINTS

    def __init__(
        self, xml_path: str | Path, sidecar: dict[str, Any], device: str = "cpu", precision: str = "fp32"
    ):
        self.compiled = compile_openvino(xml_path, device, precision)
        self.output = self.compiled.output(0)
        self.num_frames = clip_frames(sidecar)

    def __call__(self, pixel_values: np.ndarray | torch.Tensor) -> np.ndarray:
        inputs = _still_clips(np.asarray(pixel_values, dtype=np.float32), self.num_frames)
        return np.asarray(self.compiled(inputs)[self.output], dtype=np.float32)


class ProgramRuntime:
    """A `torch.export` program saved as `.pt2` (`torch.export.load(path).module()`), run without gradients."""

    def __init__(self, path: str | Path) -> None:
        self.module = torch.export.load(str(path)).module()

    def __call__(self, pixel_values: np.ndarray | torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return self.module(torch.as_tensor(pixel_values)).numpy()
