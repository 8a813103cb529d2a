"""The IAU block: shapes, identity start, masked relations, ablation switches and input errors."""

import pytest
import torch

from iaunet_hf.model import ChannelInteraction, IAUBlock, IAUBlockOptions, SpatialTemporalInteraction
from iaunet_hf.model.attention_ops import relation_mask


def _randomise_norms(module: torch.nn.Module) -> None:
    """Give every BN a non-zero affine so the residual branches are live (they start at zero)."""
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            torch.nn.init.uniform_(m.weight, 0.5, 1.5)
            torch.nn.init.uniform_(m.bias, -0.1, 0.1)


@pytest.mark.parametrize("num_frames", [1, 3])
def test_block_shapes_and_attention_range(num_frames):
    block = IAUBlock(32, IAUBlockOptions(num_parts=4))
    x = torch.randn(2 * num_frames, 32, 8, 4)
    y, part_logits, relations = block(x, num_frames)
    assert y.shape == x.shape
    assert part_logits.shape == (2 * num_frames, 4, 8, 4)
    assert part_logits.min() < 0 < part_logits.max()  # logits: the attention is their sigmoid
    assert relations["channel"].shape == (2, 32 * num_frames, 32 * num_frames)
    assert relations["part"].shape == (2, 4 * num_frames, 4 * num_frames)
    torch.testing.assert_close(relations["part"].sum(-1), torch.ones(2, 4 * num_frames))


def test_fresh_block_is_identity_in_train_and_eval():
    block = IAUBlock(16)
    x = torch.randn(4, 16, 8, 4)
    for mode in (block.train, block.eval):
        mode()
        y, _, _ = block(x)
        torch.testing.assert_close(y, x)


def test_relation_mask_pairs():
    mask = relation_mask(num_frames=3, num_parts=4)
    for i in range(12):
        for j in range(12):
            same_frame, same_part = i // 4 == j // 4, i % 4 == j % 4
            assert bool(mask[i, j]) == ((same_frame and not same_part) or (same_part and not same_frame))
    # each node attends to N-1 spatial + T-1 temporal partners
    assert (mask.sum(1) == 3 + 2).all()
    spatial = relation_mask(3, 4, "spatial")
    temporal = relation_mask(3, 4, "temporal")
    assert (spatial | temporal).equal(mask) and not (spatial & temporal).any()
    # a shorter clip uses the top-left block of the longer clip's mask
    assert relation_mask(2, 4).equal(mask[:8, :8])


@pytest.mark.parametrize("context", ["both", "spatial", "temporal"])
def test_relation_map_never_attends_to_disallowed_pairs(context):
    torch.manual_seed(0)
    stiau = SpatialTemporalInteraction(16, IAUBlockOptions(num_parts=4, stiau_context=context))
    _randomise_norms(stiau)
    _, _, relation = stiau(torch.randn(2 * 3, 16, 8, 4), num_frames=3)
    allowed = relation_mask(3, 4, context)
    assert (relation[:, ~allowed] == 0).all()
    assert (relation[:, allowed] > 0).all()
    torch.testing.assert_close(relation.sum(-1), torch.ones(2, 12))


def test_temporal_only_on_single_frame_gives_no_context():
    stiau = SpatialTemporalInteraction(16, IAUBlockOptions(stiau_context="temporal"))
    _randomise_norms(stiau)
    delta, _, relation = stiau(torch.randn(2, 16, 8, 4), num_frames=1)
    assert (relation == 0).all()
    assert torch.isfinite(delta).all()


def test_part_features_are_attention_weighted_sums():
    stiau = SpatialTemporalInteraction(8, IAUBlockOptions(num_parts=2))
    x = torch.randn(3, 8, 4, 2)
    parts, part_logits = stiau.divide_parts(x)
    expected = torch.einsum("bnhw,bchw->bnc", torch.sigmoid(part_logits), x)
    torch.testing.assert_close(parts, expected)


def test_patch_division_averages_quadrants():
    stiau = SpatialTemporalInteraction(8, IAUBlockOptions(num_parts=4, part_division="patches"))
    x = torch.randn(2, 8, 4, 4)
    parts, attention = stiau.divide_parts(x)
    assert attention is None
    torch.testing.assert_close(parts[:, 0], x[:, :, :2, :2].mean(dim=(-2, -1)))
    torch.testing.assert_close(parts[:, 3], x[:, :, 2:, 2:].mean(dim=(-2, -1)))


# STIAU's relation bias is added to every logit just before a BN over all logits, which removes it again: its
# gradient is zero in exact arithmetic (only rounding makes it non-zero), so it is only checked to be in the graph.
GRADIENT_FREE = ("stiau.relation.bias",)


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    block = IAUBlock(16)
    _randomise_norms(block)
    x = torch.randn(4 * 2, 16, 8, 4, requires_grad=True)
    y, part_logits, _ = block(x, num_frames=2)
    (y.pow(2).mean() + torch.sigmoid(part_logits).mean()).backward()
    for name, parameter in block.named_parameters():
        assert parameter.grad is not None, name
        assert name.endswith(GRADIENT_FREE) or parameter.grad.abs().sum() > 0, name
    assert x.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "modules,arrangement",
    [
        (("ciau",), "sequential"),
        (("stiau",), "sequential"),
        (("stiau", "ciau"), "sequential"),
        (("ciau", "stiau"), "parallel"),
    ],
)
def test_ablation_variants(modules, arrangement):
    torch.manual_seed(0)
    block = IAUBlock(16, IAUBlockOptions(modules=modules, arrangement=arrangement))
    _randomise_norms(block)
    block.eval()
    x = torch.randn(2, 16, 8, 4)
    y, part_logits, relations = block(x)
    assert hasattr(block, "ciau") == ("ciau" in modules)
    assert hasattr(block, "stiau") == ("stiau" in modules)
    assert (part_logits is not None) == ("stiau" in modules)
    expected_relations = {"ciau": "channel", "stiau": "part"}
    assert set(relations) == {expected_relations[name] for name in modules}
    if arrangement == "parallel":
        delta_c, _ = block.ciau(x)
        delta_s, _, _ = block.stiau(x)
        torch.testing.assert_close(y, x + delta_c + delta_s)
    elif modules == ("stiau", "ciau"):
        delta_s, _, _ = block.stiau(x)
        delta_c, _ = block.ciau(x + delta_s)
        torch.testing.assert_close(y, x + delta_s + delta_c)


