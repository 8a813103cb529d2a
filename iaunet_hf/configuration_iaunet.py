"""transformers face of IAUnet: the configuration (data only) that also carries timm's view of the checkpoint."""

from __future__ import annotations

import dataclasses
from typing import Any

from transformers import PreTrainedConfig

from .losses import ReIDLossConfig
from .model import IAUnetOptions
from .timm_models import reid_pretrained_cfg

# Derived keys config.json carries (timm reads most of them); recomputed from the fields, never stored.
_TIMM_KEYS = (
    "hidden_size",
    "architecture",
    "num_features",
    "pretrained_cfg",
    "model_args",
    "num_classes",
    "label_names",
)


class IAUnetConfig(PreTrainedConfig):
    r"""Configuration of an IAUnet model. ``IAUnetConfig()`` is the paper's image model.

    Args:
        depth (`int`, defaults to 50): ResNet depth of the backbone, 18, 34, 50, 101 or 152.
        backbone (`str`, defaults to `"resnet"`): `"resnet"`, or `"googlenet"` (GoogLeNet with BN, paper
            Table XI's Inception; `depth` is then unused), or with `use_timm_backbone=True` the name of any timm
            CNN (`"convnext_tiny.fb_in1k"`, `"resnest50d"`, `"osnet_x1_0"`, ...), as transformers' timm-backed
            configs take it.
        use_timm_backbone (`bool`, defaults to `False`): `backbone` names a timm model, split into stages by
            its `feature_info`.
        ibn (`str`, defaults to `None`): `"a"` for IBN-Net's IBN-a ResNet (InstanceNorm in half the channels of
            the first norm of every block in layers 1-3).
        head (`str`, defaults to `"bnneck"`): the BN-neck head, or `"pcb"` (PCB's six stripes with a classifier
            each, paper Table XII).
        iau_stages (`list[int]`, defaults to `[2, 3]`): stages (1-4) followed by an IAU block; `[]` is the
            paper's baseline, `[2]` its video model.
        iau_modules (`list[str]`, defaults to `["ciau", "stiau"]`): the IAU sub-modules, in order, or the
            paper's comparison blocks `"nl"`, `"se"`, `"sia"`, `"cia"` (Tables VI and VII).
        iau_arrangement (`str`, defaults to `"sequential"`): `"sequential"` or `"parallel"` (paper Table X).
        stiau_context (`str`, defaults to `"both"`): the part nodes STIAU relates, `"both"`, `"spatial"` (same
            frame) or `"temporal"` (same part, other frames). Formerly `relations` (still read from old files).
        channel_affinity (`str`, defaults to `"dot"`): how CIAU scores its channel relation, `"dot"` or `"l2"`
            (paper Table IX). Formerly `channel_relation`.
        part_affinity (`str`, defaults to `"subnet"`): how STIAU scores its part relation, `"subnet"` or `"l2"`
            (paper Table IX). Formerly `part_relation`.
        base_channels (`int`, defaults to 64): channels of the ResNet stem and first stage (each later stage
            doubles them). 64 is every published ResNet (and the only width with ImageNet weights); smaller values
            give a narrow model for tests and quick experiments (`IAUnetConfig.small()`).
        num_parts (`int`, defaults to 4): body parts N (head, upper body, lower body, shoes).
        part_division (`str`, defaults to `"attention"`): learned part attention, or `"patches"` (a fixed 2x2
            grid, for CIFAR-100).
        num_frames (`int`, defaults to 1): clip length T the model is trained with (4 for video); any shorter
            clip works too.
        last_stride (`int`, defaults to 1): stride of ResNet stage 4.
        num_channels (`int`, defaults to 3): input channels.
        image_size (`list[int]`, defaults to `[256, 128]`): training input height and width.
        label_smoothing (`float`, defaults to 0.1), triplet_margin (`float`, defaults to 0.3),
        triplet_distance (`str`, defaults to `"cosine"`), triplet_weight (`float`, defaults to 1.0),
        part_loss_weight (`float`, defaults to 0.5), and the other fields of `iaunet_hf.losses.ReIDLossConfig`
            (`cross_entropy_weight`, `triplet_mining`, `triplet_soft_margin`, `circle_weight`, `circle_margin`,
            `circle_scale`, `center_weight`, `center_lr`): the reID loss of `IAUnetForReID` (spec §3), defaults
            from `ReIDLossConfig`.
        pooling (`str`, defaults to `"avg"`), gem_p (`float`, 3.0), gem_learnable_p (`bool`, False),
        embedding_dim (`int`, 0), classifier (`str`, `"linear"`), classifier_scale (`float`, 64.0),
        classifier_margin (`float`, 0.35): the BN-neck head (`IAUnetOptions`): average/max/GeM/avg+max pooling,
            an optional reduction to `embedding_dim`, and a linear or margin (cosface/arcface/circle) classifier.
        problem_type (`str`, defaults to `None`): transformers' field. `None` (the default): `IAUnetForReID` with
            `labels` returns the reID loss above. `"single_label_classification"` (cross-entropy),
            `"multi_label_classification"` (BCE with logits) or `"regression"` (MSE): the plain loss
            `AutoModelForImageClassification` models compute for that problem type.

    The embedding size ``hidden_size`` follows from the backbone and head (512 for ResNet-18/34, 2048 for
    ResNet-50 to 152, 1024 for GoogLeNet, 1536 for PCB).
    """

    model_type = "iaunet"
    # transformers' alias mechanism: code that still reads a renamed option's former attribute gets the new one
    attribute_map = IAUnetOptions.former_keywords()

    def __init__(
        self,
        *,
        image_size: list[int] | tuple[int, int] = (256, 128),
        **kwargs: Any,
    ) -> None:
        """The architecture keys (``depth``, ``iau_stages``, ...) are those of ``IAUnetOptions``, read from
        ``kwargs`` by their ``config.json`` names and validated there, once."""
        for key in _TIMM_KEYS:
            kwargs.pop(key, None)
        if len(image_size) != 2 or any(int(side) % 16 for side in image_size):
            raise ValueError(
                f"IAUnetConfig.image_size must be [height, width] divisible by 16, got {list(image_size)}"
            )
        keys = (*IAUnetOptions.config_keys().values(), *IAUnetOptions.former_keywords())
        given = {key: kwargs.pop(key) for key in keys if key in kwargs}
        self.image_size = [int(side) for side in image_size]
        for loss_field in dataclasses.fields(ReIDLossConfig):  # every loss setting, its default from there
            setattr(self, loss_field.name, kwargs.pop(loss_field.name, loss_field.default))
        try:
            options = IAUnetOptions.from_config_keys(given)
            self.loss_config()
        except ValueError as error:
            raise ValueError(f"IAUnetConfig: {error}") from None
        for key, value in options.to_config_keys().items():  # stored flat: config.json's keys are unchanged
            setattr(self, key, value)
        self.hidden_size = options.embedding_size
        super().__init__(**kwargs)

    @classmethod
    def from_options(cls, options: IAUnetOptions, **kwargs: Any) -> IAUnetConfig:
        """The config of a network built with ``options``; ``kwargs`` set the other fields (image size, loss)."""
        return cls(**options.to_config_keys(), **kwargs)

    @property
    def options(self) -> IAUnetOptions:
        """The network options this config describes (validated; fields changed after construction included)."""
        return IAUnetOptions.from_config_keys(self.__dict__)

    @classmethod
    def small(cls, **kwargs: Any) -> IAUnetConfig:
        """A narrow IAUnet under 1M parameters (ResNet-18 at 8 base channels, 64x32 input), for tests and quick
        experiments, as transformers' own models offer for their testers; ``kwargs`` override any field."""
        return cls(**{"depth": 18, "base_channels": 8, "image_size": (64, 32), **kwargs})

    def network_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``IAUnet`` (and of the timm model functions) that this config describes."""
        return self.options.to_kwargs()

    def loss_config(self) -> ReIDLossConfig:
        """The reID loss settings this config holds."""
        return ReIDLossConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(ReIDLossConfig)})

    @property
    def timm_architecture(self) -> str:
        """The registered timm name whose defaults this config starts from (the rest goes in ``model_args``)."""
        if self.use_timm_backbone:
            return "iaunet"
        if self.backbone == "googlenet":
            return "iaunet_googlenet"
        if self.head == "pcb":
            return "iaunet_resnet50_pcb"
        return f"iaunet_resnet{self.depth}"

    def timm_num_classes(self) -> int:
        """Classes of the saved classifier: only ``IAUnetForReID`` checkpoints carry one."""
        return self.num_labels if "IAUnetForReID" in (self.architectures or []) else 0

    def to_dict(self) -> dict[str, Any]:
        """Serialise, adding the keys timm's ``local-dir:``/``hf-hub:`` loader reads from the same config.json."""
        output = super().to_dict()
        model_args = {k: list(v) if isinstance(v, tuple) else v for k, v in self.network_kwargs().items()}
        if (
            self.use_timm_backbone
            or self.backbone == "googlenet"
            or self.timm_architecture.startswith(f"iaunet_resnet{self.depth}")
        ):
            model_args.pop("depth")  # implied by the architecture name (or unused)
        num_classes = self.timm_num_classes()
        pretrained_cfg = reid_pretrained_cfg((self.num_channels, *self.image_size), num_classes=num_classes)
        pretrained_cfg = {k: list(v) if isinstance(v, tuple) else v for k, v in pretrained_cfg.items()}
        output.update(
            architecture=self.timm_architecture,
            num_features=self.hidden_size,
            num_classes=num_classes,
            model_args=model_args,
            pretrained_cfg=pretrained_cfg,
        )
        if num_classes:
            output["label_names"] = [self.id2label[i] for i in range(num_classes)]
        return output
