"""Items -> embeddings, batch by batch, through ``iaunet_hf.inference`` (the model's own processor and ``embed``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm
from transformers.utils import logging as transformers_logging

from ..inference import embed, load_model_and_processor, processor_of_model
from .sources import Item


def load_encoder(spec: str, device: torch.device | str) -> tuple[nn.Module, Any]:
    """The model (eval mode, on ``device``) and its image processor (the saved one, else the model's defaults)."""
    transformers_logging.disable_progress_bar()  # no weight-loading bar; the embedding loop shows its own
    model, processor = load_model_and_processor(spec)
    model = model.to(device).eval()
    return model, processor or processor_of_model(model)


def embedded_batches(
    model: nn.Module, processor: Any, items: Sequence[Item], batch_size: int, progress: bool = True
) -> Iterator[tuple[Sequence[Item], torch.Tensor]]:
    """(items, (B, D) float32 CPU embeddings) for consecutive batches of ``items``, with a progress bar."""
    device = next(model.parameters()).device
    bar = tqdm(total=len(items), desc="embedding", unit="img", disable=not progress)
    with torch.inference_mode():
        for start in range(0, len(items), batch_size):
            batch = items[start : start + batch_size]
            pixel_values = processor(images=[item.load() for item in batch], return_tensors="pt")[
                "pixel_values"
            ]
            yield batch, embed(model, pixel_values.to(device)).float().cpu()
            bar.update(len(batch))
    bar.close()
