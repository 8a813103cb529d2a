"""The loaded model of the app: load once through ``iaunet_hf.inference``, embed PIL images in batches.

Every view embeds through ``ReidEngine.embed_images``, which preprocesses with the checkpoint's own image
processor and calls the package's one ``embed``, so the app sees exactly the embeddings evaluation sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image
from torch import nn

from ..inference import embed, load_model_and_processor, processor_of_model


@dataclass
class ReidEngine:
    """A model in eval mode on its device with its image processor, and what it was loaded from."""

    model: nn.Module
    image_processor: Any
    device: torch.device
    spec: str

    @classmethod
    def load(cls, spec: str, device: str | None = None) -> ReidEngine:
        """``spec``: a save_pretrained folder, a Hub id, ``local-dir:``/``hf-hub:`` or a timm name."""
        model, processor = load_model_and_processor(spec)
        target = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        return cls(model.to(target).eval(), processor or processor_of_model(model), target, spec)

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) of the model input."""
        return int(self.image_processor.size.height), int(self.image_processor.size.width)

    def pixel_values(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """(B, 3, H, W) model input of RGB images, on the model's device."""
        rgb = [image.convert("RGB") for image in images]
        batch = self.image_processor(images=rgb, return_tensors="pt")["pixel_values"]
        return batch.to(self.device)

    def embed_images(self, images: Sequence[Image.Image], batch_size: int = 32) -> torch.Tensor:
        """(N, D) float32 L2-normalised CPU embeddings (cosine similarity is then a dot product)."""
        starts = range(0, len(images), batch_size)
        chunks = []
        with torch.inference_mode():
            for start in starts:
                features = embed(self.model, self.pixel_values(images[start : start + batch_size]))
                chunks.append(nn.functional.normalize(features.float(), dim=1).cpu())
        if not chunks:
            return torch.zeros(0, 0)
        return torch.cat(chunks)
