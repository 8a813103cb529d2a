"""OSNet (Zhou et al., ICCV 2019, "Omni-Scale Feature Learning for Person Re-Identification") as a timm model.

Each omni-scale block runs four streams of 1, 2, 3 and 4 lightweight 3x3 convs (1x1 linear + depthwise 3x3) on a
shared bottleneck and mixes them with one channel gate shared by the streams. Parameter names equal torchreid's
(``conv1.conv``, ``conv2.0.conv2a``, ``conv5``, ``fc.0``, ``classifier``), so its released ``.pth`` files load
through timm by identity once the DataParallel ``module.`` prefix is gone.

The feature taps sit before the 1x1-conv + 2x2-avgpool transitions that end ``conv2`` and ``conv3`` (inside those
Sequentials, so the names stay torchreid's): the five levels have reductions 2, 4, 8, 16, 16, and a transition
starts the next stage. ``conv5`` is a 1x1 conv on ``conv4``'s map, with no downsampling.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers import SelectAdaptivePool2d
from timm.models import (
    build_model_with_cfg,
    checkpoint_seq,
    clean_state_dict,
    generate_default_cfgs,
    register_model,
)
from torch import nn

# Output channels of conv1 and of conv2-conv4 (conv5 keeps conv4's) per width, as published.
OSNET_WIDTHS: dict[str, tuple[int, int, int, int]] = {
    "osnet_x1_0": (64, 256, 384, 512),
    "osnet_x0_75": (48, 192, 288, 384),
    "osnet_x0_5": (32, 128, 192, 256),
    "osnet_x0_25": (16, 64, 96, 128),
}
BLOCKS_PER_STAGE = 2  # two omni-scale blocks in each of conv2, conv3, conv4 for every width
EMBEDDING_DIM = 512  # the fc layer after pooling (Linear + BN1d + ReLU), the reID embedding


class ConvBnAct(nn.Module):
    """conv -> BN -> ReLU (or no activation), named ``conv``/``bn``/``relu`` as in torchreid.

    A Module, not a Sequential: timm's ``flatten_sequential`` would otherwise split ``conv1``/``conv5`` into parts.
    """

    def __init__(self, in_chs, out_chs, kernel_size=1, stride=1, act=True, device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        padding = kernel_size // 2
        self.conv = nn.Conv2d(in_chs, out_chs, kernel_size, stride=stride, padding=padding, bias=False, **dd)
        self.bn = nn.BatchNorm2d(out_chs, **dd)
        self.relu = nn.ReLU(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class LightConv3x3(nn.Module):
    """1x1 linear conv then depthwise 3x3, BN, ReLU: a 3x3 receptive field at a fraction of a 3x3 conv's cost."""

    def __init__(self, channels: int, device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        self.conv1 = nn.Conv2d(channels, channels, 1, bias=False, **dd)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False, **dd)
        self.bn = nn.BatchNorm2d(channels, **dd)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv2(self.conv1(x))))


def _light_stream(channels: int, depth: int, device=None, dtype=None) -> nn.Module:
    """``depth`` stacked lightweight convs: receptive field 2*depth+1 (a bare module for depth 1, as torchreid)."""
    if depth == 1:
        return LightConv3x3(channels, device=device, dtype=dtype)
    return nn.Sequential(*(LightConv3x3(channels, device=device, dtype=dtype) for _ in range(depth)))


class ChannelGate(nn.Module):
    """The unified aggregation gate: per-channel sigmoid weights from the pooled stream (reduction 16)."""

    def __init__(self, channels: int, reduction: int = 16, device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, **dd)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, **dd)
        self.gate_activation = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gates = self.gate_activation(self.fc2(self.relu(self.fc1(self.global_avgpool(x)))))
        return x * gates


