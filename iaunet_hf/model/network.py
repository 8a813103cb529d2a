"""The IAUnet network: a last-stride-1 backbone with IAU blocks after chosen stages and a BN-neck head.

Defined once in plain torch (the timm face builds it directly, the transformers face wraps it). The backbone is a
ResNet (18-152) or GoogLeNet with BN, run through its ``BackboneLayout``; its parameter names equal torchvision's
(and timm's), so ImageNet weights load unchanged. After a stage goes an IAU block or one of the paper's
comparison blocks (``iau_modules``); the head is the BN neck or PCB's six stripes (``head="pcb"``). What to build
is one validated ``IAUnetOptions``; the network only reads it.
"""

from __future__ import annotations

import dataclasses
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint
from transformers.modeling_layers import GradientCheckpointingLayer

from .backbones import PCBHead, StripeClassifier
from .backbones.build import block_key, build_backbone, group_matcher
from .comparison_blocks import ComparisonBlock
from .feature_taps import prune_after, take_intermediates
from .head import IAUnetOutput, make_embedding_reduction, make_identity_classifier
from .iau_block import IAUBlock
from .input_checks import check_pixel_values, flatten_clips
from .options import IAUnetOptions, check_global_pool
from .pooling import GlobalPool
from .weight_init import init_module_weights

__all__ = ["IAUnet", "IAUnetOutput", "make_identity_classifier"]


