"""OSNet (Zhou et al., ICCV 2019, "Omni-Scale Feature Learning for Person Re-Identification") as a timm model.

The blocks are in ``osnet_blocks``. Parameter names equal torchreid's
(``conv1.conv``, ``conv2.0.conv2a``, ``conv5``, ``fc.0``, ``classifier``), so its released ``.pth`` files load
through timm by identity once the DataParallel ``module.`` prefix is gone.

The feature taps sit before the 1x1-conv + 2x2-avgpool transitions that end ``conv2`` and ``conv3`` (inside those
Sequentials, so the names stay torchreid's): the five levels have reductions 2, 4, 8, 16, 16, and a transition
starts the next stage. ``conv5`` is a 1x1 conv on ``conv4``'s map, with no downsampling.
"""

from __future__ import annotations

import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers import SelectAdaptivePool2d, get_device_dtype
from timm.models import (
    build_model_with_cfg,
    checkpoint_seq,
    clean_state_dict,
    generate_default_cfgs,
    register_model,
)
from timm.models._features import feature_take_indices
from torch import nn

from .osnet_blocks import BLOCKS_PER_STAGE, ConvBnAct, make_stage

# Output channels of conv1 and of conv2-conv4 (conv5 keeps conv4's) per width, as published.
OSNET_WIDTHS: dict[str, tuple[int, int, int, int]] = {
    "osnet_x1_0": (64, 256, 384, 512),
    "osnet_x0_75": (48, 192, 288, 384),
    "osnet_x0_5": (32, 128, 192, 256),
    "osnet_x0_25": (16, 64, 96, 128),
}
EMBEDDING_DIM = 512  # the fc layer after pooling (Linear + BN1d + ReLU), the reID embedding


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
        output_stride: int | None = None,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        if output_stride not in (None, 16):
            raise ValueError(
                f"output_stride={output_stride}: OSNet's map has stride 16 (conv5 does not downsample)"
            )
        dd = dict(device=device, dtype=dtype)
        stem_chs, *stage_chs = channels
        self.num_classes, self.in_chans, self.drop_rate = num_classes, in_chans, drop_rate
        self.grad_checkpointing = False
        self.conv1 = ConvBnAct(in_chans, stem_chs, kernel_size=7, stride=2, **dd)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.conv2 = make_stage(stem_chs, stage_chs[0], transition=True, **dd)
        self.conv3 = make_stage(stage_chs[0], stage_chs[1], transition=True, **dd)
        self.conv4 = make_stage(stage_chs[1], stage_chs[2], transition=False, **dd)
        self.conv5 = ConvBnAct(stage_chs[2], stage_chs[2], **dd)
        self.num_features = stage_chs[2]  # channels of forward_features' map (timm's meaning)
        self.head_hidden_size = embedding_dim  # the pre-logits embedding
        self.global_pool = SelectAdaptivePool2d(pool_type=global_pool, flatten=bool(global_pool))
        self.fc = nn.Sequential(
            nn.Linear(self.num_features, embedding_dim, **dd),
            nn.BatchNorm1d(embedding_dim, **dd),
            nn.ReLU(inplace=True),
        )
        self.head_drop = nn.Dropout(drop_rate)
        self.classifier = nn.Linear(embedding_dim, num_classes, **dd) if num_classes > 0 else nn.Identity()
        # One level per tap; a tap inside a Sequential is a dotted name (timm's flatten_sequential).
        taps = ["conv1", *(f"conv{i}.{BLOCKS_PER_STAGE - 1}" for i in (2, 3, 4)), "conv5"]
        tap_channels = [stem_chs, *stage_chs, stage_chs[-1]]
        self.feature_info = [
            dict(num_chs=chs, reduction=reduction, module=tap)
            for chs, reduction, tap in zip(tap_channels, (2, 4, 8, 16, 16), taps, strict=True)
        ]
        self.apply(_init_weights)

    def _levels(self) -> list[list[str]]:
        """The modules run from one tap to the next, by name: the stem, then stages 1-4, where the transition
        that ends conv2 (conv3) opens stage 2 (3)."""
        transition = BLOCKS_PER_STAGE  # the index of the transition in conv2 and conv3
        blocks = {
            stage: [f"{stage}.{index}" for index in range(BLOCKS_PER_STAGE)] for stage in ("conv2", "conv3")
        }
        return [
            ["conv1"],
            ["maxpool", *blocks["conv2"]],
            [f"conv2.{transition}", *blocks["conv3"]],
            [f"conv3.{transition}", "conv4"],
            ["conv5"],
        ]

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        blocks = r"^conv([2-5])" if coarse else [(r"^conv([2-4])\.(\d+)", None), (r"^conv5", (5,))]
        return dict(stem=r"^conv1", blocks=blocks)

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.classifier

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A fresh classifier for ``num_classes`` (0: none, the model returns the embedding); ``global_pool=""``
        turns pooling and the fc embedding off (the model returns the map)."""
        if global_pool is not None:
            pool = SelectAdaptivePool2d(pool_type=global_pool, flatten=bool(global_pool))
            if pool.feat_mult() != 1:
                raise ValueError(
                    f"global_pool={global_pool!r} changes the pooled width; fc expects one map's width"
                )
            self.global_pool = pool.train(self.training)
        self.num_classes = num_classes
        dd = get_device_dtype(self)
        classifier = nn.Linear(self.head_hidden_size, num_classes, **dd) if num_classes > 0 else nn.Identity()
        self.classifier = classifier.train(self.training)  # new modules follow the model's train/eval mode

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: int | list[int] | None = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """timm's intermediates API: the maps at the ``feature_info`` taps (``norm`` has nothing to apply)."""
        if output_fmt != "NCHW":
            raise ValueError(f"output_fmt={output_fmt!r}: OSNet gives NCHW maps only")
        take_indices, max_index = feature_take_indices(len(self.feature_info), indices)
        levels = self._levels()[: max_index + 1] if stop_early else self._levels()
        intermediates = []
        for index, names in enumerate(levels):
            for name in names:
                x = self.get_submodule(name)(x)
            if index in take_indices:
                intermediates.append(x)
        return intermediates if intermediates_only else (x, intermediates)

    def prune_intermediate_layers(
        self, indices: int | list[int] = 1, prune_norm: bool = False, prune_head: bool = True
    ) -> list[int]:
        """Replace what runs after the last tap kept by identities (timm's contract: the kept taps do not change)."""
        take_indices, max_index = feature_take_indices(len(self.feature_info), indices)
        for names in self._levels()[max_index + 1 :]:
            for name in names:
                self.set_submodule(name, nn.Identity())
        if prune_head:
            self.fc = nn.Identity()
            self.reset_classifier(0, "")
        return take_indices

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        modules = [self.get_submodule(name) for names in self._levels() for name in names]
        if self.grad_checkpointing and not torch.jit.is_scripting():
            return checkpoint_seq(modules, x)
        for module in modules:
            x = module(x)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.global_pool(x)
        if not self.global_pool.is_identity():  # the fc embedding exists for pooled features only
            x = self.fc(x)
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
