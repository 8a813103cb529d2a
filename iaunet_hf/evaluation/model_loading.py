"""One way to turn a ``--model`` argument into an evaluation-ready model, for the CLI and scripts."""

from __future__ import annotations

from pathlib import Path

import timm
from torch import nn
from transformers import AutoModel


def load_reid_model(spec: str) -> nn.Module:
    """A model in eval mode from a ``save_pretrained`` folder, a Hub id, or a timm name; loading is strict.

    * a local folder with ``config.json`` or a Hub id (``org/name``): ``AutoModel.from_pretrained``
      (the transformers face; the Hub cache is used offline);
    * ``local-dir:...`` / ``hf-hub:...``: ``timm.create_model(spec, pretrained=True, num_classes=0)``;
    * a registered timm name (``iaunet_resnet50``): an untrained timm model, for smoke tests.
    """
    import iaunet_hf  # noqa: F401  registers the timm models and the Auto classes

    path = Path(spec)
    if spec.startswith(("local-dir:", "hf-hub:")):
        return timm.create_model(spec, pretrained=True, num_classes=0).eval()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"{path / 'config.json'}: expected a model folder written by save_pretrained"
            )
        return AutoModel.from_pretrained(path).eval()
    if timm.is_model(spec):
        return timm.create_model(spec, pretrained=False, num_classes=0).eval()
    if spec.count("/") == 1 and not path.exists():
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
