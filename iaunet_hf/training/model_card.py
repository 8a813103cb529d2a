"""The model card the trainer writes next to a saved model: the hub layer's card, from the run's own facts.

``write_model_card(folder, summary=..., results=..., model_config=...)`` is what the trainer calls with the dict
it writes as ``training_summary.json`` and the results document it writes as ``eval_results.json``. The card
names a placeholder repository; ``iaunet-push --repo-id org/name`` renders it again with the real one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..configuration_iaunet import IAUnetConfig
from ..hub.model_card import build_model_card


def write_model_card(
    folder: str | Path,
    summary: Mapping[str, Any] | None = None,
    results: Mapping[str, Any] | None = None,
    model_config: Any | None = None,
    *,
    repo_id: str | None = None,
    license: str = "apache-2.0",
) -> Path:
    """Write ``README.md`` (the model card) into ``folder`` and return its path.

    ``summary``: the training summary (any key may be missing); ``results``: a results document or None (a
    card without a model-index, e.g. a run without evaluation); ``model_config``: the saved model's
    ``IAUnetConfig`` (default: read from ``folder/config.json``).
    """
    folder = Path(folder)
    if model_config is None:
        model_config = IAUnetConfig.from_pretrained(folder)
    card = build_model_card(
        results,
        repo_id=repo_id,
        summary=summary,
        embedding_dim=model_config.hidden_size,
        input_size=tuple(model_config.image_size),
        num_frames=model_config.num_frames,
        license=license,
    )
    path = folder / "README.md"
    card.save(path)
    return path
