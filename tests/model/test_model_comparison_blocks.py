"""The comparison blocks (NL, SE, IANet's SIA/CIA) and the L2 relation strategies, on tiny inputs."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from iaunet_hf.model import IAUBlockOptions
from iaunet_hf.model.attention_ops import channel_aggregation, l2_relation_logits
from iaunet_hf.model.comparison_blocks import ComparisonBlock, NonLocal, SpatialInteraction, location_prior
from iaunet_hf.model.options import COMPARISON_MODULE_NAMES, check_comparison_modules

RESIDUAL = ("nl", "sia", "cia")  # SE is a gating, not a residual branch


def wake_up(block: nn.Module) -> nn.Module:
    """Give every zero-initialised residual BN a non-zero gamma, so the branch contributes."""
    torch.manual_seed(1)
    for module in block.modules():
        if getattr(module, "zero_init_residual", False):
            nn.init.normal_(module.weight, 1.0, 0.2)
            nn.init.normal_(module.bias, 0.0, 0.2)
    return block


@pytest.mark.parametrize("modules", [(name,) for name in COMPARISON_MODULE_NAMES] + [("sia", "cia")])
@pytest.mark.parametrize("frames", [1, 3])
def test_shapes_and_relations(modules: tuple[str, ...], frames: int):
    block = ComparisonBlock(32, modules)
    x = torch.randn(2 * frames, 32, 8, 4)
    y, part_attention, relations = block(x, frames)
    assert y.shape == x.shape and part_attention is None
    positions = 8 * 4
    expected = {
        "nl": ("position", (2, frames * positions, frames * positions)),  # one graph per clip
        "sia": ("position", (2 * frames, positions, positions)),  # frame by frame
        "cia": ("channel", (2, frames * 32, frames * 32)),  # one row per channel per frame, as CIAU
        "se": ("excitation", (2 * frames, 32)),
    }
    assert {key: tuple(value.shape) for key, value in relations.items()} == dict(expected[m] for m in modules)
    for name in modules:
        if name != "se":
            relation = relations[expected[name][0]]
            torch.testing.assert_close(relation.sum(-1), torch.ones(relation.shape[:-1]))


@pytest.mark.parametrize("name", RESIDUAL)
def test_residual_blocks_start_as_the_identity(name: str):
    x = torch.randn(4, 16, 8, 4)
    block = ComparisonBlock(16, (name,))
    for mode in (block.train, block.eval):
        mode()
        assert torch.equal(block(x, 2)[0], x)


def test_se_is_a_per_frame_channel_gate():
    block = ComparisonBlock(32, ("se",))
    x = torch.randn(6, 32, 8, 4)
    y, _, relations = block(x, 3)
    weights = relations["excitation"]
    assert ((weights > 0) & (weights < 1)).all()
    torch.testing.assert_close(y, x * weights[:, :, None, None])
    assert not torch.equal(y, x)  # SE cannot start as the identity: the docs say so
    # each frame is gated by its own pooled statistics
    other = x.clone()
    other[0] += 1.0
    assert torch.equal(block(other, 3)[2]["excitation"][1:], weights[1:])


@pytest.mark.parametrize("modules", [(name,) for name in COMPARISON_MODULE_NAMES] + [("sia", "cia")])
def test_gradients_reach_every_parameter(modules: tuple[str, ...]):
    block = wake_up(ComparisonBlock(16, modules)).train()
    x = torch.randn(4, 16, 8, 4, requires_grad=True)
    y, _, _ = block(x, 2)
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    for name, parameter in block.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_zero_init_branch_still_learns():
    """At init only the residual BN gets a gradient, as in ResNets' zero-init residual blocks."""
    block = ComparisonBlock(16, ("nl",)).train()
    y, _, _ = block(torch.randn(2, 16, 8, 4), 1)
    (y * torch.randn_like(y)).sum().backward()
    assert block.nl.norm.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("modules", [(name,) for name in COMPARISON_MODULE_NAMES])
def test_autocast_keeps_relations_in_float32(modules: tuple[str, ...]):
    block = wake_up(ComparisonBlock(16, modules)).eval()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        # large activations: raw affinities far beyond bf16's precision must not overflow
        assert torch.isfinite(block(torch.randn(4, 16, 8, 4) * 30, 2)[0]).all()
        x = torch.randn(4, 16, 8, 4)
        y, _, relations = block(x, 2)
    reference, _, _ = block(x, 2)
    assert (y.float() - reference).abs().mean() < 0.05 * reference.abs().mean()
    for name, relation in relations.items():
        if name != "excitation":
            assert relation.dtype == torch.float32


def test_float64_stays_float64():
    block = wake_up(ComparisonBlock(8, ("sia", "cia"))).double().eval()
    y, _, relations = block(torch.randn(2, 8, 4, 4, dtype=torch.float64), 1)
    assert y.dtype == torch.float64 and all(r.dtype == torch.float64 for r in relations.values())


def test_clips_relate_frames_only_where_the_formulation_says():
    """NL and CIA mix the frames of a clip; SIA and SE treat each frame alone."""
    x = torch.randn(2, 16, 8, 4)
    changed = x.clone()
    changed[0] += torch.randn(16, 8, 4)
    for name, mixes_frames in (("nl", True), ("cia", True), ("sia", False), ("se", False)):
        block = wake_up(ComparisonBlock(16, (name,))).eval()
        second_frame = block(x, 2)[0][1]
        assert torch.equal(block(changed, 2)[0][1], second_frame) is not mixes_frames, name


