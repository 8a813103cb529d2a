"""Loading a model to embed with: a save_pretrained folder, a Hub id, ``local-dir:``/``hf-hub:``, a timm name.

Evaluation, export and the tracker encoder all load through here, so loading is strict everywhere and a
``--model`` argument means the same thing to every command.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import timm
from torch import nn
from transformers import AutoConfig, AutoModel

from .embedding import EmbeddingModel
from .model_folder import CONFIG_FILE, WEIGHTS_FILE, check_safetensors, require_config
from .preprocessing import load_image_processor

if TYPE_CHECKING:
    from ..configuration_iaunet import IAUnetConfig


# What ``load_reid_model`` accepts, as every command's --model help says it.
MODEL_SOURCES = "save_pretrained folder, Hub id, local-dir:/hf-hub: or timm name"


def add_model_argument(parser: argparse.ArgumentParser, help: str = MODEL_SOURCES) -> None:
    """The required ``--model`` option of a command that loads a model through ``load_reid_model``."""
    parser.add_argument("--model", required=True, help=help)


def load_reid_model(spec: str) -> nn.Module:
    """A model in eval mode from a ``save_pretrained`` folder, a Hub id, or a timm name; loading is strict.

    * a local folder with ``config.json`` or a Hub id (``org/name``): ``AutoModel.from_pretrained``
      (the transformers face; the Hub cache is used offline);
    * ``local-dir:...`` / ``hf-hub:...``: ``timm.create_model(spec, pretrained=True, num_classes=0)``;
    * a registered timm name (``iaunet_resnet50``): an untrained timm model, for smoke tests.
    """
    path = Path(spec)
    if spec.startswith(("local-dir:", "hf-hub:")):
        return timm.create_model(spec, pretrained=True, num_classes=0).eval()
    if path.is_dir():
        if not (path / CONFIG_FILE).is_file():
            raise FileNotFoundError(
                f"{path / CONFIG_FILE}: expected a model folder written by save_pretrained"
            )
        return AutoModel.from_pretrained(path).eval()
    if timm.is_model(spec):
        return timm.create_model(spec, pretrained=False, num_classes=0).eval()
    if is_hub_id(spec):
        try:
            return AutoModel.from_pretrained(spec).eval()
        except OSError as error:  # transformers reports Hub misses and connection failures as OSError
            raise FileNotFoundError(
                f"model {spec!r}: there is no folder {path.resolve()} and the Hub could not provide a model "
                f"named {spec!r} ({error}); expected a save_pretrained folder or a reachable Hub id 'org/name'"
            ) from error
    raise ValueError(
        f"model: expected a save_pretrained folder, a Hub id 'org/name', 'local-dir:'/'hf-hub:' or a timm name, found {spec!r}"
    )


def is_hub_id(spec: str) -> bool:
    """``org/name`` that is not a local path."""
    return spec.count("/") == 1 and not Path(spec).exists()


def load_model_and_processor(spec: str) -> tuple[nn.Module, Any | None]:
    """``load_reid_model(spec)`` and, for a folder or Hub id, its saved image processor (else None)."""
    model = load_reid_model(spec)
    folder_or_hub_id = Path(spec).is_dir() or (spec.count("/") == 1 and ":" not in spec)
    return model, load_image_processor(spec, model.config) if folder_or_hub_id else None


def load_embedding_model(model_dir: str | Path) -> tuple[EmbeddingModel, IAUnetConfig]:
    """The checkpoint's embedding model (timm face, eval mode) and its config."""
    folder = require_config(model_dir)
    check_safetensors(folder / WEIGHTS_FILE)
    config = AutoConfig.from_pretrained(folder)
    network = timm.create_model(f"local-dir:{folder}", pretrained=True)
    return EmbeddingModel(network).eval(), config
