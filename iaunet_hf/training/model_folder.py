"""Saving a trained model as a folder that loads anywhere: ``save_pretrained`` weights and config, the image
processor, ``training_summary.json``, ``eval_results.json`` (the package's results format) and the model card.

The folder is written under a temporary name and moved into place whole, so a kill never leaves a model folder
with weights from one moment and a card or metrics from another.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..evaluation.results import results_document, write_results
from .checkpoints import TEMPORARY_PREFIX, replace_directory
from .summary import training_summary, write_summary


def save_model_folder(trainer: Any, folder: Path, entries: list[dict[str, Any]]) -> Path:
    """Write ``trainer``'s current model into ``folder`` (main process; every process must call it)."""
    from ..image_processing_iaunet import IAUnetImageProcessor
    from .model_card import write_model_card

    accelerator, data = trainer.accelerator, trainer.config.data
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        temporary = folder.with_name(f"{TEMPORARY_PREFIX}{folder.name}")
        model = accelerator.unwrap_model(trainer.model)
        model.save_pretrained(temporary, safe_serialization=True)
        IAUnetImageProcessor(size={"height": data.height, "width": data.width}).save_pretrained(temporary)
        summary = training_summary(trainer)
        write_summary(temporary, summary)
        document = results_document(entries, model=str(folder)) if entries else None
        if document is not None:
            write_results(temporary / "eval_results.json", document)
        write_model_card(temporary, summary=summary, results=document, model_config=model.config)
        replace_directory(temporary, folder)
    accelerator.wait_for_everyone()
    return folder
