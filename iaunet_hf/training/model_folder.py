"""Saving a trained model as a folder that loads anywhere: ``save_pretrained`` weights and config, the image
processor, ``training_summary.json``, ``eval_results.json`` (the package's results format) and the model card.

The folder is written under a temporary name and moved into place whole, so a kill never leaves a model folder
with weights from one moment and a card or metrics from another.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from accelerate import Accelerator

from ..evaluation.results import results_document, write_results
from ..image_processing_iaunet import IAUnetImageProcessor
from ..inference.model_folder import RESULTS_FILE, write_training_summary
from .checkpoints import TEMPORARY_PREFIX, replace_directory
from .model_card import write_model_card


def save_model_folder(
    accelerator: Accelerator,
    model: Any,
    folder: Path,
    summary: dict[str, Any],
    entries: list[dict[str, Any]],
    image_size: tuple[int, int],
) -> Path:
    """Write ``model`` (unwrapped), its processor for ``image_size``, ``summary`` and the results ``entries``
    into ``folder`` (on the main process; every process must call it)."""
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        temporary = folder.with_name(f"{TEMPORARY_PREFIX}{folder.name}")
        model.save_pretrained(temporary, safe_serialization=True)
        height, width = image_size
        IAUnetImageProcessor(size={"height": height, "width": width}).save_pretrained(temporary)
        write_training_summary(temporary, summary)
        document = results_document(entries, model=str(folder)) if entries else None
        if document is not None:
            write_results(temporary / RESULTS_FILE, document)
        write_model_card(temporary, summary=summary, results=document, model_config=model.config)
        replace_directory(temporary, folder)
    accelerator.wait_for_everyone()
    return folder
