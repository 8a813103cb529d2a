"""A `torch.export` program with a dynamic batch axis saved as `.pt2` (`torch.export.load(path).module()`):
the deployment form for PyTorch runtimes that take no Python model code."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch import nn

from ..inference.runtimes import ProgramRuntime
from .target import Built, ExportRequest, ExportTarget
from .tracing import trace_program

if TYPE_CHECKING:
    from ..configuration_iaunet import IAUnetConfig


class TorchProgramTarget(ExportTarget):
    name, default_name, uses_opset = "torch-export", "model.pt2", False

    def build(self, model: nn.Module, config: IAUnetConfig, request: ExportRequest) -> Built:
        return Built(trace_program(model, config, request.output, request.input_kind))

    def runtime(self, request: ExportRequest, sidecar: dict[str, Any]) -> ProgramRuntime:
        return ProgramRuntime(request.output)
