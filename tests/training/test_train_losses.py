"""The losses of spec §3 against values worked out by hand on tiny inputs."""

from __future__ import annotations

import math

import pytest
import torch

from iaunet_hf.losses import (
    ReIDLoss,
    ReIDLossConfig,
    batch_hard_triplet_loss,
    label_smoothing_cross_entropy,
    part_mask_loss,
)


def test_label_smoothing_cross_entropy_matches_hand_value():
    # p = softmax(log [1, 2, 1]) = [0.25, 0.5, 0.25], target 1, eps 0.1, K 3:
    # -(0.9 + 0.1/3) ln 0.5 - (0.1/3) * 2 ln 0.25 = (14/15 + 2/15) ln 2 = (16/15) ln 2
    logits = torch.log(torch.tensor([[1.0, 2.0, 1.0]]))
    loss = label_smoothing_cross_entropy(logits, torch.tensor([1]), epsilon=0.1)
    assert loss.item() == pytest.approx(16 / 15 * math.log(2), rel=1e-6)
    # eps = 0 is the plain cross-entropy -ln 0.5
    assert label_smoothing_cross_entropy(logits, torch.tensor([1]), epsilon=0.0).item() == pytest.approx(
        math.log(2)
    )


def test_batch_hard_triplet_euclidean_matches_hand_value():
    # points on a line: a=0, b=3 (id 0); c=1, d=5 (id 1)
    # hinges: a 3-1+.3=2.3, b 3-2+.3=1.3, c 4-1+.3=3.3, d 4-2+.3=2.3 -> mean 2.3
    embeddings = torch.tensor([[0.0, 0.0], [3.0, 0.0], [1.0, 0.0], [5.0, 0.0]])
    labels = torch.tensor([0, 0, 1, 1])
    loss = batch_hard_triplet_loss(embeddings, labels, margin=0.3, distance="euclidean")
    assert loss.item() == pytest.approx(2.3, rel=1e-5)


def test_batch_hard_triplet_cosine_matches_hand_value():
    # a=(1,0), b=(0,1) id 0; c=(1,1), d=(-1,0) id 1; s = 1/sqrt(2)
    # hinges: a s+.3, b s+.3, c (1+s)-(1-s)+.3 = 2s+.3, d (1+s)-1+.3 = s+.3 -> mean (5s + 1.2) / 4
    embeddings = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])
    labels = torch.tensor([0, 0, 1, 1])
    s = 1 / math.sqrt(2)
    loss = batch_hard_triplet_loss(embeddings, labels, margin=0.3, distance="cosine")
    assert loss.item() == pytest.approx((5 * s + 1.2) / 4, rel=1e-5)


def test_batch_hard_triplet_hinge_and_anchor_without_positive():
    # well separated: every hinge is 0
    embeddings = torch.tensor([[0.0, 0.0], [0.1, 0.0], [10.0, 0.0], [10.1, 0.0]])
    labels = torch.tensor([0, 0, 1, 1])
    assert batch_hard_triplet_loss(embeddings, labels, margin=0.3, distance="euclidean").item() == 0.0
    # the lone id-2 anchor c has no positive and is left out; a: positive b at 2, negative c at 1 -> 1.3;
    # b: positive a at 2, negative c at 1 -> 1.3
    embeddings = torch.tensor([[0.0, 0.0], [2.0, 0.0], [1.0, 0.0]])
    labels = torch.tensor([0, 0, 2])
    assert batch_hard_triplet_loss(
        embeddings, labels, margin=0.3, distance="euclidean"
    ).item() == pytest.approx(1.3)


def test_part_mask_loss_matches_hand_value_and_skips_samples_without_masks():
    masks = torch.zeros(2, 4, 4, 4)
    masks[:, 0] = 1.0  # part 0 everywhere, others nowhere (constant maps survive any resize)
    attention = torch.full((2, 4, 2, 2), 0.3)
    attention[:, 0] = 0.8
    attention[1] = 0.999  # sample 1 has no masks: its (bad) attention must not count
    valid = torch.tensor([True, False])
    # part 0: -ln 0.8; parts 1-3: -ln 0.7; mean over parts
    expected = (-math.log(0.8) - 3 * math.log(0.7)) / 4
    loss = part_mask_loss((torch.logit(attention),), masks, valid)  # the loss takes pre-sigmoid logits
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    # two stages at different sizes: mean over stages
    second = torch.zeros(2, 4, 1, 1)  # sigmoid(0) = 0.5
    two = part_mask_loss((torch.logit(attention), second), masks, valid)
    assert two.item() == pytest.approx((expected + math.log(2)) / 2, rel=1e-5)