def test_non_local_matches_the_embedded_gaussian_formula():
    block = wake_up(NonLocal(8)).double().eval()
    x = torch.randn(2, 8, 3, 2, dtype=torch.float64)  # a clip of 2 frames: 12 positions
    z, relation = block(x, 2)

    def positions(conv: nn.Conv2d) -> torch.Tensor:  # (12, C') over frames then rows then columns
        return conv(x).permute(0, 2, 3, 1).reshape(-1, conv.out_channels)

    theta, phi, g = positions(block.theta), positions(block.phi), positions(block.g)
    expected_relation = torch.softmax(theta @ phi.T, dim=-1)
    y = (expected_relation @ g).reshape(2, 3, 2, -1).permute(0, 3, 1, 2)
    torch.testing.assert_close(relation[0], expected_relation)
    torch.testing.assert_close(z, x + block.norm(block.out(y)))


def test_location_prior_is_ianets():
    prior = location_prior(32, 16, dtype=torch.float64)  # the stage-2 map: alpha = (10, 20) in IANet
    assert prior.shape == (512, 512)
    torch.testing.assert_close(prior.sum(-1), torch.ones(512, dtype=torch.float64))
    i, j = 5 * 16 + 3, 20 * 16 + 11  # (row 5, col 3) and (row 20, col 11)
    logits = [
        -((c - 3) ** 2) / (2 * 10**2) - (r - 5) ** 2 / (2 * 20**2) for r in range(32) for c in range(16)
    ]
    expected = math.exp(logits[j]) / sum(math.exp(v) for v in logits)
    assert prior[i, j].item() == pytest.approx(expected, rel=1e-12)
    # the prior follows the input's map size (IANet's code fixed it)
    assert location_prior(16, 8).shape == (128, 128)


def test_sia_matches_its_formulation():
    block = wake_up(SpatialInteraction(6)).double().eval()
    x = torch.randn(1, 6, 4, 2, dtype=torch.float64)
    z, relation = block(x, 1)
    positions = x[0].flatten(1).T  # (8, C)
    semantic = torch.softmax(positions @ positions.T / math.sqrt(6), dim=-1)
    expected = torch.softmax(location_prior(4, 2, dtype=torch.float64) * semantic, dim=-1)
    torch.testing.assert_close(relation[0], expected)
    torch.testing.assert_close(z, x + block.norm((expected @ positions).T.reshape(1, 6, 4, 2)))


def test_l2_relations_are_minus_squared_distances():
    rows = torch.randn(2, 5, 7, dtype=torch.float64)
    distances = torch.cdist(rows, rows) ** 2
    aggregated, relation = channel_aggregation(rows, "l2")
    torch.testing.assert_close(relation, torch.softmax(-distances, dim=-1))
    torch.testing.assert_close(aggregated, relation @ rows)
    _, dot = channel_aggregation(rows, "dot")
    torch.testing.assert_close(dot, torch.softmax(rows @ rows.transpose(1, 2), dim=-1))
    torch.testing.assert_close(l2_relation_logits(rows), -distances)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert channel_aggregation(rows.float().to(torch.bfloat16), "l2")[1].dtype == torch.float32
        assert l2_relation_logits(rows.to(torch.bfloat16)).dtype == torch.float32


class ClipWrapper(nn.Module):
    """A block on 2-frame clips, returning only the map (what a traced network sees)."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x, 2)[0]


def test_fx_symbolic_trace_matches_eager():
    for modules in [("nl",), ("se",), ("sia", "cia")]:
        block = wake_up(ComparisonBlock(16, modules)).eval()

        wrapper = ClipWrapper(block)
        traced = torch.fx.symbolic_trace(wrapper)
        x = torch.randn(4, 16, 8, 4)
        torch.testing.assert_close(traced(x), wrapper(x), rtol=0, atol=0)


def test_meta_device_construction():
    block = ComparisonBlock(16, ("nl", "cia"), device="meta")
    assert all(p.device.type == "meta" for p in block.parameters())


def test_bad_options_and_inputs_name_the_problem():
    with pytest.raises(ValueError, match="non-empty ordered subset"):
        check_comparison_modules(("nl", "nl"))
    with pytest.raises(ValueError, match="non-empty ordered subset"):
        ComparisonBlock(16, ("ciau",))
    with pytest.raises(ValueError, match="'nl' and 'sia' both relate positions"):
        check_comparison_modules(("nl", "sia"))
    with pytest.raises(ValueError, match="channel_affinity must be one of"):
        IAUBlockOptions(channel_affinity="cosine")
    with pytest.raises(ValueError, match="part_affinity must be one of"):
        IAUBlockOptions(part_affinity="dot")
    block = ComparisonBlock(16, ("se",))
    with pytest.raises(ValueError, match=r"expects a \(B\*T, 16, H, W\) tensor"):
        block(torch.randn(2, 8, 4, 4))
    with pytest.raises(ValueError, match="not a multiple of 2"):
        block(torch.randn(3, 16, 4, 4), 2)
