"""The IAUnet network: a last-stride-1 ResNet with IAU blocks after chosen stages and a BN-neck head.

Defined once in plain torch (the timm face builds it directly, the transformers face wraps it). Backbone
parameter names equal torchvision's and timm's ResNet names, so ImageNet ResNet weights load unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from .blocks import IAUBlock, check_iau_options, init_module_weights

RESNET_LAYOUTS: dict[int, tuple[type[nn.Module], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
}
STAGE_NAMES = ("layer1", "layer2", "layer3", "layer4")


@dataclass
class IAUnetOutput:
    """Everything a reID forward pass produces; clips keep a T axis in ``feature_map`` and ``part_attention``."""

    embedding: torch.Tensor  # (B, D) retrieval feature, after the BN neck
    global_feature: torch.Tensor  # (B, D) pooled feature before the BN neck (the triplet loss may use either)
    feature_map: torch.Tensor  # (B, D, h, w) or (B, T, D, h, w)
    logits: torch.Tensor | None = None  # (B, num_classes)
    part_attention: tuple[torch.Tensor, ...] = ()  # per IAU stage with STIAU: (B, N, h, w) or (B, T, N, h, w)
    relations: tuple[dict[str, torch.Tensor], ...] = field(default_factory=tuple)  # per IAU stage, if asked


def check_network_options(
    depth: int = 50,
    in_chans: int = 3,
    iau_stages: Sequence[int] = (2, 3),
    iau_modules: Sequence[str] = ("ciau", "stiau"),
    iau_arrangement: str = "sequential",
    relations: str = "both",
    num_parts: int = 4,
    part_division: str = "attention",
    num_frames: int = 1,
    last_stride: int = 1,
) -> None:
    """Raise a ValueError naming the option when an IAUnet setting is invalid (shared by the model and config)."""
    if depth not in RESNET_LAYOUTS:
        raise ValueError(f"depth must be one of {sorted(RESNET_LAYOUTS)}, got {depth}")
    if in_chans < 1:
        raise ValueError(f"in_chans must be >= 1, got {in_chans}")
    stages = tuple(iau_stages)
    if any(stage not in (1, 2, 3, 4) for stage in stages) or len(set(stages)) != len(stages):
        raise ValueError(f"iau_stages must be distinct stage numbers among 1..4, got {stages}")
    if last_stride not in (1, 2):
        raise ValueError(f"last_stride must be 1 or 2, got {last_stride}")
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if stages:
        check_iau_options(tuple(iau_modules), iau_arrangement, relations, num_parts, part_division)


def _make_stage(
    block: type[nn.Module], in_channels: int, channels: int, num_blocks: int, stride: int
) -> nn.Sequential:
    """A torchvision-style ResNet stage (stride on the first block's 3x3 conv, 1x1 projection shortcut)."""
    downsample = None
    out_channels = channels * block.expansion
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
            nn.BatchNorm2d(out_channels),
        )
    blocks = [block(in_channels, channels, stride, downsample)]
    blocks += [block(out_channels, channels) for _ in range(num_blocks - 1)]
    return nn.Sequential(*blocks)


