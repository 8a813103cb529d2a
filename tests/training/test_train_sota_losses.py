"""The BoT/AGW/SBS losses, poolings and margin classifiers against formulations written here independently.

Small float64 inputs; values and gradients are compared, with the edge cases the formulas treat specially: a
batch of one identity, identities with a single image, all-equal embeddings and margins at 0.
"""

from __future__ import annotations

import math

import pytest
import torch

from iaunet_hf.losses import (
    CenterLoss,
    ReIDLoss,
    ReIDLossConfig,
    batch_hard_triplet_loss,
    pairwise_circle_loss,
    weighted_regularized_triplet_loss,
)
from iaunet_hf.model import IAUnetOptions
from iaunet_hf.model.margin_classifiers import CosineClassifier
from iaunet_hf.model.pooling import GlobalPool

LABELS = {
    "mixed": [0, 0, 1, 1, 1, 2],  # identity 2 has a single image
    "one_identity": [3, 3, 3, 3],
    "singletons": [0, 1, 2, 3],
}


def _distance(a: torch.Tensor, b: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "cosine":
        return 1 - (a @ b) / (a.norm() * b.norm())
    return ((a - b) ** 2).sum().clamp(min=1e-12).sqrt()


def _reference_hard(x, labels, margin, kind, soft):
    terms = []
    for i in range(len(labels)):
        pos = [_distance(x[i], x[j], kind) for j in range(len(labels)) if j != i and labels[j] == labels[i]]
        neg = [_distance(x[i], x[j], kind) for j in range(len(labels)) if labels[j] != labels[i]]
        if pos and neg:
            gap = max(pos) - min(neg) + margin
            terms.append(torch.log1p(torch.exp(gap)) if soft else torch.clamp(gap, min=0))
    return torch.stack(terms).mean() if terms else x.sum() * 0


def _reference_weighted(x, labels, kind):
    terms = []
    for i in range(len(labels)):
        pos = torch.stack([_distance(x[i], x[j], kind) for j in range(len(labels)) if labels[j] == labels[i]])
        neg = [_distance(x[i], x[j], kind) for j in range(len(labels)) if labels[j] != labels[i]]
        if not neg:
            continue
        neg = torch.stack(neg)
        d_p = (pos * torch.exp(pos)).sum() / torch.exp(pos).sum()
        d_n = (neg * torch.exp(-neg)).sum() / torch.exp(-neg).sum()
        terms.append(torch.log1p(torch.exp(d_p - d_n)))
    return torch.stack(terms).mean() if terms else x.sum() * 0


def _cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a @ b) / (a.norm() * b.norm())


def _reference_circle(x, labels, m, gamma):
    terms = []
    for i in range(len(labels)):
        pos = [_cosine(x[i], x[j]) for j in range(len(labels)) if j != i and labels[j] == labels[i]]
        neg = [_cosine(x[i], x[j]) for j in range(len(labels)) if labels[j] != labels[i]]
        if not (pos and neg):
            continue
        sum_p = sum(torch.exp(-gamma * torch.clamp(1 + m - s.detach(), min=0) * (s - 1 + m)) for s in pos)
        sum_n = sum(torch.exp(gamma * torch.clamp(s.detach() + m, min=0) * (s - m)) for s in neg)
        terms.append(torch.log(1 + sum_n * sum_p))
    return torch.stack(terms).mean() if terms else x.sum() * 0


def _compare(ours, reference, x: torch.Tensor) -> None:
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    value, expected = ours(x1), reference(x2)
    torch.testing.assert_close(value, expected, rtol=1e-6, atol=1e-9)
    value.backward()
    expected.backward()
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("case", sorted(LABELS))
@pytest.mark.parametrize("kind", ["cosine", "euclidean"])
def test_triplet_losses_match_their_formulas(case, kind):
    torch.manual_seed(0)
    labels = torch.tensor(LABELS[case])
    x = torch.randn(len(labels), 5, dtype=torch.float64)
    for margin, soft in ((0.3, False), (0.0, False), (0.0, True), (0.2, True)):
        _compare(
            lambda e, m=margin, s=soft: batch_hard_triplet_loss(e, labels, m, kind, soft_margin=s),
            lambda e, m=margin, s=soft: _reference_hard(e, labels.tolist(), m, kind, s),
            x,
        )
    _compare(
        lambda e: weighted_regularized_triplet_loss(e, labels, kind),
        lambda e: _reference_weighted(e, labels.tolist(), kind),
        x,
    )


