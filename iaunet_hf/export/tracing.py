"""Tracing the embedding model with a dynamic batch axis: to an ONNX graph, or to a torch.export program.

Every ONNX-based target (fp32/fp16/int8 ONNX, OpenVINO, TensorRT) starts from the same float32 graph, so
its trace is written once, here.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..inference.sidecar import INPUT_NAME, OUTPUT_NAME
from .inputs import example_input
from .onnx_graph import bound_ciau_softmax

if TYPE_CHECKING:
    from ..configuration_iaunet import IAUnetConfig

logger = logging.getLogger(__name__)
MAX_BATCH = 4096


def _dynamic_batch() -> dict[str, dict[int, torch.export.Dim]]:
    return {INPUT_NAME: {0: torch.export.Dim("batch", min=1, max=MAX_BATCH)}}


def trace_onnx(
    model: nn.Module, config: IAUnetConfig, output: Path, input_kind: str | None, opset: int
) -> tuple[int, ...]:
    """Write the float32 ONNX graph (dynamic batch axis) and return the traced input shape without the batch."""
    output.parent.mkdir(parents=True, exist_ok=True)
    traced_input = example_input(config, input_kind, batch_size=2)
    logger.info("exporting with input %s to %s", tuple(traced_input.shape), output)
    program = torch.onnx.export(
        model,
        (traced_input,),
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_shapes=_dynamic_batch(),
        opset_version=opset,
        dynamo=True,
        verbose=False,
    )
    program.save(str(output))
    import onnx

    # every ONNX-based target starts from this graph, so each gets CIAU's softmax without denormals
    onnx.save(bound_ciau_softmax(onnx.load(str(output))), str(output))
    return tuple(traced_input.shape[1:])


def trace_program(
    model: nn.Module, config: IAUnetConfig, output: Path, input_kind: str | None
) -> tuple[int, ...]:
    """Save a `torch.export` program (dynamic batch axis) as `.pt2`; return the traced input shape."""
    traced_input = example_input(config, input_kind, batch_size=2)
    program = torch.export.export(model, (traced_input,), dynamic_shapes=_dynamic_batch())
    output.parent.mkdir(parents=True, exist_ok=True)
    torch.export.save(program, str(output))
    return tuple(traced_input.shape[1:])
