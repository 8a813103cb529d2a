"""Deprecated path of the strict weights-file reading: ``iaunet_hf.weights_file`` (``checkpoints`` now means only
the training state, ``iaunet_hf.training.checkpoints``)."""

from ._deprecation import warn_moved
from .weights_file import (
    WEIGHTS_NAME,
    CheckpointMismatchError,
    check_safetensors_file,
    checkpoint_source,
    compare_state_dicts,
    raise_on_mismatch,
)

__all__ = [
    "WEIGHTS_NAME",
    "CheckpointMismatchError",
    "check_safetensors_file",
    "checkpoint_source",
    "compare_state_dicts",
    "raise_on_mismatch",
]

warn_moved("iaunet_hf.checkpoints", "iaunet_hf.weights_file")
