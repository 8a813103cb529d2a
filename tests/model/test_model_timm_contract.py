"""timm's model contract, for every registered IAUnet: factory kwargs (device/dtype, meta), pruning, torch.fx,
features, heads and clear input errors."""

import pytest
import timm
import torch
from torch.fx import symbolic_trace

import iaunet_hf  # noqa: F401  (registers the models)

H, W = 64, 32
NAMES = ("iaunet_resnet18", "iaunet_resnet34", "iaunet_resnet50", "iaunet_resnet50_video")
REGISTERED = timm.list_models("iaunet_*")  # every registered variant, the paper's other backbones included


def _live(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Non-zero BN affines and statistics, so the zero-initialised residual branches take part."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                shape = module.weight.shape
                module.weight.copy_(torch.rand(shape, generator=generator) + 0.5)
                module.bias.copy_(torch.rand(shape, generator=generator) * 0.2 - 0.1)
                module.running_var.copy_(torch.rand(shape, generator=generator) + 0.5)
    return model


def _input(model, batch: int = 2, frames: int = 2) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    shape = (batch, frames, 3, H, W) if model.options.num_frames > 1 else (batch, 3, H, W)
    return torch.randn(*shape, generator=generator)


@pytest.mark.parametrize("name", REGISTERED)
def test_meta_device_construction(name):
    model = timm.create_model(name, device="meta", num_classes=10)
    tensors = [*model.parameters(), *model.buffers()]
    assert tensors and all(t.device.type == "meta" for t in tensors)
    model.reset_classifier(5)
    assert all(p.device.type == "meta" for p in model.get_classifier().parameters())


def test_device_and_dtype_kwargs_build_every_layer():
    model = timm.create_model("iaunet_resnet18", num_classes=3, device="cpu", dtype=torch.float64)
    floating = [t for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()]
    assert floating and all(t.dtype == torch.float64 for t in floating)
    model.reset_classifier(4)
    assert model.classifier.weight.dtype == torch.float64
    output = model.eval()(torch.randn(2, 3, H, W, dtype=torch.float64))
    assert output.dtype == torch.float64 and output.shape == (2, 4)


def test_unknown_constructor_kwargs_still_raise():
    with pytest.raises(TypeError):
        timm.create_model("iaunet_resnet18", not_an_option=1)
    with pytest.raises(ValueError, match="global_pool"):
        timm.create_model("iaunet_resnet18", global_pool="max")


@pytest.mark.parametrize("indices", [[0], [0, 1], [1, 2], [0, 2, 4], 2])
@pytest.mark.parametrize("name", ["iaunet_resnet18", "iaunet_resnet50_video"])
def test_pruning_keeps_the_requested_taps(name, indices):
    model = _live(timm.create_model(name)).eval()
    x = _input(model)
    with torch.no_grad():
        before = model.forward_intermediates(x, indices, intermediates_only=True)
        model.prune_intermediate_layers(indices)
        after = model.forward_intermediates(x, indices, intermediates_only=True)
    assert len(before) == len(after)
    for full, pruned in zip(before, after, strict=True):
        assert torch.equal(full, pruned)


@pytest.mark.parametrize(
    "name,frames", [("iaunet_resnet18", 1), ("iaunet_resnet18", 3), ("iaunet_resnet50_video", 2)]
)
def test_fx_traced_forward_and_backward_equal_eager(name, frames):
    eager = _live(timm.create_model(name, num_classes=5)).train()
    traced = symbolic_trace(eager)
    shape = (2, frames, 3, H, W) if frames > 1 else (2, 3, H, W)
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(2))
    results = []
    for module in (eager, traced):
        module.zero_grad()
        inputs = x.clone().requires_grad_(True)
        output = module(inputs)
        output.pow(2).mean().backward()
        results.append(
            (output.detach(), inputs.grad, {n: p.grad.clone() for n, p in module.named_parameters()})
        )
    (out_e, grad_e, params_e), (out_t, grad_t, params_t) = results
    assert torch.equal(out_e, out_t) and torch.equal(grad_e, grad_t)
    assert params_e.keys() == params_t.keys()
    for key in params_e:
        assert torch.equal(params_e[key], params_t[key]), key


