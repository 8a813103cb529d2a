"""The paper's other rows as models: comparison blocks and relation strategies through ``iau_modules``,
GoogLeNet-BN, PCB and ResNet-101/152, through timm's and transformers' generic APIs (tiny inputs)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import timm
import torch
import torch.nn.functional as F
import torchvision
from safetensors.torch import save_file
from torch import nn
from transformers import AutoModel

import iaunet_hf  # noqa: F401  (registers the models)
from iaunet_hf.configuration_iaunet import IAUnetConfig
from iaunet_hf.model import IAUnet
from iaunet_hf.modeling_iaunet import IAUnetForReID

H, W = 64, 32
LABELS = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])


def wake_up(model: nn.Module) -> nn.Module:
    """Non-zero gammas in every zero-initialised residual BN, so the new blocks change the output."""
    torch.manual_seed(3)
    for module in model.modules():
        if getattr(module, "zero_init_residual", False):
            nn.init.normal_(module.weight, 1.0, 0.2)
    return model


ROWS = [
    ("iaunet_resnet18", dict(iau_modules=["nl"])),
    ("iaunet_resnet18", dict(iau_modules=["se"])),
    ("iaunet_resnet18", dict(iau_modules=["sia", "cia"])),
    ("iaunet_resnet18", dict(channel_affinity="l2", part_affinity="l2")),
    ("iaunet_googlenet", dict()),
    ("iaunet_googlenet", dict(iau_stages=[])),
    ("iaunet_resnet50_pcb", dict()),
]


# STIAU's relation bias is added to every logit just before a BN over all logits, which removes it again: its
# gradient is zero in exact arithmetic (only rounding makes it non-zero), so it is only checked to be in the graph.
GRADIENT_FREE = ("stiau.relation.bias",)


@pytest.mark.parametrize("architecture, kwargs", ROWS)
def test_rows_build_train_and_take_clips(architecture: str, kwargs: dict):
    model = wake_up(timm.create_model(architecture, num_classes=4, **kwargs)).train()
    out = model.forward_reid(torch.randn(8, 3, H, W))
    assert out.logits.shape == (8, 4) and out.embedding.shape == (8, model.head_hidden_size)
    (out.logits.sum() + sum(logits.mean() for logits in out.part_logits)).backward()
    frozen = [
        n
        for n, p in model.named_parameters()
        if p.grad is None or not (p.grad.abs().sum() > 0 or n.endswith(GRADIENT_FREE))
    ]
    assert not frozen
    clip = model.eval().forward_reid(torch.randn(2, 3, 3, H, W))  # clips of 3 frames
    assert clip.embedding.shape == (2, model.head_hidden_size)
    assert all(logits.shape[:3] == (2, 3, 4) for logits in clip.part_logits)


@pytest.mark.parametrize(
    "backbone, modules", [("resnet", ["nl"]), ("resnet", ["sia", "cia"]), ("googlenet", ["ciau", "stiau"])]
)
def test_new_blocks_start_as_the_identity_of_their_baseline(backbone: str, modules: list[str]):
    """NL, SIA, CIA and IAU are zero-initialised residuals, so each network starts as its baseline."""
    model = IAUnet(depth=18, backbone=backbone, iau_modules=modules).eval()
    baseline = IAUnet(depth=18, backbone=backbone, iau_stages=()).eval()
    baseline.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("iau.")})
    x = torch.randn(2, 3, H, W)
    torch.testing.assert_close(model(x), baseline(x), rtol=0, atol=0)


@pytest.mark.parametrize("architecture", ["iaunet_googlenet", "iaunet_resnet50_pcb"])
def test_autocast_bf16(architecture: str):
    model = wake_up(timm.create_model(architecture, num_classes=4, iau_modules=["ciau", "stiau"])).eval()
    x = torch.randn(2, 3, H, W)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        embedding = model.forward_head(model.forward_features(x), pre_logits=True)
    assert torch.isfinite(embedding).all()
    reference = model.forward_head(model.forward_features(x), pre_logits=True)
    assert F.cosine_similarity(embedding.float(), reference).min() > 0.98


@pytest.mark.parametrize("modules", [["nl"], ["se"], ["sia"]])
def test_comparison_blocks_in_the_video_model(modules: list[str]):
    model = timm.create_model("iaunet_resnet18", iau_stages=[2], num_frames=4, iau_modules=modules).eval()
    out = model.forward_reid(torch.randn(2, 4, 3, H, W), return_relations=True)
    relation = next(iter(out.relations[0].values()))
    positions = (H // 8) * (W // 8)
    if modules == ["nl"]:
        assert relation.shape == (
            2,
            4 * positions,
            4 * positions,
        )  # one graph over the clip's T*H*W positions
    elif modules == ["sia"]:
        assert relation.shape == (2 * 4, positions, positions)  # frame by frame
    assert out.embedding.shape == (2, 512)


def test_pcb_outputs_and_loss():
    model = wake_up(timm.create_model("iaunet_resnet50_pcb", num_classes=4)).train()
    out = model.forward_reid(torch.randn(8, 3, H, W))
    assert out.embedding.shape == (8, 6 * 256)
    assert out.stripe_logits.shape == (8, 6, 4)
    torch.testing.assert_close(out.logits, out.stripe_logits.mean(dim=1))
    assert [entry["module"] for entry in model.feature_info][2:4] == ["iau.layer2", "iau.layer3"]

    config = IAUnetConfig.from_options(
        model.options, image_size=[H, W], label_smoothing=0.0, triplet_weight=0.0
    )
    reid = IAUnetForReID.from_timm(model, config).train()
    masks = (torch.rand(8, 4, H, W) > 0.5).float()
    torch.manual_seed(0)
    result = reid(torch.randn(8, 3, H, W), labels=LABELS, part_masks=masks)
    torch.manual_seed(0)
    again = reid.iaunet.network.forward_reid(torch.randn(8, 3, H, W), classifier=reid.classifier)
    stripes = sum(F.cross_entropy(again.stripe_logits[:, k].float(), LABELS) for k in range(6))
    part = torch.stack(
        [
            F.binary_cross_entropy_with_logits(
                logits.float(), F.interpolate(masks, size=logits.shape[-2:], mode="bilinear")
            )
            for logits in again.part_logits
        ]
    ).mean()
    torch.testing.assert_close(result.loss_components["cross_entropy"], stripes)
    torch.testing.assert_close(result.loss, stripes + 0.5 * part, rtol=1e-4, atol=1e-4)
    assert result.loss_components["triplet"] == 0
    result.loss.backward()
    assert all(linear.weight.grad is not None for linear in reid.classifier.stripes)


def test_googlenet_imagenet_weights_load_through_pretrained_cfg_overlay(tmp_path: Path):
    reference = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False)
    for parameter in reference.parameters():
        nn.init.normal_(parameter, 0, 0.05)
    file = tmp_path / "googlenet_imagenet.safetensors"
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, file)
    model = timm.create_model(
        "iaunet_googlenet", pretrained=True, pretrained_cfg_overlay=dict(file=str(file))
    )
    state = model.state_dict()
    for key, value in reference.state_dict().items():
        if not key.startswith(("aux1.", "aux2.", "fc.")):
            assert torch.equal(state[key], value), key
    # the IAU blocks, BN neck and classifier keep their own initialisation
    assert torch.equal(state["bnneck.weight"], torch.ones(1024))
    # a file of another backbone is refused, naming it
    resnet = tmp_path / "resnet18.safetensors"
    save_file(torchvision.models.resnet18().state_dict(), resnet)
    with pytest.raises(ValueError, match="resnet18.safetensors"):
        timm.create_model("iaunet_googlenet", pretrained=True, pretrained_cfg_overlay=dict(file=str(resnet)))


@pytest.mark.parametrize(
    "architecture, kwargs",
    [
        ("iaunet_googlenet", dict()),
        ("iaunet_resnet50_pcb", dict()),
        ("iaunet_resnet18", dict(iau_modules=["sia", "cia"])),
        ("iaunet_resnet18", dict(iau_modules=["stiau"], part_affinity="l2", num_frames=2, iau_stages=[2])),
    ],
)
def test_one_checkpoint_for_both_libraries(tmp_path: Path, architecture: str, kwargs: dict):
    network = wake_up(timm.create_model(architecture, num_classes=4, **kwargs))
    model = IAUnetForReID.from_timm(network, IAUnetConfig.from_options(network.options, image_size=[H, W]))
    model.save_pretrained(tmp_path)
    x = torch.randn(2, 3, H, W)
    transformers_model = AutoModel.from_pretrained(tmp_path).eval()
    timm_model = timm.create_model(f"local-dir:{tmp_path}", pretrained=True, num_classes=0).eval()
    timm_logits = timm.create_model(f"local-dir:{tmp_path}", pretrained=True).eval()
    with torch.no_grad():
        assert torch.equal(transformers_model(x).pooler_output, timm_model(x))
        assert torch.equal(model.eval()(x).logits, timm_logits(x))
    assert transformers_model.config.timm_architecture == architecture
    for key, value in kwargs.items():
        assert getattr(transformers_model.config, key) == value


@pytest.mark.parametrize("architecture, depth", [("iaunet_resnet101", 101), ("iaunet_resnet152", 152)])
def test_deeper_resnets_have_torchvisions_backbone(architecture: str, depth: int):
    model = timm.create_model(architecture, iau_stages=[], device="meta")
    reference = getattr(torchvision.models, f"resnet{depth}")()
    backbone = {k: tuple(v.shape) for k, v in reference.state_dict().items() if not k.startswith("fc.")}
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items() if not k.startswith(("bnneck.", "iau."))}
    assert ours == backbone
    assert model.num_features == 2048
    with_iau = timm.create_model(architecture, device="meta")
    assert set(with_iau.iau) == {"layer2", "layer3"}


@pytest.mark.reliability
@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(iau_modules=["ciau", "nl"]), "mixes IAU sub-modules"),
        (dict(iau_modules=["nl"], iau_arrangement="parallel"), "applies to CIAU and STIAU only"),
        (dict(iau_modules=["nl", "sia"]), "both relate positions"),
        (dict(backbone="inception_v3"), "backbone must be one of"),
        (dict(head="mgn"), "head must be one of"),
        (dict(channel_affinity="cosine"), "channel_affinity must be one of"),
        (dict(part_affinity="dot"), "part_affinity must be one of"),
    ],
)
def test_bad_options_name_the_field(kwargs: dict, message: str):
    with pytest.raises(ValueError, match=message):
        timm.create_model("iaunet_resnet18", **kwargs)
    from iaunet_hf import IAUnetConfig

    with pytest.raises(ValueError, match=message):
        IAUnetConfig(**kwargs)


def _model_stats():
    path = Path(__file__).resolve().parents[2] / "scripts" / "model_stats.py"
    spec = importlib.util.spec_from_file_location("model_stats", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_table_vi_parameter_counts_of_every_row():
    """Parameters of all twelve Table VI rows (built on the meta device, so this is cheap)."""
    stats = _model_stats()
    for table, name, kwargs, _, paper_params, _ in stats.TABLE_VI:
        model = IAUnet(depth=50, num_classes=751, device="meta", **kwargs)
        params = stats.count_parameters(model) / 1e6
        assert stats.matches_printed(params, paper_params), (table, name, params, paper_params)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["NL", "SE"])
def test_table_vi_macs_of_the_comparison_rows(name: str):
    stats = _model_stats()
    rows = [row for row in stats.TABLE_VI if row[1] == name]
    for row in stats.model_stats(rows):
        assert row["macs_rel_err"] < 0.02 and row["matches"], row


# timm's model contract (as tests/model/test_model_timm_contract.py checks it for the ResNets), for the new rows.
CONTRACT = [
    ("iaunet_googlenet", dict()),
    ("iaunet_resnet50_pcb", dict()),
    ("iaunet_resnet18", dict(iau_modules=["nl"])),
    ("iaunet_resnet18", dict(iau_modules=["sia", "cia"], num_frames=2)),
]


def _live(model: nn.Module) -> nn.Module:
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.weight.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
                module.running_var.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
    return model


def _input(model: nn.Module) -> torch.Tensor:
    shape = (2, 2, 3, H, W) if model.options.num_frames > 1 else (2, 3, H, W)
    return torch.randn(*shape, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("architecture, kwargs", CONTRACT)
def test_timm_contract_of_the_new_rows(architecture: str, kwargs: dict):
    meta = timm.create_model(architecture, device="meta", num_classes=3, **kwargs)
    assert all(t.device.type == "meta" for t in (*meta.parameters(), *meta.buffers()))
    model = _live(timm.create_model(architecture, num_classes=5, **kwargs)).eval()
    x = _input(model)
    with torch.no_grad():
        features = model.forward_features(x)
        embedding = model.forward_head(features, pre_logits=True)
        assert torch.equal(model.forward_head(features), model(x))
        expected = model.forward_intermediates(x, intermediates_only=True)
    assert [t.shape[1] for t in expected] == [info["num_chs"] for info in model.feature_info]
    assert embedding.shape == (2, model.head_hidden_size)
    features_only = _live(
        timm.create_model(architecture, features_only=True, out_indices=(1, 2, 3), **kwargs)
    )
    assert [t.shape[1] for t in features_only.eval()(x)] == features_only.feature_info.channels()
    # pruning keeps the requested taps
    with torch.no_grad():
        before = model.forward_intermediates(x, [0, 2], intermediates_only=True)
        model.prune_intermediate_layers([0, 2])
        after = model.forward_intermediates(x, [0, 2], intermediates_only=True)
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))


@pytest.mark.parametrize("architecture, kwargs", CONTRACT)
def test_fx_trace_forward_and_backward_equal_eager(architecture: str, kwargs: dict):
    eager = _live(timm.create_model(architecture, num_classes=5, **kwargs)).train()
    traced = torch.fx.symbolic_trace(eager)
    x = _input(eager)
    outputs = []
    for module in (eager, traced):
        module.zero_grad()
        output = module(x)
        output.pow(2).mean().backward()
        outputs.append((output.detach(), {n: p.grad.clone() for n, p in module.named_parameters()}))
    assert torch.equal(outputs[0][0], outputs[1][0])
    assert all(torch.equal(outputs[0][1][n], outputs[1][1][n]) for n in outputs[0][1])


def test_googlenet_gradient_checkpointing_gives_the_same_gradients():
    model = _live(timm.create_model("iaunet_googlenet", num_classes=4)).train()
    x = torch.randn(4, 3, H, W, generator=torch.Generator().manual_seed(4))
    grads = []
    for enable in (False, True):
        model.set_grad_checkpointing(enable)
        assert model.grad_checkpointing is enable
        model.zero_grad()
        model(x).logsumexp(1).mean().backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], rtol=1e-5, atol=1e-6)
