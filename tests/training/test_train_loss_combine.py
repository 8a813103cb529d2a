"""``ReIDLoss.combine`` adds the triplet and part terms to an identity loss computed elsewhere: PCB's summed
stripe cross-entropies through it give exactly ``pcb_loss``, and ``forward`` is ``combine`` after the CE."""

from __future__ import annotations

import pytest
import torch

from iaunet_hf.losses import ReIDLoss, ReIDLossConfig, label_smoothing_cross_entropy
from iaunet_hf.model.backbones import pcb_loss, stripe_cross_entropy


@pytest.mark.parametrize(
    "config",
    [
        ReIDLossConfig(),
        ReIDLossConfig(label_smoothing=0.0, triplet_weight=0.0),
        ReIDLossConfig(part_loss_weight=0),
    ],
)
def test_combine_reproduces_pcb_loss_and_forward(config: ReIDLossConfig):
    generator = torch.Generator().manual_seed(0)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    stripe_logits = torch.randn(6, 6, 3, generator=generator)
    logits = torch.randn(6, 3, generator=generator)
    embeddings = torch.randn(6, 8, generator=generator)
    part_logits = (torch.randn(6, 4, 4, 2, generator=generator),)
    part_masks = torch.rand(6, 4, 8, 4, generator=generator)
    loss = ReIDLoss(config)
    expected = pcb_loss(stripe_logits, embeddings, labels, config, part_logits, part_masks)
    identity = stripe_cross_entropy(stripe_logits, labels, config.label_smoothing)
    combined = loss.combine(identity, embeddings, labels, part_logits, part_masks)
    for name in ("loss", "cross_entropy", "triplet"):
        assert torch.equal(getattr(combined, name), getattr(expected, name))
    assert (combined.part is None and expected.part is None) or torch.equal(combined.part, expected.part)
    forward = loss(logits, embeddings, labels, part_logits, part_masks)
    cross_entropy = label_smoothing_cross_entropy(logits, labels, config.label_smoothing)
    again = loss.combine(cross_entropy, embeddings, labels, part_logits, part_masks)
    assert torch.equal(forward.loss, again.loss)