@pytest.mark.parametrize("name", ["iaunet_resnet18", "iaunet_resnet50_video"])
def test_fx_feature_extractor_gives_the_intermediates(name):
    reference = _live(timm.create_model(name)).eval()
    state = reference.state_dict()
    fx_features = timm.create_model(name, features_only=True, feature_cls="fx")
    fx_features.load_state_dict({f"graph_module.{k}": v for k, v in state.items()}, strict=False)
    fx_features.eval()
    x = _input(reference)
    with torch.no_grad():
        expected = reference.forward_intermediates(x, intermediates_only=True)
        maps = fx_features(x)
    assert len(maps) == len(expected) == 5
    for got, want in zip(maps, expected, strict=True):
        assert torch.equal(got, want)
    assert fx_features.feature_info.channels() == [t.shape[1] for t in expected]


@pytest.mark.parametrize("name", NAMES)
def test_every_model_keeps_the_timm_interface(name):
    model = timm.create_model(name, num_classes=7).eval()
    x = _input(model, batch=2, frames=2)
    with torch.no_grad():
        features = model.forward_features(x)
        embedding = model.forward_head(features, pre_logits=True)
        logits = model(x)
        assert torch.equal(model.forward_head(features), logits) and logits.shape == (2, 7)
        assert torch.equal(model.forward_reid(x).embedding, embedding)
        model.reset_classifier(0)
        assert torch.equal(model(x), embedding)
    assert embedding.shape == (2, model.head_hidden_size)
    config = timm.data.resolve_model_data_config(model)
    assert config["input_size"] == (3, 256, 128) and config["interpolation"] == "bicubic"
    assert model.pretrained_cfg["hf_hub_id"].startswith("timm/resnet")
    features_only = timm.create_model(name, features_only=True, out_indices=(1, 2))
    assert len(features_only(x)) == 2


@pytest.mark.reliability
def test_integer_pixels_are_refused_with_advice():
    model = timm.create_model("iaunet_resnet18")
    with pytest.raises(ValueError, match=r"float.*normalise.*IAUnetImageProcessor"):
        model(torch.randint(0, 256, (1, 3, H, W), dtype=torch.uint8))


@pytest.mark.reliability
@pytest.mark.parametrize("name", ["iaunet_resnet18", "iaunet_resnet50_video"])
def test_a_clip_of_zero_frames_is_a_value_error(name):
    model = timm.create_model(name)
    with pytest.raises(ValueError, match="0 frames"):
        model(torch.zeros(2, 0, 3, H, W))
    with pytest.raises(ValueError, match="0 frames"):
        model.forward_intermediates(torch.zeros(2, 0, 3, H, W))


def test_gradient_checkpointing_through_timm_gives_the_same_gradients():
    model = _live(timm.create_model("iaunet_resnet18", num_classes=4)).train()
    x = torch.randn(4, 3, H, W, generator=torch.Generator().manual_seed(4))
    grads = []
    for enable in (False, True):
        model.set_grad_checkpointing(enable)
        model.zero_grad()
        model(x).logsumexp(1).mean().backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})
    assert model.grad_checkpointing
    for key in grads[0]:
        torch.testing.assert_close(grads[0][key], grads[1][key], rtol=0, atol=1e-6)


def test_one_traced_graph_serves_images_and_clips():
    model = _live(timm.create_model("iaunet_resnet18")).eval()
    traced = symbolic_trace(model)
    with torch.no_grad():
        for x in (torch.randn(2, 3, H, W), torch.randn(2, 3, 3, H, W)):
            assert torch.equal(traced(x), model(x))