def test_part_mask_loss_without_any_mask():
    logits = torch.randn(2, 4, 2, 2, requires_grad=True)
    masks = torch.rand(2, 4, 8, 8)
    loss = part_mask_loss((logits,), masks, torch.tensor([False, False]))
    assert loss.item() == 0.0
    loss.backward()  # still part of the graph, so a batch without masks trains normally
    assert part_mask_loss((logits,), None) is None


@pytest.mark.reliability
def test_non_finite_part_logits_give_a_non_finite_loss_not_an_error():
    """A NaN/inf in the part attention must reach the trainer's non-finite guard (BCE on probabilities raised)."""
    logits = torch.randn(2, 4, 2, 2)
    logits[0, 0, 0, 0] = float("nan")
    masks = (torch.rand(2, 4, 8, 8) > 0.5).float()
    assert torch.isnan(part_mask_loss((logits,), masks))
    logits[0, 0, 0, 0] = float("inf")
    output = ReIDLoss()(torch.randn(2, 3), torch.randn(2, 8), torch.tensor([0, 1]), (logits,), masks)
    assert not torch.isfinite(output.loss)


def test_part_loss_is_stable_for_saturated_logits_and_under_autocast():
    logits = torch.tensor([40.0, -40.0]).reshape(1, 2, 1, 1)  # sigmoid rounds to exactly 1 and 0 in float32
    masks = torch.tensor([0.0, 1.0]).reshape(1, 2, 1, 1)
    assert part_mask_loss((logits,), masks).item() == pytest.approx(40.0, rel=1e-6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = part_mask_loss((logits.bfloat16(),), masks)
    assert loss.dtype == torch.float32 and loss.item() == pytest.approx(40.0, rel=1e-6)


def test_loss_config_is_the_one_set_of_defaults():
    from iaunet_hf import IAUnetConfig

    defaults = ReIDLossConfig()
    paper = dict(
        label_smoothing=0.1,
        triplet_margin=0.3,
        triplet_distance="cosine",
        triplet_weight=1.0,
        part_loss_weight=0.5,
    )
    # the strong baselines' terms (issue 22) are off or neutral by default: the loss is the paper's
    neutral = dict(cross_entropy_weight=1.0, triplet_mining="hard", triplet_soft_margin=False,
                   circle_weight=0.0, center_weight=0.0)  # fmt: skip
    assert {key: defaults.to_dict()[key] for key in (*paper, *neutral)} == {**paper, **neutral}
    assert ReIDLoss().config == defaults
    assert IAUnetConfig().loss_config() == defaults
    assert ReIDLoss(ReIDLossConfig(triplet_weight=0.0)).triplet_weight == 0.0
    with pytest.raises(ValueError, match="label_smoothing"):
        ReIDLossConfig(label_smoothing=1.5)


def test_reid_loss_weighted_sum():
    torch.manual_seed(0)
    logits = torch.randn(4, 3)
    embeddings = torch.randn(4, 8)
    labels = torch.tensor([0, 0, 1, 1])
    part_logits = (torch.randn(4, 4, 2, 2),)
    masks = (torch.rand(4, 4, 8, 8) > 0.5).float()
    output = ReIDLoss(triplet_weight=1.0, part_loss_weight=0.5)(
        logits, embeddings, labels, part_logits, masks
    )
    ce = label_smoothing_cross_entropy(logits, labels, 0.1)
    triplet = batch_hard_triplet_loss(embeddings, labels, 0.3, "cosine")
    part = part_mask_loss(part_logits, masks)
    assert output.loss.item() == pytest.approx((ce + triplet + 0.5 * part).item(), rel=1e-6)
    only_ce = ReIDLoss(label_smoothing=0.0, triplet_weight=0.0, part_loss_weight=0.0)(
        logits, embeddings, labels
    )
    assert only_ce.part is None
    assert only_ce.loss.item() == pytest.approx(
        torch.nn.functional.cross_entropy(logits, labels).item(), rel=1e-6
    )
    with pytest.raises(ValueError, match="triplet_distance"):
        ReIDLoss(triplet_distance="manhattan")


@pytest.mark.reliability
def test_nan_part_attention_of_the_model_reaches_the_loss_as_nan():
    """End to end through IAUnetForReID: a NaN in a part attention map gives a NaN loss, not a BCE error."""
    from iaunet_hf import IAUnetConfig, IAUnetForReID

    torch.manual_seed(0)
    model = IAUnetForReID(IAUnetConfig(depth=18, image_size=(64, 32), num_labels=2)).train()
    with torch.no_grad():
        model.iaunet.network.iau["layer3"].stiau.part_conv.bias[0] = float("nan")
    masks = (torch.rand(4, 4, 64, 32) > 0.5).float()
    output = model(torch.randn(4, 3, 64, 32), labels=torch.tensor([0, 0, 1, 1]), part_masks=masks)
    assert torch.isnan(output.loss_components["part"]) and not torch.isfinite(output.loss)