class OSBlock(nn.Module):
    """Omni-scale residual block: 1x1 reduce (by 4), four streams of scales 3/5/7/9 gated and summed, 1x1 expand."""

    def __init__(self, in_chs: int, out_chs: int, bottleneck_reduction: int = 4, device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        mid_chs = out_chs // bottleneck_reduction
        self.conv1 = ConvBnAct(in_chs, mid_chs, **dd)
        self.conv2a = _light_stream(mid_chs, 1, **dd)
        self.conv2b = _light_stream(mid_chs, 2, **dd)
        self.conv2c = _light_stream(mid_chs, 3, **dd)
        self.conv2d = _light_stream(mid_chs, 4, **dd)
        self.gate = ChannelGate(mid_chs, **dd)
        self.conv3 = ConvBnAct(mid_chs, out_chs, act=False, **dd)
        self.downsample = ConvBnAct(in_chs, out_chs, act=False, **dd) if in_chs != out_chs else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bottleneck = self.conv1(x)
        streams = (self.conv2a, self.conv2b, self.conv2c, self.conv2d)
        mixed = sum(self.gate(stream(bottleneck)) for stream in streams)
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(self.conv3(mixed) + identity)


def _make_stage(in_chs: int, out_chs: int, transition: bool, device=None, dtype=None) -> nn.Sequential:
    """Two omni-scale blocks, then (conv2, conv3) a 1x1 conv + 2x2 average pool transition halving the map."""
    dd = dict(device=device, dtype=dtype)
    layers: list[nn.Module] = [OSBlock(in_chs, out_chs, **dd)]
    layers += [OSBlock(out_chs, out_chs, **dd) for _ in range(BLOCKS_PER_STAGE - 1)]
    if transition:
        layers.append(nn.Sequential(ConvBnAct(out_chs, out_chs, **dd), nn.AvgPool2d(2, stride=2)))
    return nn.Sequential(*layers)


class OSNet(nn.Module):
    """OSNet with timm's model interface; ``forward_head(x, pre_logits=True)`` is the 512-d embedding fc(pool(x))."""

    # The module applied after global pooling and before a reID BN neck: the reID network keeps it.
    reid_post_pool = "fc"

    def __init__(
        self,
        channels: tuple[int, int, int, int] = OSNET_WIDTHS["osnet_x1_0"],
        num_classes: int = 1000,
        in_chans: int = 3,
        embedding_dim: int = EMBEDDING_DIM,
        global_pool: str = "avg",
        drop_rate: float = 0.0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        stem_chs, *stage_chs = channels
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.grad_checkpointing = False
        self.conv1 = ConvBnAct(in_chans, stem_chs, kernel_size=7, stride=2, **dd)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.conv2 = _make_stage(stem_chs, stage_chs[0], transition=True, **dd)
        self.conv3 = _make_stage(stage_chs[0], stage_chs[1], transition=True, **dd)
        self.conv4 = _make_stage(stage_chs[1], stage_chs[2], transition=False, **dd)
        self.conv5 = ConvBnAct(stage_chs[2], stage_chs[2], **dd)
        self.num_features = stage_chs[2]  # channels of forward_features' map (timm's meaning)
        self.head_hidden_size = embedding_dim  # the pre-logits embedding
        self.global_pool = SelectAdaptivePool2d(pool_type=global_pool, flatten=True)
        self.fc = nn.Sequential(
            nn.Linear(self.num_features, embedding_dim, **dd),
            nn.BatchNorm1d(embedding_dim, **dd),
            nn.ReLU(inplace=True),
        )
        self.head_drop = nn.Dropout(drop_rate)
        self.classifier = nn.Linear(embedding_dim, num_classes, **dd) if num_classes > 0 else nn.Identity()
        # Taps before the transitions; a tap inside a Sequential is a dotted name (timm's flatten_sequential).
        self.feature_info = [
            dict(num_chs=stem_chs, reduction=2, module="conv1"),
            dict(num_chs=stage_chs[0], reduction=4, module=f"conv2.{BLOCKS_PER_STAGE - 1}"),
            dict(num_chs=stage_chs[1], reduction=8, module=f"conv3.{BLOCKS_PER_STAGE - 1}"),
            dict(num_chs=stage_chs[2], reduction=16, module=f"conv4.{BLOCKS_PER_STAGE - 1}"),
            dict(num_chs=stage_chs[2], reduction=16, module="conv5"),
        ]
        self.apply(_init_weights)

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        return dict(stem=r"^conv1", blocks=r"^conv(\d+)" if coarse else r"^conv(\d+)\.(\d+)")

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.classifier

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A fresh classifier for ``num_classes`` (0: none, the model returns the embedding)."""
        if global_pool is not None:
            pool = SelectAdaptivePool2d(pool_type=global_pool, flatten=True)
            if pool.feat_mult() != 1:
                raise ValueError(
                    f"global_pool={global_pool!r} changes the pooled width; fc expects one map's width"
                )
            self.global_pool = pool
        self.num_classes = num_classes
        weight = self.fc[0].weight
        self.classifier = (
            nn.Linear(self.head_hidden_size, num_classes, device=weight.device, dtype=weight.dtype)
            if num_classes > 0
            else nn.Identity()
        )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))
        stages = [self.conv2, self.conv3, self.conv4, self.conv5]
        if self.grad_checkpointing and not torch.jit.is_scripting():
            return checkpoint_seq(stages, x)
        for stage in stages:
            x = stage(x)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.fc(self.global_pool(x))
        if pre_logits:
            return x
        return self.classifier(self.head_drop(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _init_weights(module: nn.Module) -> None:
    """torchreid's init: He (fan-out) convs, unit BN, N(0, 0.01) linears with zero bias."""
    if isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.01)
        nn.init.zeros_(module.bias)


def checkpoint_filter_fn(state_dict: dict[str, torch.Tensor], model: OSNet) -> dict[str, torch.Tensor]:
    """A torchreid state dict -> this model's: strip wrapper prefixes, drop a classifier of another size.

    timm strips ``module.`` only for files and drops the classifier only when ``num_classes`` differs from the
    cfg's 1000; a state dict passed in memory, or a reID checkpoint with its identity classifier, needs both here.
    """
    state_dict = clean_state_dict(state_dict)
    expected = model.state_dict()
    for key in ("classifier.weight", "classifier.bias"):
        if key in state_dict and (key not in expected or expected[key].shape != state_dict[key].shape):
            del state_dict[key]
    return state_dict


def _cfg(**kwargs) -> dict:
    return dict(
        url="",
        num_classes=1000,
        input_size=(3, 256, 128),
        pool_size=(16, 8),
        crop_pct=1.0,
        interpolation="bilinear",
        mean=IMAGENET_DEFAULT_MEAN,
        std=IMAGENET_DEFAULT_STD,
        first_conv="conv1.conv",
        classifier="classifier",
        license="mit",
        paper_ids="arXiv:1905.00953",
        **kwargs,
    )


default_cfgs = generate_default_cfgs({name: _cfg() for name in OSNET_WIDTHS})


def _create_osnet(variant: str, pretrained: bool = False, **kwargs) -> OSNet:
    return build_model_with_cfg(
        OSNet,
        variant,
        pretrained,
        channels=OSNET_WIDTHS[variant],
        pretrained_filter_fn=checkpoint_filter_fn,
        feature_cfg=dict(flatten_sequential=True),
        **kwargs,
    )


@register_model
def osnet_x1_0(pretrained: bool = False, **kwargs) -> OSNet:
    """OSNet at full width (conv2-conv4: 256, 384, 512 channels), about 2.2M parameters."""
    return _create_osnet("osnet_x1_0", pretrained, **kwargs)


@register_model
def osnet_x0_75(pretrained: bool = False, **kwargs) -> OSNet:
    """OSNet at width 0.75 (192, 288, 384 channels)."""
    return _create_osnet("osnet_x0_75", pretrained, **kwargs)


@register_model
def osnet_x0_5(pretrained: bool = False, **kwargs) -> OSNet:
    """OSNet at width 0.5 (128, 192, 256 channels)."""
    return _create_osnet("osnet_x0_5", pretrained, **kwargs)


@register_model
def osnet_x0_25(pretrained: bool = False, **kwargs) -> OSNet:
    """OSNet at width 0.25 (64, 96, 128 channels)."""
    return _create_osnet("osnet_x0_25", pretrained, **kwargs)