def test_ciau_stays_float32_under_autocast():
    ciau = ChannelInteraction(16)
    _randomise_norms(ciau)
    x = torch.randn(2, 16, 8, 4) * 50  # Gram entries far beyond bf16 precision and fp16 range
    with torch.autocast("cpu", dtype=torch.bfloat16):
        delta, relation = ciau(x)
    assert relation.dtype == torch.float32
    _, reference = ciau(x)
    torch.testing.assert_close(relation, reference)
    assert torch.isfinite(delta).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("num_frames", [1, 2])
def test_fused_channel_attention_equals_the_materialised_relation(dtype, num_frames):
    """return_relation=False (one fused attention kernel) gives the same update and gradients."""
    torch.manual_seed(0)
    ciau = ChannelInteraction(16).to(dtype)
    _randomise_norms(ciau)
    x = (torch.randn(2 * num_frames, 16, 8, 4, dtype=dtype) * 3).requires_grad_()
    updates, grads = [], []
    for return_relation in (True, False):
        delta, relation = ciau(x, num_frames, return_relation=return_relation)
        assert (relation is None) == (not return_relation)
        (delta * torch.linspace(-1, 1, delta.numel(), dtype=dtype).view_as(delta)).sum().backward()
        updates.append(delta.detach())
        grads.append((x.grad.clone(), ciau.update.weight.grad.clone()))
        x.grad = None
        ciau.zero_grad()
    tolerance = dict(rtol=1e-4, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(updates[1], updates[0], **tolerance)
    for fused, materialised in zip(grads[1], grads[0]):
        torch.testing.assert_close(fused, materialised, **tolerance)


def test_fused_channel_attention_under_autocast_and_large_features():
    ciau = ChannelInteraction(16)
    _randomise_norms(ciau)
    x = torch.randn(2, 16, 8, 4) * 50  # Gram entries far beyond fp16 range
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fused, relation = ciau(x, return_relation=False)
        materialised, _ = ciau(x)
    assert relation is None and torch.isfinite(fused).all()
    torch.testing.assert_close(fused.float(), materialised.float(), rtol=2e-2, atol=2e-2)


def test_fused_channel_attention_keeps_bf16_logits_in_float32():
    """bf16 rows go to the fused kernel as they are: its Gram logits and softmax must still be float32.

    The rows share a large common part, so the Gram entries are ~1e3 and differ by a few units: a Gram rounded to
    bf16 (steps of 4-8 there) changes the softmax by ~10% of the output, float32 logits by bf16 rounding only.
    """
    from iaunet_hf.model.attention_ops import fused_channel_aggregation

    torch.manual_seed(0)
    rows = (torch.randn(1, 1, 64) * 4 + torch.randn(2, 16, 64)).bfloat16()
    wide = rows.float()
    reference = torch.softmax(wide @ wide.transpose(1, 2), dim=-1) @ wide
    rounded_gram = torch.softmax((wide @ wide.transpose(1, 2)).bfloat16().float(), dim=-1) @ wide
    scale = reference.abs().max()
    assert (rounded_gram - reference).abs().max() / scale > 0.05  # the check below can tell the two apart
    fused = fused_channel_aggregation(rows)
    assert fused.dtype == torch.bfloat16
    assert (fused.float() - reference).abs().max() / scale < 1e-2


def test_block_leaves_out_the_channel_relation_only_when_asked():
    block = IAUBlock(16)
    _randomise_norms(block)
    block.eval()
    x = torch.randn(2, 16, 8, 4)
    y_full, logits_full, full = block(x)
    y, logits, relations = block(x, return_relations=False)
    assert set(full) == {"channel", "part"} and set(relations) == {"part"}
    torch.testing.assert_close(y, y_full, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(logits, logits_full)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(modules=("ciau", "nonlocal")), "iau_modules"),
        (dict(modules=()), "iau_modules"),
        (dict(arrangement="stacked"), "iau_arrangement"),
        (dict(stiau_context="diagonal"), "stiau_context"),
        (dict(part_division="patches", num_parts=3), "num_parts must be 4"),
    ],
)
def test_bad_block_config_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        IAUBlock(16, IAUBlockOptions(**kwargs))


def test_bad_block_input_raises():
    block = IAUBlock(16)
    with pytest.raises(ValueError, match=r"\(B\*T, 16, H, W\)"):
        block(torch.randn(2, 8, 4, 4))
    with pytest.raises(ValueError, match="multiple of num_frames"):
        block(torch.randn(5, 16, 4, 4), num_frames=2)