class IAUnet(nn.Module):
    """IAUnet for image and video reID (spec §2): ResNet stages, IAU blocks, GAP, temporal mean, BN neck, classifier.

    ``iau_stages=()`` is the paper's baseline (modified ResNet + BN neck). Inputs are (B, 3, H, W) images or
    (B, T, 3, H, W) clips with H and W divisible by 16.
    """

    def __init__(
        self,
        depth: int = 50,
        num_classes: int = 0,
        in_chans: int = 3,
        iau_stages: Sequence[int] = (2, 3),
        iau_modules: Sequence[str] = ("ciau", "stiau"),
        iau_arrangement: str = "sequential",
        relations: str = "both",
        num_parts: int = 4,
        part_division: str = "attention",
        num_frames: int = 1,
        last_stride: int = 1,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        iau_stages = tuple(int(stage) for stage in iau_stages)
        check_network_options(
            depth,
            in_chans,
            iau_stages,
            iau_modules,
            iau_arrangement,
            relations,
            num_parts,
            part_division,
            num_frames,
            last_stride,
        )
        block, layers = RESNET_LAYOUTS[depth]
        self.depth = depth
        self.in_chans = in_chans
        self.iau_stages = iau_stages
        self.num_parts = num_parts
        self.num_frames = num_frames
        self.last_stride = last_stride
        self.drop_rate = drop_rate
        self.grad_checkpointing = False

        self.conv1 = nn.Conv2d(in_chans, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.act1 = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        strides = (1, 2, 2, last_stride)
        in_channels = 64
        self.feature_info = [dict(num_chs=64, reduction=2, module="act1")]
        reduction = 4
        iau_blocks = {}
        for index, (name, num_blocks, stride) in enumerate(zip(STAGE_NAMES, layers, strides, strict=True)):
            channels = 64 * 2**index
            setattr(self, name, _make_stage(block, in_channels, channels, num_blocks, stride))
            in_channels = channels * block.expansion
            reduction *= stride
            if index + 1 in iau_stages:
                iau_blocks[name] = IAUBlock(
                    in_channels, iau_modules, iau_arrangement, relations, num_parts, part_division
                )
            self.feature_info.append(dict(num_chs=in_channels, reduction=reduction, module=name))
        self.iau = nn.ModuleDict(iau_blocks)

        self.num_features = self.head_hidden_size = in_channels
        self.bnneck = nn.BatchNorm1d(in_channels)
        self.num_classes = num_classes
        self.classifier = self._make_classifier(num_classes)
        self.init_weights()

    def _make_classifier(self, num_classes: int) -> nn.Module:
        if num_classes <= 0:
            return nn.Identity()
        classifier = nn.Linear(self.num_features, num_classes)
        classifier.is_classifier = True
        return classifier

    def init_weights(self) -> None:
        """Apply the spec's initialisation to every module (ImageNet weights, if any, are loaded afterwards)."""
        for module in self.modules():
            init_module_weights(module)

    # --- timm model interface -------------------------------------------------------------------------------
    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        return dict(stem=r"^conv1|bn1", blocks=r"^layer(\d+)" if coarse else r"^layer(\d+)\.(\d+)")

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable

    @torch.jit.ignore
    def get_classifier(self, name_only: bool = False):
        return "classifier" if name_only else self.classifier

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """Replace the identity classifier (global pooling is always average pooling over space and time)."""
        self.num_classes = num_classes
        self.classifier = self._make_classifier(num_classes)
        if isinstance(self.classifier, nn.Linear):
            device = self.bnneck.weight.device
            init_module_weights(self.classifier)
            self.classifier.to(device)

    def _split_clips(self, x: torch.Tensor) -> tuple[torch.Tensor, int, bool]:
        """Validate the input and flatten clips: (B, T, C, H, W) -> (B*T, C, H, W)."""
        if x.dim() not in (4, 5):
            raise ValueError(
                f"IAUnet expects (B, {self.in_chans}, H, W) images or (B, T, {self.in_chans}, H, W) clips, "
                f"got a tensor of shape {tuple(x.shape)}"
            )
        channels, height, width = x.shape[-3:]
        if channels != self.in_chans:
            raise ValueError(
                f"IAUnet expects {self.in_chans} input channels, got {channels} (shape {tuple(x.shape)})"
            )
        if height % 16 or width % 16:
            raise ValueError(f"IAUnet needs H and W divisible by 16, got {height}x{width}")
        if x.dim() == 5:
            return x.flatten(0, 1), x.shape[1], True
        return x, 1, False

    def _run_stages(
        self, x: torch.Tensor, num_frames: int, return_relations: bool = False, last_stage: int = 4
    ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor], list[dict[str, torch.Tensor]]]:
        """Stem and stages on (B*T, C, H, W); returns the map, the stem and stage outputs, part maps, relations."""
        stem = self.act1(self.bn1(self.conv1(x)))
        x = self.maxpool(stem)
        stage_outputs, part_attention, relations = [stem], [], []
        for name in STAGE_NAMES[:last_stage]:
            stage = getattr(self, name)
            if self.grad_checkpointing and self.training and not torch.jit.is_scripting():
                x = torch.utils.checkpoint.checkpoint(stage, x, use_reentrant=False)
            else:
                x = stage(x)
            if name in self.iau:
                x, attention, relation = self.iau[name](x, num_frames)
                if attention is not None:
                    part_attention.append(attention)
                if return_relations:
                    relations.append(relation)
            stage_outputs.append(x)
        return x, stage_outputs, part_attention, relations

    @staticmethod
    def _unflatten(x: torch.Tensor, num_frames: int, is_clip: bool) -> torch.Tensor:
        return x.unflatten(0, (-1, num_frames)) if is_clip else x

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Last feature map: (B, D, h, w) for images, (B, T, D, h, w) for clips."""
        x, num_frames, is_clip = self._split_clips(x)
        feature_map, _, _, _ = self._run_stages(x, num_frames)
        return self._unflatten(feature_map, num_frames, is_clip)

    def pool(self, feature_map: torch.Tensor) -> torch.Tensor:
        """Global average pool over space, then over time for clips: (B, D)."""
        pooled = feature_map.mean(dim=(-2, -1))
        return pooled.mean(dim=1) if feature_map.dim() == 5 else pooled

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool, BN neck (the retrieval embedding), then the classifier unless ``pre_logits``."""
        embedding = self.bnneck(self.pool(x))
        if pre_logits:
            return embedding
        if self.drop_rate > 0:
            embedding = nn.functional.dropout(embedding, p=self.drop_rate, training=self.training)
        return self.classifier(embedding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_reid(self, x: torch.Tensor, return_relations: bool = False) -> IAUnetOutput:
        """One pass returning the embedding, logits and every IAU stage's part attention (and relations)."""
        x, num_frames, is_clip = self._split_clips(x)
        feature_map, _, part_attention, relations = self._run_stages(x, num_frames, return_relations)
        feature_map = self._unflatten(feature_map, num_frames, is_clip)
        global_feature = self.pool(feature_map)
        embedding = self.bnneck(global_feature)
        logits = None
        if not isinstance(self.classifier, nn.Identity):
            dropped = nn.functional.dropout(embedding, p=self.drop_rate, training=self.training)
            logits = self.classifier(dropped)
        return IAUnetOutput(
            embedding=embedding,
            global_feature=global_feature,
            feature_map=feature_map,
            logits=logits,
            part_attention=tuple(self._unflatten(a, num_frames, is_clip) for a in part_attention),
            relations=tuple(relations),
        )

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: int | list[int] | None = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ):
        """timm's intermediate-feature API: stem and stage outputs (after their IAU blocks), (B*T, C, h, w)."""
        from timm.models._features import feature_take_indices  # timm is the only consumer of this method

        if output_fmt != "NCHW":
            raise ValueError(f"IAUnet intermediates are NCHW only, got output_fmt={output_fmt!r}")
        take_indices, max_index = feature_take_indices(5, indices)
        x, num_frames, _ = self._split_clips(x)
        final, taps, _, _ = self._run_stages(x, num_frames, last_stage=max_index if stop_early else 4)
        intermediates = [taps[index] for index in take_indices]
        if intermediates_only:
            return intermediates
        return final, intermediates

    def prune_intermediate_layers(
        self, indices: int | list[int] = 1, prune_norm: bool = False, prune_head: bool = True
    ) -> list[int]:
        """Drop stages (and their IAU blocks) past the last requested tap, as timm's features_only expects."""
        from timm.models._features import feature_take_indices

        take_indices, max_index = feature_take_indices(5, indices)
        for name in STAGE_NAMES[max_index:]:
            setattr(self, name, nn.Sequential())
            if name in self.iau:
                del self.iau[name]
        if max_index < 4:
            self.num_features = self.head_hidden_size = self.feature_info[max_index]["num_chs"]
            self.bnneck = nn.Identity()
        if prune_head or max_index < 4:
            self.reset_classifier(0)
        return take_indices
