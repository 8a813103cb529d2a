"""Safety checks on a saved model folder before it is shared or exported.

A folder is shareable when its safetensors file is intact, its config describes exactly the tensors in it, and
the one checkpoint gives the same embedding through transformers (`AutoModel`) and timm (`local-dir:`), which
is the promise the model card makes to users.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
from transformers import AutoConfig

import iaunet_hf

from ..configuration_iaunet import IAUnetConfig
from ..inference.embedding import embed
from ..inference.model_folder import CONFIG_FILE, MODEL_FILES, WEIGHTS_FILE, check_safetensors

__all__ = ["MODEL_FILES", "CheckedModel", "check_model_folder", "check_safetensors"]


@dataclass
class CheckedModel:
    """What the checks learned about a folder: its config and the two loaded faces."""

    folder: Path
    config: IAUnetConfig
    transformers_model: torch.nn.Module
    timm_model: torch.nn.Module
    max_abs_diff: float

    @property
    def embedding_dim(self) -> int:
        return int(self.config.hidden_size)


def check_model_folder(model_dir: str | Path, atol: float = 1e-4) -> CheckedModel:
    """Load `model_dir` with both libraries and compare their embeddings; raise on any mismatch.

    `atol` leaves room for float rounding only: the two faces run the same network on the same weights (both
    loaders are strict and hold the weights in ordinary memory), so on one machine they agree bit for bit; the
    IAU blocks' raw Gram softmax would amplify last-bit kernel differences to ~1e-5. A wrong load differs by
    orders of magnitude more.

    Raises `FileNotFoundError` for a missing file and `ValueError` for corrupt weights, a config that is not an
    IAUnet config, a config whose model does not have exactly the saved tensors, or diverging embeddings.
    """
    folder = _require_files(model_dir)
    saved_shapes = check_safetensors(folder / WEIGHTS_FILE)
    config = _iaunet_config(folder)
    architecture = (config.architectures or ["IAUnetModel"])[0]
    model_class = getattr(iaunet_hf, architecture, None)
    if model_class is None:
        raise ValueError(
            f"{folder / CONFIG_FILE} names architecture {architecture!r}; expected IAUnetModel or IAUnetForReID"
        )
    # The shapes the config implies, compared before loading: transformers would only warn about them.
    expected_shapes = {name: tuple(t.shape) for name, t in model_class(config).state_dict().items()}
    _check_shapes(folder, expected_shapes, saved_shapes)

    transformers_model = model_class.from_pretrained(folder).eval()
    timm_model = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()

    height, width = config.image_size
    shape = (2, config.num_frames, 3, height, width) if config.num_frames > 1 else (2, 3, height, width)
    inputs = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        via_transformers = embed(transformers_model, inputs)
        via_timm = embed(timm_model, inputs)
    diff = (via_transformers - via_timm).abs().max().item()
    if diff > atol:
        raise ValueError(
            f"model folder {folder}: transformers and timm embeddings differ by {diff:.3g} (> {atol}); "
            "expected one checkpoint to give one embedding in both libraries"
        )
    return CheckedModel(folder, config, transformers_model, timm_model, diff)


def _require_files(model_dir: str | Path) -> Path:
    """The folder, when it holds every file of `MODEL_FILES`."""
    folder = Path(model_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"model folder {folder} does not exist; expected a save_pretrained folder")
    missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"model folder {folder} lacks {missing}; expected {list(MODEL_FILES)} "
            "(model.save_pretrained(dir) and image_processor.save_pretrained(dir))"
        )
    return folder


def _iaunet_config(folder: Path) -> IAUnetConfig:
    """The folder's config, when it loads, is an IAUnet config and needs no remote code."""
    try:
        config = AutoConfig.from_pretrained(folder)
    except (OSError, ValueError, json.JSONDecodeError) as error:
        raise ValueError(f"{folder / CONFIG_FILE} does not load: {error}") from error
    if getattr(config, "auto_map", None):
        raise ValueError(
            f"{folder / CONFIG_FILE} has an 'auto_map' ({config.auto_map}); expected none: IAUnet checkpoints "
            "load through the registered classes and must never need trust_remote_code"
        )
    if not isinstance(config, IAUnetConfig):
        raise ValueError(
            f"{folder / CONFIG_FILE} has model_type {getattr(config, 'model_type', None)!r}; expected 'iaunet'"
        )
    return config


def _check_shapes(
    folder: Path, expected_shapes: dict[str, tuple[int, ...]], saved_shapes: dict[str, tuple[int, ...]]
) -> None:
    """Raise unless the weights hold exactly the tensors, of the shapes, that the config implies."""
    absent = sorted(set(expected_shapes) - set(saved_shapes))
    extra = sorted(set(saved_shapes) - set(expected_shapes))
    wrong = sorted(
        k for k in set(expected_shapes) & set(saved_shapes) if expected_shapes[k] != saved_shapes[k]
    )
    if absent or extra or wrong:
        details = "; ".join(
            f"{label}: {names[:5]}{' ...' if len(names) > 5 else ''} ({len(names)})"
            for label, names in (
                ("missing from the weights", absent),
                ("unexpected", extra),
                ("shape differs", wrong),
            )
            if names
        )
        raise ValueError(
            f"{folder / CONFIG_FILE} does not match {folder / WEIGHTS_FILE}: {details}; expected the config "
            "saved together with these weights"
        )