@pytest.mark.parametrize("case", sorted(LABELS))
def test_pairwise_circle_loss_matches_its_formula(case):
    torch.manual_seed(1)
    labels = torch.tensor(LABELS[case])
    x = torch.randn(len(labels), 5, dtype=torch.float64)
    for margin, gamma in ((0.25, 128.0), (0.0, 8.0), (0.4, 1.0)):
        _compare(
            lambda e, m=margin, g=gamma: pairwise_circle_loss(e, labels, m, g),
            lambda e, m=margin, g=gamma: _reference_circle(e, labels.tolist(), m, g),
            x,
        )


def test_edge_cases_give_the_formulas_limits():
    labels = torch.tensor([0, 0, 1, 1])
    equal = torch.ones(4, 3, dtype=torch.float64, requires_grad=True)
    # all-equal embeddings: every distance is (nearly) 0, so the hinge is the margin and the soft margin log 2
    assert batch_hard_triplet_loss(equal, labels, 0.3, "cosine").item() == pytest.approx(0.3, abs=1e-6)
    assert batch_hard_triplet_loss(equal, labels, 0.0, "euclidean", True).item() == pytest.approx(math.log(2))
    assert weighted_regularized_triplet_loss(equal, labels, "cosine").item() == pytest.approx(math.log(2))
    circle = pairwise_circle_loss(equal, labels, 0.25, 64.0)
    circle.backward()
    assert torch.isfinite(circle) and torch.isfinite(equal.grad).all()
    # a batch of one identity trains no metric loss (zero, with a zero gradient), never NaN
    one = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    same = torch.zeros(4, dtype=torch.long)
    total = batch_hard_triplet_loss(one, same) + weighted_regularized_triplet_loss(one, same)
    (total + pairwise_circle_loss(one, same)).backward()
    assert total.item() == 0.0 and (one.grad == 0).all()


def test_center_loss_and_its_gradient():
    torch.manual_seed(2)
    loss = CenterLoss(3, 4).double()
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 2, 2, 1, 0])
    value = loss(x, labels)
    expected = sum(((x[i] - loss.centers[labels[i]]) ** 2).sum() for i in range(5)) / 5
    torch.testing.assert_close(value, expected)
    value.backward()
    torch.testing.assert_close(x.grad, 2 * (x - loss.centers[labels]).detach() / 5)


def _reference_margin_logits(cos, labels, kind, s, m):
    out = cos.clone() * s
    for i, y in enumerate(labels.tolist()):
        for k in range(cos.shape[1]):
            c = cos[i, k]
            if kind == "cosface":
                out[i, k] = s * (c - m) if k == y else s * c
            elif kind == "arcface":
                theta = torch.acos(c.clamp(-1 + 1e-7, 1 - 1e-7))
                target = torch.cos(theta + m) if theta + m <= math.pi else c - m * math.sin(m)
                out[i, k] = s * target if k == y else s * c
            else:
                if k == y:
                    out[i, k] = s * max(0.0, 1 + m - c.item()) * (c - (1 - m))
                else:
                    out[i, k] = s * max(0.0, c.item() + m) * (c - m)
    return out


