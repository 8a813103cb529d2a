"""Output dataclasses of the transformers classes (transformers' ``ModelOutput``: attribute, key and index access)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers.utils import ModelOutput


@dataclass
class IAUnetModelOutput(ModelOutput):
    """Output of ``IAUnetModel``.

    Args:
        last_hidden_state: last feature map, (B, D, h, w) for images or (B, T, D, h, w) for clips.
        pooler_output: the retrieval embedding (B, D): pooled over space and time, after the BN neck.
        hidden_states: the stem and stage outputs (B*T, C, h, w), when ``output_hidden_states``.
        part_attentions: one part attention map per IAU stage with STIAU, (B, N, h, w) or (B, T, N, h, w).
        part_logits: the same maps before their sigmoid (what the part-mask loss takes).
        relations: per IAU stage, a dict of the CIAU ("channel") and STIAU ("part") relation maps, when
            ``output_relations``.
    """

    last_hidden_state: torch.Tensor | None = None
    pooler_output: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    part_attentions: tuple[torch.Tensor, ...] | None = None
    part_logits: tuple[torch.Tensor, ...] | None = None
    relations: tuple[dict[str, torch.Tensor], ...] | None = None


@dataclass
class IAUnetReIDOutput(ModelOutput):
    """Output of ``IAUnetForReID``: the loss (with ``labels``), identity logits, embeddings and part maps.

    Args:
        loss: with ``labels``: the reID loss (CE with label smoothing + triplet + part-mask BCE when ``part_masks``
            are given) when ``config.problem_type`` is None, else the loss of that problem type.
        logits: identity logits (B, num_labels).
        embeddings: the retrieval embedding (B, D), after the BN neck.
        loss_components: the unweighted parts of the reID loss, for logging.
        hidden_states: as in ``IAUnetModelOutput``, when ``output_hidden_states``.
        part_attentions, part_logits: as in ``IAUnetModelOutput``.
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    embeddings: torch.Tensor | None = None
    loss_components: dict[str, torch.Tensor] | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    part_attentions: tuple[torch.Tensor, ...] | None = None
    part_logits: tuple[torch.Tensor, ...] | None = None
