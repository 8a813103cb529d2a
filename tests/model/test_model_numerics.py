"""Numerics: float64 end to end (parity with the authors' formulation written out here), gradcheck, at least float32
attention under autocast, and the spec's default bias init."""

import math

import pytest
import timm
import torch
import torch.nn.functional as F

import iaunet_hf  # noqa: F401  (registers the models)
from iaunet_hf import IAUnetConfig, IAUnetForReID
from iaunet_hf.model import IAUBlock, IAUBlockOptions, SpatialTemporalInteraction
from iaunet_hf.model.attention_ops import relation_mask


def _randomise(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random BN affines and statistics (the residual BNs start at zero) and eval mode: every branch is live."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                shape = m.weight.shape
                m.weight.copy_(torch.rand(shape, generator=generator, dtype=m.weight.dtype) + 0.5)
                m.bias.copy_(torch.rand(shape, generator=generator, dtype=m.bias.dtype) - 0.5)
                m.running_mean.copy_(
                    torch.randn(shape, generator=generator, dtype=m.running_mean.dtype) * 0.1
                )
                m.running_var.copy_(torch.rand(shape, generator=generator, dtype=m.running_var.dtype) + 0.5)
    return module.eval()


def _bn(x: torch.Tensor, norm: torch.nn.Module, dim: int) -> torch.Tensor:
    """Eval-mode batch norm written out: (x - mean) / sqrt(var + eps) * gamma + beta, along ``dim``."""
    shape = [1] * x.dim()
    shape[dim] = -1
    mean, var = norm.running_mean.view(shape), norm.running_var.view(shape)
    return (x - mean) / torch.sqrt(var + norm.eps) * norm.weight.view(shape) + norm.bias.view(shape)


def _reference_iau(block: IAUBlock, x: torch.Tensor, num_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The authors' CIAU then STIAU (spec §1a, §1b), with the full [|p'_i - p'_j| ; u'] concatenation."""
    ciau, stiau = block.ciau, block.stiau
    bt, c, h, w = x.shape
    b = bt // num_frames
    # CIAU: every channel of every frame attends to all others through the softmax of the raw Gram matrix.
    rows = x.reshape(b, num_frames * c, h * w)
    affinity = torch.softmax(torch.einsum("bik,bjk->bij", rows, rows), dim=-1)
    aggregated = torch.einsum("bij,bjk->bik", affinity, rows).reshape(bt, c, h, w)
    update = F.conv2d(aggregated, ciau.update.weight, ciau.update.bias)
    f1 = x + _bn(update, ciau.norm, 1)
    # STIAU: part division, part and global nodes through the shared g.
    n = stiau.num_parts
    attention = torch.sigmoid(
        _bn(F.conv2d(f1, stiau.part_conv.weight, stiau.part_conv.bias), stiau.part_norm, 1)
    )
    parts = torch.einsum("tnhw,tchw->tnc", attention, f1).reshape(b, num_frames * n, c)
    global_node = f1.reshape(b, num_frames, c, h * w).mean(dim=(1, 3))
    p = F.linear(parts, stiau.embed.weight, stiau.embed.bias)
    u = F.linear(global_node, stiau.embed.weight, stiau.embed.bias)
    nodes = num_frames * n
    pairs = torch.cat(
        [(p[:, :, None] - p[:, None]).abs(), u[:, None, None].expand(b, nodes, nodes, -1)], dim=-1
    )
    logits = _bn(
        F.linear(pairs, stiau.relation.weight, stiau.relation.bias).squeeze(-1), stiau.relation_norm, 0
    )
    allowed = relation_mask(num_frames, n, stiau.context)
    relation = torch.softmax(logits.masked_fill(~allowed, -1e8), dim=-1)
    context = torch.einsum("bij,bjc->bic", relation, p)
    updated = F.linear(torch.cat([p, context], dim=-1), stiau.part_update.weight, stiau.part_update.bias)
    updated = F.relu(_bn(updated, stiau.part_update_norm, -1)).reshape(b, num_frames, n, c // 2)
    frame = torch.cat([updated.mean(dim=2), u[:, None].expand(b, num_frames, -1)], dim=-1)
    delta = _bn(
        F.linear(frame, stiau.frame_update.weight, stiau.frame_update.bias).reshape(bt, c),
        stiau.frame_update_norm,
        1,
    )
    return f1 + delta[:, :, None, None], attention


@pytest.mark.parametrize("num_frames", [1, 3])
def test_float64_block_matches_the_authors_formulation(num_frames):
    torch.manual_seed(0)
    block = _randomise(IAUBlock(16, IAUBlockOptions(num_parts=4), dtype=torch.float64))
    x = torch.randn(2 * num_frames, 16, 8, 4, dtype=torch.float64)
    with torch.no_grad():
        y, part_logits, relations = block(x, num_frames)
        expected, expected_attention = _reference_iau(block, x, num_frames)
    assert y.dtype == relations["channel"].dtype == relations["part"].dtype == torch.float64
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.sigmoid(part_logits), expected_attention, rtol=0, atol=1e-12)


def test_float64_network_stays_float64_end_to_end():
    model = _randomise(timm.create_model("iaunet_resnet18", num_classes=3, dtype=torch.float64))
    x = torch.randn(2, 3, 64, 32, dtype=torch.float64)
    with torch.no_grad():
        out = model.forward_reid(x, return_relations=True, return_hidden_states=True)
    tensors = [out.embedding, out.logits, *out.part_logits, *out.hidden_states]
    tensors += [r for stage in out.relations for r in stage.values()]
    assert all(t.dtype == torch.float64 for t in tensors)


def test_gradcheck_on_a_small_iau_block():
    torch.manual_seed(0)
    block = _randomise(IAUBlock(4, IAUBlockOptions(num_parts=2), dtype=torch.float64))
    x = torch.randn(1 * 2, 4, 2, 2, dtype=torch.float64, requires_grad=True)  # one clip of two frames

    def function(inputs):
        y, part_logits, relations = block(inputs, 2)
        return y, torch.sigmoid(part_logits), relations["part"]

    assert torch.autograd.gradcheck(function, (x,), eps=1e-6, atol=1e-5)


def test_attention_softmaxes_run_in_float32_under_autocast():
    torch.manual_seed(0)
    stiau = _randomise(SpatialTemporalInteraction(16))
    block = _randomise(IAUBlock(16))
    x = torch.randn(4, 16, 8, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, _, relation = stiau(x, num_frames=2)
        _, _, relations = block(x, num_frames=2)
    assert relation.dtype == torch.float32
    assert relations["channel"].dtype == relations["part"].dtype == torch.float32


@pytest.mark.parametrize("face", ["timm", "transformers"])
def test_block_biases_use_the_default_uniform_init(face):
    torch.manual_seed(0)
    if face == "timm":
        model = timm.create_model("iaunet_resnet18", num_classes=5)
    else:
        model = IAUnetForReID(IAUnetConfig(depth=18, image_size=(64, 32), num_labels=5))
    checked = 0
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Conv2d | torch.nn.Linear) and module.bias is not None:
            if getattr(module, "is_classifier", False):
                assert (module.bias == 0).all(), name  # the authors' classifier init
                continue
            fan_in = module.weight[0].numel()
            bound = 1 / math.sqrt(fan_in)
            assert module.bias.abs().max() <= bound and module.bias.abs().max() > bound / 10, name
            checked += 1
    assert checked == 2 * 6  # two IAU blocks: the CIAU conv, the part conv and four STIAU linears each
