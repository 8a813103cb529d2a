"""What an IAUnet is built as: one frozen options dataclass, validated once, when it is made.

The network, its blocks, the transformers config and the training recipe all read these options; none of them
lists the options again. A field's default is the option's default; ``metadata={"keyword": ...}`` gives the flat
keyword (of ``timm.create_model``, ``IAUnet`` and ``config.json``) where it differs from the field name. Adding
an option is one field here plus its use.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .backbones import RESNET_LAYOUTS, PCBHead, googlenet_layout, resnet_layout
from .backbones.resnet import IMAGENET_BASE_CHANNELS
from .backbones.timm_backbone import timm_backbone_channels
from .block_options import (
    CHANNEL_AFFINITIES,
    COMPARISON_MODULE_NAMES,
    IAU_ARRANGEMENTS,
    IAU_MODULE_NAMES,
    PART_AFFINITIES,
    PART_DIVISIONS,
    STIAU_CONTEXTS,
    IAUBlockOptions,
    check_comparison_modules,
    is_comparison,
    one_of,
)
from .margin_classifiers import check_classifier
from .pooling import POOLINGS

# "avg": average over space and time; "": timm's idiom for no pooling (forward returns the last feature map).
GLOBAL_POOLS = ("avg", "")
BACKBONES = ("resnet", "googlenet")
HEADS = ("bnneck", "pcb")
# the block's options and choices are defined in block_options.py and re-exported here
__all__ = [
    "BACKBONES", "CHANNEL_AFFINITIES", "COMPARISON_MODULE_NAMES", "GLOBAL_POOLS", "HEADS", "IAU_ARRANGEMENTS",
    "IAU_MODULE_NAMES", "PART_AFFINITIES", "PART_DIVISIONS", "STIAU_CONTEXTS", "IAUBlockOptions", "IAUnetOptions",
    "check_comparison_modules", "check_global_pool", "is_comparison",
]  # fmt: skip


def check_global_pool(global_pool: str) -> None:
    """Raise a ValueError unless ``global_pool`` is a pooling the network has (a head setting, not an option)."""
    if global_pool not in GLOBAL_POOLS:
        raise ValueError(
            f"global_pool must be one of {GLOBAL_POOLS} (average over space and time, or '' for the unpooled "
            f"feature map), got {global_pool!r}"
        )


@dataclass(frozen=True)
class IAUnetOptions:
    """Everything that fixes an IAUnet's architecture and checkpoint keys (the classifier's size is ``num_classes``,
    and timm's ``global_pool`` only switches the pooling off)."""

    depth: int = 50  # ResNet depth (unused for other backbones)
    backbone: str = "resnet"  # or "googlenet" (Table XI), or with use_timm_backbone any timm CNN's name
    # transformers' field of timm-backed configs: ``backbone`` is a timm model
    use_timm_backbone: bool = False
    ibn: str | None = None  # "a": IBN-Net's IBN-a in ResNet layers 1-3 (InstanceNorm in half the first norms)
    head: str = "bnneck"  # or "pcb" (Table XII)
    iau_stages: tuple[int, ...] = (2, 3)  # stages (1-4) followed by an IAU block; () is the baseline
    iau: IAUBlockOptions = field(default_factory=IAUBlockOptions)
    num_frames: int = 1  # clip length T trained with (shorter clips work too)
    last_stride: int = 1  # stride of the last stage
    in_chans: int = field(default=3, metadata={"config_key": "num_channels"})
    base_channels: int = IMAGENET_BASE_CHANNELS  # ResNet stem width; narrow values for tests
    # --- the BN-neck head (iaunet_hf.model.pooling, head, margin_classifiers); defaults are the paper's head ---
    pooling: str = "avg"  # "avg", "max", "gem" or "avgmax", over space, then the mean over frames
    gem_p: float = 3.0  # GeM's exponent (fast-reid's default)
    gem_learnable_p: bool = False  # train GeM's p (a parameter ``pooling.p``)
    embedding_dim: int = 0  # > 0: a linear reduction of the pooled feature to this size before the BN neck
    classifier: str = "linear"  # or a margin classifier: "cosface", "arcface", "circle"
    classifier_scale: float = 64.0  # s of the margin classifiers
    classifier_margin: float = 0.35  # m of the margin classifiers

    def __post_init__(self) -> None:
        self._check_head()
        object.__setattr__(self, "iau_stages", tuple(int(stage) for stage in self.iau_stages))
        self._check_backbone()
        one_of("head", self.head, HEADS)
        if self.backbone == "resnet" and self.depth not in RESNET_LAYOUTS:
            raise ValueError(f"depth must be one of {sorted(RESNET_LAYOUTS)}, got {self.depth}")
        if self.base_channels < 1 or (
            (self.backbone != "resnet" or self.use_timm_backbone)
            and self.base_channels != IMAGENET_BASE_CHANNELS
        ):
            raise ValueError(
                f"base_channels must be >= 1 and applies to the ResNet backbone only (GoogLeNet has "
                f"{IMAGENET_BASE_CHANNELS}), got {self.base_channels} with backbone={self.backbone!r}"
            )
        if self.in_chans < 1:
            raise ValueError(f"in_chans must be >= 1, got {self.in_chans}")
        stages = self.iau_stages
        if any(stage not in (1, 2, 3, 4) for stage in stages) or len(set(stages)) != len(stages):
            raise ValueError(f"iau_stages must be distinct stage numbers among 1..4, got {stages}")
        if self.last_stride not in (1, 2):
            raise ValueError(f"last_stride must be 1 or 2, got {self.last_stride}")
        if self.num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {self.num_frames}")

    def _check_head(self) -> None:
        one_of("pooling", self.pooling, POOLINGS)
        if not self.gem_p >= 1.0:
            raise ValueError(f"gem_p must be >= 1 (1 is the average pooling), got {self.gem_p}")
        if self.embedding_dim < 0:
            raise ValueError(f"embedding_dim must be >= 0 (0: no reduction), got {self.embedding_dim}")
        check_classifier(self.classifier, self.classifier_scale, self.classifier_margin)
        changed = (self.pooling, self.embedding_dim, self.classifier) != ("avg", 0, "linear")
        if self.head == "pcb" and changed:
            raise ValueError(
                "pooling, embedding_dim and classifier configure the BN-neck head; PCB (head='pcb') has its own "
                f"stripe pooling and classifiers, got pooling={self.pooling!r}, embedding_dim={self.embedding_dim}, "
                f"classifier={self.classifier!r}"
            )

    def classifier_settings(self) -> dict[str, Any]:
        """The keywords of ``make_identity_classifier`` that these options fix (kind, scale, margin)."""
        return dict(kind=self.classifier, scale=self.classifier_scale, margin=self.classifier_margin)

    def _check_backbone(self) -> None:
        if self.use_timm_backbone:
            if not isinstance(self.backbone, str) or not self.backbone:
                raise ValueError(
                    f"backbone must be a timm model name with use_timm_backbone=True, got {self.backbone!r}"
                )
        elif self.backbone not in BACKBONES:
            raise ValueError(
                f"backbone must be one of {BACKBONES}, or any timm CNN's name with use_timm_backbone=True (the "
                f"'iaunet' timm architecture sets it), got {self.backbone!r}"
            )
        if self.ibn not in (None, "a"):
            raise ValueError(f"ibn must be None or 'a' (IBN-Net's IBN-a), got {self.ibn!r}")
        if self.ibn is not None and (self.use_timm_backbone or self.backbone != "resnet"):
            raise ValueError(
                f"ibn={self.ibn!r} applies to the ResNet backbone only, got backbone={self.backbone!r}"
            )

    # --- flat keywords (timm.create_model, IAUnet, config.json) ----------------------------------------------
    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> IAUnetOptions:
        """Options from flat keywords (``iau_modules=...``, ``stiau_context=...``); unknown ones are a TypeError.

        A renamed keyword (``relations``, ``channel_relation``, ``part_relation``) still works, with a
        FutureWarning naming its new name."""
        kwargs = _renamed(kwargs, warn=True)
        top, block = _keywords(cls), _keywords(IAUBlockOptions)
        for name in kwargs:
            if name not in top and name not in block:
                raise TypeError(f"IAUnet got an unexpected keyword argument '{name}'")
        block_args = {block[name]: value for name, value in kwargs.items() if name in block}
        top_args = {top[name]: value for name, value in kwargs.items() if name in top}
        return cls(**top_args, iau=IAUBlockOptions(**block_args))

    def to_kwargs(self) -> dict[str, Any]:
        """The flat keywords ``from_kwargs`` takes back (sequences as tuples)."""
        flat = {}
        for options in (self, self.iau):
            for keyword, name in _keywords(type(options)).items():
                flat[keyword] = getattr(options, name)
        return flat

    @staticmethod
    def keywords() -> tuple[str, ...]:
        """Every flat keyword an option has."""
        return (*_keywords(IAUnetOptions), *_keywords(IAUBlockOptions))

    @staticmethod
    def config_keys() -> dict[str, str]:
        """Flat keyword -> ``config.json`` key (transformers' own names where they differ, e.g. num_channels)."""
        fields = [*dataclasses.fields(IAUnetOptions), *dataclasses.fields(IAUBlockOptions)]
        keys = {f.metadata.get("keyword", f.name): f.metadata.get("config_key") for f in fields}
        return {keyword: key or keyword for keyword, key in keys.items() if keyword != "iau"}

    @classmethod
    def from_config_keys(cls, values: Mapping[str, Any]) -> IAUnetOptions:
        """Options from a mapping keyed like ``config.json`` (only the keys present; defaults for the rest).

        A ``config.json`` written before the rename names three options by their former keys: read silently, so every
        saved checkpoint loads unchanged."""
        values = _renamed(values, warn=False)
        return cls.from_kwargs(**{k: values[key] for k, key in cls.config_keys().items() if key in values})

    @staticmethod
    def former_keywords() -> dict[str, str]:
        """Former flat keyword -> the keyword it is now (accepted for one more release)."""
        return dict(_FORMER_KEYWORDS)

    def to_config_keys(self) -> dict[str, Any]:
        """The options keyed like ``config.json`` (sequences as lists), what ``from_config_keys`` reads back."""
        keys = self.config_keys()
        return {keys[k]: list(v) if isinstance(v, tuple) else v for k, v in self.to_kwargs().items()}

    # --- what follows from the options --------------------------------------------------------------------
    @property
    def embedding_size(self) -> int:
        """Size of the retrieval embedding: the backbone's last channels, or PCB's 6 x 256 stripe features."""
        if self.head == "pcb":
            return PCBHead.embedding_size()
        if self.embedding_dim:
            return self.embedding_dim
        if self.use_timm_backbone:
            return timm_backbone_channels(self.backbone, self.in_chans)
        if self.backbone == "googlenet":
            return googlenet_layout().stage_channels[-1]
        return resnet_layout(self.depth, base_channels=self.base_channels).stage_channels[-1]

    @property
    def has_part_attention(self) -> bool:
        """Whether the network predicts learned part attention (STIAU with ``part_division="attention"``)."""
        iau = self.iau
        return bool(self.iau_stages) and "stiau" in iau.modules and iau.part_division == "attention"


_FORMER_KEYWORDS = {
    f.metadata["formerly"]: f.metadata.get("keyword", f.name)
    for f in dataclasses.fields(IAUBlockOptions)
    if "formerly" in f.metadata
}


def _renamed(values: Mapping[str, Any], warn: bool) -> dict[str, Any]:
    """``values`` with every former keyword under its new name (both given: a TypeError, not a silent pick)."""
    renamed = dict(values)
    for old, new in _FORMER_KEYWORDS.items():
        if old not in renamed:
            continue
        if new in renamed:
            raise TypeError(f"IAUnet got both '{old}' and its new name '{new}'; give '{new}' only")
        if warn:
            warnings.warn(
                f"IAUnet option '{old}' is now called '{new}'; the old name will be removed in the next release",
                FutureWarning,
                stacklevel=4,
            )
        renamed[new] = renamed.pop(old)
    return renamed


def _keywords(cls: type) -> dict[str, str]:
    """Flat keyword -> field name of an options dataclass (the nested ``iau`` sub-object is not a keyword)."""
    return {f.metadata.get("keyword", f.name): f.name for f in dataclasses.fields(cls) if f.name != "iau"}