@pytest.mark.parametrize("kind", ["cosface", "arcface", "circle"])
@pytest.mark.parametrize("margin", [0.0, 0.3])
def test_margin_classifiers_match_their_formulas(kind, margin):
    torch.manual_seed(3)
    classifier = CosineClassifier(6, 4, kind, scale=16.0, margin=margin).double()
    x = torch.randn(5, 6, dtype=torch.float64)
    labels = torch.tensor([0, 3, 1, 1, 2])
    logits = classifier(x)
    weight = classifier.weight / classifier.weight.norm(dim=1, keepdim=True)
    cos = (x / x.norm(dim=1, keepdim=True)) @ weight.t()
    torch.testing.assert_close(logits, 16.0 * cos)  # inference: the scaled cosine, no margin
    _compare(
        lambda c: classifier.margin_logits(16.0 * c, labels).sum(),
        lambda c: _reference_margin_logits(c, labels, kind, 16.0, margin).sum(),
        cos.detach(),
    )
    if margin == 0.0 and kind != "circle":  # no margin: the plain scaled cosine
        torch.testing.assert_close(classifier.margin_logits(logits, labels), logits)


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(classifier="cosface", classifier_margin=1.0), "classifier_margin"),
        (dict(classifier="arcface", classifier_margin=-0.1), "classifier_margin"),
        (dict(classifier="circle", classifier_margin=0.5), "classifier_margin"),
        (dict(classifier="circle", classifier_scale=0.0), "classifier_scale"),
        (dict(classifier="softmax"), "classifier must be one of"),
        (dict(pooling="gem", gem_p=0.5), "gem_p"),
        (dict(pooling="sum"), "pooling must be one of"),
        (dict(embedding_dim=-1), "embedding_dim"),
        (dict(head="pcb", pooling="gem"), "PCB"),
    ],
)
def test_bad_head_options_are_clear_errors(options, message):
    with pytest.raises(ValueError, match=message):
        IAUnetOptions(**options)


@pytest.mark.parametrize("fields, message", [({"circle_margin": 0.6}, "circle_margin"),
                                             ({"triplet_mining": "easy"}, "triplet_mining"),
                                             ({"center_weight": -1.0}, "center_weight")])  # fmt: skip
def test_bad_loss_settings_are_clear_errors(fields, message):
    with pytest.raises(ValueError, match=message):
        ReIDLossConfig(**fields)


def _reference_pool(feature_map, kind, p):
    spatial = feature_map.flatten(-2)
    if kind == "avg":
        pooled = spatial.mean(-1)
    elif kind == "max":
        pooled = spatial.max(-1).values
    elif kind == "avgmax":
        pooled = spatial.mean(-1) + spatial.max(-1).values
    else:
        pooled = (spatial.clamp(min=1e-6) ** p).mean(-1) ** (1 / p)
    return pooled if pooled.dim() == 2 else pooled.mean(1)


@pytest.mark.parametrize("kind", ["avg", "max", "gem", "avgmax"])
@pytest.mark.parametrize("shape", [(2, 3, 4, 2), (2, 3, 3, 4, 2)])  # images and clips (B, T, D, h, w)
def test_poolings_match_their_formulas(kind, shape):
    torch.manual_seed(4)
    feature_map = torch.rand(*shape, dtype=torch.float64) + 0.01
    for p, learnable in ((3.0, False), (2.5, True), (1.0, False)):
        pool = GlobalPool(kind, p, learnable and kind == "gem", dtype=torch.float64)
        _compare(lambda f, pl=pool: pl(f).pow(2).sum(), lambda f, q=p: _reference_pool(f, kind, q).pow(2).sum(),
                 feature_map)  # fmt: skip
    if kind == "gem":  # the learned p gets the formula's gradient
        pool = GlobalPool("gem", 2.5, True, dtype=torch.float64)
        exponent = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
        pool(feature_map).sum().backward()
        _reference_pool(feature_map, "gem", exponent).sum().backward()
        torch.testing.assert_close(pool.p.grad[0], exponent.grad)


def test_the_combined_loss_adds_each_term_with_its_weight():
    torch.manual_seed(5)
    logits, x = torch.randn(6, 3), torch.randn(6, 4)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    settings = dict(
        cross_entropy_weight=0.5, triplet_weight=2.0, circle_weight=0.3, triplet_mining="weighted"
    )
    out = ReIDLoss(**settings)(logits, x, labels)
    ce = torch.nn.functional.cross_entropy(logits, labels, label_smoothing=0.1)
    triplet = weighted_regularized_triplet_loss(x, labels, "cosine", 0.3, False)
    circle = pairwise_circle_loss(x, labels, 0.25, 128.0)
    torch.testing.assert_close(out.loss, 0.5 * ce + 2.0 * triplet + 0.3 * circle)
    torch.testing.assert_close(out.circle, circle)
