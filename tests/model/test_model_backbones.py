"""The GoogLeNet-BN stages and the PCB head on their own (the networks built on them are tested elsewhere)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from iaunet_hf.model.backbones import (
    PCBHead,
    StripeClassifier,
    build_googlenet,
    googlenet_layout,
    stripe_cross_entropy,
)


def run_layout(modules: nn.ModuleDict, layout, x: torch.Tensor) -> list[torch.Tensor]:
    for name in layout.stem:
        x = modules[name](x)
    taps = [x]
    for names in layout.stages:
        for name in names:
            x = modules[name](x)
        taps.append(x)
    return taps


def test_googlenet_has_torchvisions_names_and_numbers():
    reference = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False)
    state = {k: v for k, v in reference.state_dict().items() if not k.startswith(("aux1.", "aux2.", "fc."))}
    modules = nn.ModuleDict(build_googlenet(last_stride=2))
    assert set(modules.state_dict()) == set(state)
    modules.load_state_dict(state)
    modules.eval(), reference.eval()
    x = torch.randn(1, 3, 64, 32)
    taps = run_layout(modules, googlenet_layout(last_stride=2), x)
    # with stride 2 kept, the last stage is torchvision's own forward (transform_input included)
    reference.transform_input = True
    expected = reference._forward(reference._transform_input(x))  # logits from torchvision's own pass
    ours = reference.fc(torch.flatten(reference.avgpool(taps[-1]), 1))
    torch.testing.assert_close(ours, expected[0])


@pytest.mark.parametrize("last_stride, last_reduction", [(1, 16), (2, 32)])
def test_googlenet_stage_positions(last_stride: int, last_reduction: int):
    layout = googlenet_layout(last_stride)
    taps = run_layout(
        nn.ModuleDict(build_googlenet(last_stride=last_stride)), layout, torch.randn(1, 3, 64, 32)
    )
    info = layout.feature_info()
    assert [tap.shape[1] for tap in taps] == [entry["num_chs"] for entry in info] == [64, 192, 480, 832, 1024]
    assert [64 // tap.shape[2] for tap in taps] == [entry["reduction"] for entry in info]
    assert info[-1]["reduction"] == last_reduction
    # the IAU positions: after inception3b (stride 8) and inception4e (stride 16)
    assert (info[2]["module"], info[2]["reduction"]) == ("inception3b", 8)
    assert (info[3]["module"], info[3]["reduction"]) == ("inception4e", 16)


def test_googlenet_single_channel_input_skips_the_rgb_transform():
    modules = build_googlenet(in_chans=1)
    x = torch.randn(1, 1, 32, 16)
    assert torch.equal(modules["transform_input"](x), x)
    assert modules["conv1"].conv.in_channels == 1


def test_pcb_head_structure_and_clip_pooling():
    head = PCBHead(in_features=32, num_stripes=6, stripe_features=8).eval()
    feature_map = torch.randn(2, 32, 16, 8)
    embedding = head(feature_map)
    assert embedding.shape == (2, 48)
    # stripe k of the embedding only sees rows of stripe k (16 rows pooled adaptively into 6 stripes)
    changed = feature_map.clone()
    changed[:, :, 0] += 10.0  # the top row belongs to the first stripe only
    difference = (head(changed) - embedding).abs().reshape(2, 6, 8).sum(dim=(0, 2))
    assert difference[0] > 0 and torch.all(difference[1:] == 0)
    # a clip's stripes are averaged over its frames
    clip = torch.randn(2, 3, 32, 16, 8)
    expected = head(clip.mean(dim=1))
    torch.testing.assert_close(head(clip), expected)


def test_stripe_classifier_and_loss_sum_the_stripes():
    classifier = StripeClassifier(num_classes=5, num_stripes=6, stripe_features=4)
    embedding = torch.randn(3, 24)
    logits = classifier(embedding)
    assert logits.shape == (3, 6, 5)
    torch.testing.assert_close(logits[:, 2], classifier.stripes[2](embedding[:, 8:12]))
    labels = torch.tensor([0, 4, 2])
    expected = sum(F.cross_entropy(logits[:, k], labels) for k in range(6))
    torch.testing.assert_close(stripe_cross_entropy(logits, labels), expected)
    smoothed = sum(F.cross_entropy(logits[:, k], labels, label_smoothing=0.1) for k in range(6))
    torch.testing.assert_close(stripe_cross_entropy(logits, labels, 0.1), smoothed)
    stripe_cross_entropy(logits, labels).backward()
    assert all(linear.weight.grad is not None for linear in classifier.stripes)
