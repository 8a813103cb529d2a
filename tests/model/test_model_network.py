"""The IAUnet network: shapes, the paper's parameter/MAC budget, clips, numerics and compilation."""

import copy

import pytest
import torch

from iaunet_hf.model import IAUnet

SMALL = dict(depth=18)
H, W = 64, 32


def _live_residuals(model: torch.nn.Module) -> None:
    """Zero-initialised residual BNs hide the IAU branches; give them weight so the tests see the branches."""
    torch.manual_seed(1)
    for module in model.modules():
        if getattr(module, "zero_init_residual", False):
            torch.nn.init.uniform_(module.weight, 0.5, 1.0)
            torch.nn.init.uniform_(module.bias, -0.1, 0.1)


def test_image_and_clip_shapes():
    model = IAUnet(**SMALL, num_classes=7).eval()
    out = model.forward_reid(torch.randn(2, 3, H, W), return_relations=True)
    assert out.embedding.shape == out.global_feature.shape == (2, 512)
    assert out.logits.shape == (2, 7)
    assert out.feature_map.shape == (2, 512, H // 16, W // 16)
    assert [a.shape for a in out.part_attention] == [(2, 4, H // 8, W // 8), (2, 4, H // 16, W // 16)]
    assert out.relations[0]["channel"].shape == (2, 128, 128)

    clip = model.forward_reid(torch.randn(2, 3, 3, H, W))
    assert clip.embedding.shape == (2, 512)
    assert clip.feature_map.shape == (2, 3, 512, H // 16, W // 16)
    assert clip.part_attention[0].shape == (2, 3, 4, H // 8, W // 8)


def test_forward_is_embedding_without_classifier_and_post_bn():
    model = IAUnet(**SMALL).eval()
    x = torch.randn(3, 3, H, W)
    out = model.forward_reid(x)
    torch.testing.assert_close(model(x), out.embedding)
    torch.testing.assert_close(model.bnneck(out.global_feature), out.embedding)
    assert out.logits is None


def test_clip_embedding_is_temporal_mean_before_the_neck():
    model = IAUnet(**SMALL, iau_stages=()).eval()  # no IAU: frames are independent
    clip = torch.randn(2, 4, 3, H, W)
    pooled_frames = model.forward_reid(clip.flatten(0, 1)).global_feature.unflatten(0, (2, 4)).mean(1)
    torch.testing.assert_close(model.forward_reid(clip).global_feature, pooled_frames, rtol=1e-5, atol=1e-5)


def test_single_frame_clip_matches_image_model_with_same_weights():
    """With T=1 STIAU reduces to SIAU and CIAU to the image CIAU (spec §1b), so both models agree."""
    video = IAUnet(**SMALL, iau_stages=(2,), num_frames=4)
    _live_residuals(video)
    image = IAUnet(**SMALL, iau_stages=(2,), num_frames=1)
    image.load_state_dict(video.state_dict())
    video.eval(), image.eval()
    x = torch.randn(2, 3, H, W)
    torch.testing.assert_close(video(x[:, None]), image(x))


def test_shorter_clip_than_configured_runs_and_uses_temporal_relations():
    model = IAUnet(**SMALL, iau_stages=(2,), num_frames=4)
    _live_residuals(model)
    model.eval()
    clip = torch.randn(1, 2, 3, H, W)
    out = model.forward_reid(clip, return_relations=True)
    relation = out.relations[0]["part"][0]  # (2*4, 2*4)
    assert relation.shape == (8, 8)
    assert relation[0, 4] > 0  # part 0 of frame 0 attends to part 0 of frame 1
    assert relation[0, 5] == 0  # ... but never to another part of another frame


@pytest.mark.parametrize(
    "kwargs,params_m",
    [
        (dict(iau_stages=()), 23.51),
        (dict(iau_modules=("ciau",)), 24.83),
        (dict(iau_modules=("stiau",)), 26.15),
        (dict(), 27.46),
        (dict(iau_stages=(2,), num_frames=4), 24.31),
    ],
)
def test_parameter_counts_match_table_vi(kwargs, params_m):
    model = IAUnet(depth=50, num_classes=751, **kwargs)
    params = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("classifier."))
    assert abs(params / 1e6 - params_m) / params_m < 0.003


@pytest.mark.slow
def test_macs_match_table_vi_at_256x128():
    from torch.utils.flop_counter import FlopCounterMode

    for kwargs, frames, gmacs in [
        (dict(iau_stages=()), 1, 4.06),
        (dict(), 1, 4.87),
        (dict(iau_stages=(2,)), 4, 21.08),
    ]:
        model = IAUnet(depth=50, **kwargs).eval()
        shape = (1, 3, 256, 128) if frames == 1 else (1, frames, 3, 256, 128)
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:  # the materialised CIAU relation: the counter sees its products
            model.forward_reid(torch.zeros(shape), return_relations=True)
        assert abs(counter.get_total_flops() / 2e9 - gmacs) / gmacs < 0.02


# STIAU's relation bias is added to every logit just before a BN over all logits, which removes it again: its
# gradient is zero in exact arithmetic (only rounding makes it non-zero), so it is only checked to be in the graph.
GRADIENT_FREE = ("stiau.relation.bias",)


def test_gradients_reach_every_parameter():
    model = IAUnet(**SMALL, num_classes=4)
    _live_residuals(model)
    out = model.forward_reid(torch.randn(4, 3, H, W))
    (out.logits.sum() + sum(a.mean() for a in out.part_attention)).backward()
    missing = [
        n
        for n, p in model.named_parameters()
        if p.grad is None or (p.grad.abs().sum() == 0 and not n.endswith(GRADIENT_FREE))
    ]
    assert not missing


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_runs_under_cpu_autocast(dtype):
    model = IAUnet(**SMALL, num_classes=4)
    _live_residuals(model)
    model.eval()
    x = torch.randn(2, 3, H, W)
    with torch.autocast("cpu", dtype=dtype):
        out = model.forward_reid(x, return_relations=True)
    assert all(r["channel"].dtype == torch.float32 for r in out.relations)
    assert torch.isfinite(out.embedding).all() and torch.isfinite(out.logits).all()
    reference = model(x)
    cosine = torch.nn.functional.cosine_similarity(out.logits.float(), reference, dim=1)
    assert (cosine > 0.98).all()


def test_channels_last_gives_same_embeddings():
    model = IAUnet(**SMALL).eval()
    x = torch.randn(2, 3, H, W)
    reference = model(x)
    fast = copy.deepcopy(model).to(memory_format=torch.channels_last)
    torch.testing.assert_close(fast(x.to(memory_format=torch.channels_last)), reference, rtol=1e-4, atol=1e-4)


def test_torch_export_matches_eager():
    model = IAUnet(**SMALL).eval()
    x = torch.randn(2, 3, H, W)
    exported = torch.export.export(model, (x,))
    torch.testing.assert_close(exported.module()(x), model(x), rtol=1e-4, atol=1e-4)


def test_torch_compile_matches_eager():
    model = IAUnet(**SMALL, iau_stages=(2,)).eval()
    x = torch.randn(2, 3, H, W)
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "shape,message",
    [
        ((3, H, W), "got a tensor of shape"),
        ((2, 1, H, W), "3 input channels"),
        ((2, 3, 60, 32), "divisible by 16"),
    ],
)
def test_bad_input_raises(shape, message):
    with pytest.raises(ValueError, match=message):
        IAUnet(**SMALL)(torch.randn(shape))


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(depth=200), "depth"),
        (dict(iau_stages=(5,)), "iau_stages"),
        (dict(iau_modules=("ciau", "gcn")), "iau_modules"),
        (dict(last_stride=3), "last_stride"),
    ],
)
def test_bad_network_config_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        IAUnet(**{**SMALL, **kwargs})