class IAUnet(nn.Module):
    """IAUnet for image and video reID (spec §2): backbone stages, IAU blocks, GAP, temporal mean, BN neck, classifier.

    ``options`` (an ``IAUnetOptions``) or its flat keywords (``depth=18, iau_stages=(2,), ...``, those of
    ``timm.create_model``) say what to build; ``IAUnetOptions()`` is the paper's image model and
    ``iau_stages=()`` its baseline. ``num_classes``, ``drop_rate`` and ``global_pool`` are the head's (timm's
    meaning). Inputs are (B, 3, H, W) images or (B, T, 3, H, W) clips with H and W divisible by 16, as float
    tensors normalised like the training data. ``device``/``dtype`` build every layer there (``device="meta"``
    included), as timm's own models do.
    """

    def __init__(
        self,
        options: IAUnetOptions | None = None,
        *,
        num_classes: int = 0,
        drop_rate: float = 0.0,
        global_pool: str = "avg",
        device=None,
        dtype=None,
        **option_kwargs,
    ) -> None:
        super().__init__()
        if options is not None and option_kwargs:
            raise TypeError(f"IAUnet takes options or their keywords, not both (got {sorted(option_kwargs)})")
        options = options if options is not None else IAUnetOptions.from_kwargs(**option_kwargs)
        check_global_pool(global_pool)
        dd = dict(device=device, dtype=dtype)
        self.options = options
        self.in_chans = options.in_chans
        self.head = options.head
        self.drop_rate = drop_rate
        self.global_pool = global_pool
        backbone = build_backbone(options, **dd)
        # the layout runs the modules; a plain ImageNet file of the backbone also holds its head (under these
        # prefixes); OSNet applies its 512-d feature layer after pooling
        self.layout, self.imagenet_head_prefixes = backbone.layout, backbone.head_prefixes
        self.post_pool = backbone.post_pool
        for name, module in backbone.modules.items():
            self.add_module(name, module)
        self.feature_info = self.layout.feature_info()
        self.iau = nn.ModuleDict(self._make_blocks(**dd))
        # transformers' gradient_checkpointing_enable() and timm's set_grad_checkpointing switch this (and the
        # ResNet stages' own): a timm backbone's stages are checkpointed by the network
        self.gradient_checkpointing = False
        self._gradient_checkpointing_func = partial(checkpoint, use_reentrant=False)
        in_channels = self.layout.stage_channels[-1]
        # the pooled feature: the last map's channels, or the backbone's post-pool feature layer (OSNet's 512-d fc)
        pooled_size = in_channels
        if self.post_pool and options.head != "pcb":
            pooled_size = dataclasses.replace(
                options, embedding_dim=IAUnetOptions().embedding_dim
            ).embedding_size
        # timm's meaning: num_features is the last map's channels, head_hidden_size the embedding's size
        self.pooling = GlobalPool(options.pooling, options.gem_p, options.gem_learnable_p, **dd)
        if options.head == "pcb":
            self.pcb = PCBHead(in_channels, **dd)
            self.num_features, self.head_hidden_size = in_channels, self.pcb.out_features
        else:
            self.reduction = make_embedding_reduction(pooled_size, options.embedding_dim, **dd)
            self.num_features, self.head_hidden_size = in_channels, options.embedding_dim or pooled_size
            self.bnneck = nn.BatchNorm1d(self.head_hidden_size, **dd)
        self.num_classes = num_classes
        self.classifier = self._make_classifier(num_classes, **dd)
        self.init_weights()

    def _unit(self, path: str) -> nn.Module:
        """A backbone module by its (possibly dotted, e.g. ``blocks.3``) ImageNet name."""
        return self.get_submodule(path)

    def _make_blocks(self, device=None, dtype=None) -> dict[str, nn.Module]:
        """An IAU (or comparison) block after the last module of each chosen stage, under that module's name."""
        iau = self.options.iau
        blocks = {}
        stages = zip(self.layout.stages, self.layout.stage_channels, strict=True)
        for index, (names, channels) in enumerate(stages, start=1):
            if index not in self.options.iau_stages:
                continue
            key = block_key(names[-1])
            if iau.is_comparison:
                blocks[key] = ComparisonBlock(channels, iau.modules, device=device, dtype=dtype)
            else:
                blocks[key] = IAUBlock(channels, iau, device=device, dtype=dtype)
            # the tap is the stage output after its block (torch.fx names it by the block that makes it)
            self.feature_info[index]["module"] = f"iau.{key}"
        return blocks

    def _make_classifier(self, num_classes: int, device=None, dtype=None) -> nn.Module:
        return make_identity_classifier(
            self.head_hidden_size, num_classes, self.head, device, dtype, **self.options.classifier_settings()
        )

    def init_weights(self) -> None:
        """Apply the spec's initialisation to every module (ImageNet weights, if any, are loaded afterwards)."""
        # a timm backbone keeps timm's own initialisation (its layer scales, zero-init residuals, ...)
        timm_modules = set()
        if self.options.use_timm_backbone:
            for name in {path.split(".")[0] for path in (*self.layout.stem, *sum(self.layout.stages, ()))}:
                timm_modules.update(self.get_submodule(name).modules())
        for module in self.modules():
            if module not in timm_modules:
                init_module_weights(module)

    # --- timm model interface -------------------------------------------------------------------------------
    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        return group_matcher(self.options, self.layout, coarse)

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """timm's switch; sets what transformers' ``gradient_checkpointing_enable()`` sets on each stage (and, for
        a timm backbone, whose stages are timm's modules, on the network, which then checkpoints each stage)."""
        for module in self.modules():
            if isinstance(module, GradientCheckpointingLayer):
                module.gradient_checkpointing = enable
                module._gradient_checkpointing_func = partial(checkpoint, use_reentrant=False)

    @property
    @torch.jit.unused
    def grad_checkpointing(self) -> bool:
        return any(getattr(m, "gradient_checkpointing", False) for m in self.modules())

    @torch.jit.ignore
    def get_classifier(self, name_only: bool = False):
        return "classifier" if name_only else self.classifier

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """Replace the classifier; ``global_pool=""`` makes ``forward`` return the unpooled map (timm's idiom)."""
        if global_pool is not None:
            check_global_pool(global_pool)
            self.global_pool = global_pool
        reference = next(self.parameters())
        self.num_classes = num_classes
        self.classifier = self._make_classifier(num_classes, device=reference.device, dtype=reference.dtype)
        self.classifier.train(self.training)
        init_module_weights(self.classifier)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a ValueError saying what was expected when ``x`` is not an input the network can take."""
        check_pixel_values(x, self.in_chans)

    def _flatten_clips(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        return flatten_clips(x, self.check_input)

    def _run_stages(
        self, x: torch.Tensor, num_frames: int, return_relations: bool = False, last_stage: int = 4
    ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor], list[dict[str, torch.Tensor]]]:
        """Stem and stages on (B*T, C, H, W); returns the map, the stem and stage outputs, part logits, relations."""
        for name in self.layout.stem:
            x = self._unit(name)(x)
        stage_outputs, part_logits, relations = [x], [], []
        for names in self.layout.stages[:last_stage]:
            if self.gradient_checkpointing and self.training and self.options.use_timm_backbone:
                x = self._gradient_checkpointing_func(self._run_units, names, x)
            else:
                x = self._run_units(names, x)
            if block_key(names[-1]) in self.iau:
                x, logits, relation = self.iau[block_key(names[-1])](x, num_frames, return_relations)
                if logits is not None:
                    part_logits.append(logits)
                if return_relations:
                    relations.append(relation)
            stage_outputs.append(x)
        return x, stage_outputs, part_logits, relations

    def _run_units(self, names: tuple[str, ...], x: torch.Tensor) -> torch.Tensor:
        for name in names:
            x = self._unit(name)(x)
        return x

    def pool(self, feature_map: torch.Tensor) -> torch.Tensor:
        """The options' pooling over space, then the mean over time for clips: (B, D) from (B, D, h, w) or
        (B, T, D, h, w) (``iaunet_hf.model.pooling``; average by default)."""
        return self.pooling(feature_map)

    def _head(
        self, feature_map: torch.Tensor, classifier: nn.Module | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The one place that applies pool -> BN neck -> dropout -> classifier.

        Returns (pooled, embedding, head output, stripe logits): PCB's head output is the mean of its (B, 6, K)
        stripe logits, which come back separately for its loss (None for the BN-neck head).
        """
        classifier = self.classifier if classifier is None else classifier
        if not self.global_pool:  # timm's global_pool="": the unpooled map; no neck or classifier runs
            return feature_map, feature_map, feature_map, None
        if (
            self.head == "pcb"
        ):  # the concatenated reduced stripe features are both pooled feature and embedding
            global_feature = embedding = self.pcb(feature_map)
        else:
            global_feature = self.pool(feature_map)
            if self.post_pool is not None:  # the backbone's own feature layer after pooling (OSNet's fc)
                global_feature = self._unit(self.post_pool)(global_feature)
            embedding = self.bnneck(self.reduction(global_feature))
        if self.drop_rate > 0:
            dropped = F.dropout(embedding, p=self.drop_rate, training=self.training)
        else:
            dropped = embedding
        output = classifier(dropped)
        if isinstance(classifier, StripeClassifier):
            return global_feature, embedding, output.mean(dim=1), output
        return global_feature, embedding, output, None

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Last feature map: (B, D, h, w) for images, (B, T, D, h, w) for clips."""
        flat, num_frames = self._flatten_clips(x)
        feature_map, _, _, _ = self._run_stages(flat, num_frames)
        return feature_map.unflatten(0, x.shape[:-3])

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool, BN neck (the retrieval embedding), then dropout and the classifier unless ``pre_logits``."""
        _, embedding, output, _ = self._head(x)
        return embedding if pre_logits else output

    def forward_reid(
        self,
        x: torch.Tensor,
        return_relations: bool = False,
        return_hidden_states: bool = False,
        classifier: nn.Module | None = None,
    ) -> IAUnetOutput:
        """The full pass every face uses: embedding, logits, every IAU stage's part maps (and relations, taps).

        ``classifier`` replaces the network's own for this pass (``IAUnetForReID`` keeps its classifier outside
        the network, so that its checkpoint keys stay those of an image classifier).
        """
        batch_shape = x.shape[:-3]  # (B,) for images, (B, T) for clips
        flat, num_frames = self._flatten_clips(x)
        feature_map, taps, part_logits, relations = self._run_stages(flat, num_frames, return_relations)
        feature_map = feature_map.unflatten(0, batch_shape)
        classifier = self.classifier if classifier is None else classifier
        global_feature, embedding, output, stripe_logits = self._head(feature_map, classifier)
        part_logits = tuple(logits.unflatten(0, batch_shape) for logits in part_logits)
        return IAUnetOutput(
            embedding=embedding,
            global_feature=global_feature,
            feature_map=feature_map,
            logits=None if isinstance(classifier, nn.Identity) else output,
            stripe_logits=stripe_logits,
            part_attention=tuple(torch.sigmoid(logits) for logits in part_logits),
            part_logits=part_logits,
            relations=tuple(relations),
            hidden_states=tuple(taps) if return_hidden_states else (),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Identity logits, or the embedding when the model has no classifier (``num_classes=0``).

        The same stages and head as ``forward_reid``, composed as timm's ``forward_head(forward_features(x))`` so
        that the traced graph (torch.fx, TorchScript) ends in the returned tensor.
        """
        feature_map = self.forward_features(x)
        _, embedding, output, _ = self._head(feature_map)
        return embedding if isinstance(self.classifier, nn.Identity) else output

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
        final, intermediates = take_intermediates(self, x, indices, stop_early, output_fmt)
        return intermediates if intermediates_only else (final, intermediates)

    def prune_intermediate_layers(
        self, indices: int | list[int] = 1, prune_norm: bool = False, prune_head: bool = True
    ) -> list[int]:
        """Drop stages (and their IAU blocks) past the last requested tap, as timm's features_only expects."""
        return prune_after(self, indices, prune_head)
