"""transformers face of IAUnet: a PreTrainedModel base that owns the spec's init, the embedding model and the
reID head with the paper's loss. All of them wrap the one torch network in ``network.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as hf_init
from transformers.utils import ModelOutput

from .blocks import init_module_weights
from .configuration_iaunet import IAUnetConfig
from .losses import ReIDLoss
from .network import IAUnet


@dataclass
class IAUnetModelOutput(ModelOutput):
    """Output of ``IAUnetModel``.

    Args:
        last_hidden_state: last feature map, (B, D, h, w) for images or (B, T, D, h, w) for clips.
        pooler_output: the retrieval embedding (B, D): pooled over space and time, after the BN neck.
        hidden_states: the stem and stage outputs (B*T, C, h, w), when ``output_hidden_states``.
        part_attentions: one part attention map per IAU stage with STIAU, (B, N, h, w) or (B, T, N, h, w).
        relations: per IAU stage, a dict of the CIAU ("channel") and STIAU ("part") relation maps, when
            ``output_relations``.
    """

    last_hidden_state: torch.Tensor | None = None
    pooler_output: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    part_attentions: tuple[torch.Tensor, ...] | None = None
    relations: tuple[dict[str, torch.Tensor], ...] | None = None


@dataclass
class IAUnetReIDOutput(ModelOutput):
    """Output of ``IAUnetForReID``: the loss (with ``labels``), identity logits, embeddings and part maps.

    Args:
        loss: CE with label smoothing + triplet + part-mask BCE (when ``part_masks`` are given).
        logits: identity logits (B, num_labels).
        embeddings: the retrieval embedding (B, D), after the BN neck.
        loss_components: the unweighted parts of the loss, for logging.
        part_attentions: as in ``IAUnetModelOutput``.
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    embeddings: torch.Tensor | None = None
    loss_components: dict[str, torch.Tensor] | None = None
    part_attentions: tuple[torch.Tensor, ...] | None = None


class IAUnetPreTrainedModel(PreTrainedModel):
    """Base class: config class, weight prefix, and the spec's weight initialisation."""

    config_class = IAUnetConfig
    config: IAUnetConfig
    base_model_prefix = "iaunet"
    main_input_name = "pixel_values"
    input_modalities = ("image",)
    supports_gradient_checkpointing = True

    def _init_weights(self, module: nn.Module) -> None:
        init_module_weights(module, init=hf_init)

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        """Load as transformers does, then move memory-mapped tensors into ordinary (aligned) memory.

        transformers leaves safetensors weights mapped at 8-byte-aligned addresses, where the CPU GEMM takes a
        different code path and rounds differently; CIAU's peaked Gram softmax amplifies that to ~1e-5. With
        the copy, the transformers and timm faces of one checkpoint give bit-identical embeddings.
        """
        model = super().from_pretrained(*args, **kwargs)
        with torch.no_grad():
            for tensor in (*model.parameters(), *model.buffers()):
                if tensor.device.type == "cpu" and tensor.data_ptr() % 64:
                    tensor.data = tensor.data.clone()
        return model

    def _set_gradient_checkpointing(self, enable: bool = True, gradient_checkpointing_func=None) -> None:
        for module in self.modules():
            if isinstance(module, IAUnet):
                module.set_grad_checkpointing(enable)


class IAUnetModel(IAUnetPreTrainedModel):
    """IAUnet without a classifier: embeddings for retrieval (``pooler_output``) and part attention maps."""

    # A checkpoint of IAUnetForReID loads here for embeddings; its identity classifier is simply not needed.
    _keys_to_ignore_on_load_unexpected = [r"^classifier\."]

    def __init__(self, config: IAUnetConfig) -> None:
        super().__init__(config)
        self.network = IAUnet(**config.network_kwargs(), num_classes=0)
        self.post_init()

    def forward(
        self,
        pixel_values: torch.Tensor,
        output_hidden_states: bool | None = None,
        output_relations: bool = False,
        return_dict: bool | None = None,
        **kwargs,
    ) -> IAUnetModelOutput | tuple:
        """``pixel_values``: (B, 3, H, W) images or (B, T, 3, H, W) clips, H and W divisible by 16."""
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        network = self.network
        x, num_frames, is_clip = network._split_clips(pixel_values)
        feature_map, taps, part_attention, relations = network._run_stages(x, num_frames, output_relations)
        feature_map = network._unflatten(feature_map, num_frames, is_clip)
        embedding = network.bnneck(network.pool(feature_map))
        output = IAUnetModelOutput(
            last_hidden_state=feature_map,
            pooler_output=embedding,
            hidden_states=tuple(taps) if output_hidden_states else None,
            part_attentions=tuple(network._unflatten(a, num_frames, is_clip) for a in part_attention),
            relations=tuple(relations) if output_relations else None,
        )
        return output if return_dict else output.to_tuple()

    @classmethod
    def from_timm(cls, timm_model: IAUnet, config: IAUnetConfig | None = None) -> IAUnetModel:
        """Wrap the weights of a timm-built IAUnet (its classifier, if any, is dropped)."""
        config = config or config_from_network(timm_model)
        model = cls(config)
        state = {k: v for k, v in timm_model.state_dict().items() if not k.startswith("classifier.")}
        model.network.load_state_dict(state)
        return model

    def to_timm(self) -> IAUnet:
        """A timm-registered IAUnet with the same weights and no classifier."""
        return _network_to_timm(self.network, self.config, num_classes=0)


class IAUnetForReID(IAUnetPreTrainedModel):
    """IAUnet with the identity classifier; with ``labels`` it returns the paper's training loss (spec §3)."""

    def __init__(self, config: IAUnetConfig) -> None:
        super().__init__(config)
        self.iaunet = IAUnetModel(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.classifier.is_classifier = True
        self.loss_fn = ReIDLoss(
            label_smoothing=config.label_smoothing,
            triplet_margin=config.triplet_margin,
            triplet_distance=config.triplet_distance,
            triplet_weight=config.triplet_weight,
            part_loss_weight=config.part_loss_weight,
        )
        self.post_init()

    def forward(
        self,
        pixel_values: torch.Tensor,
        labels: torch.Tensor | None = None,
        part_masks: torch.Tensor | None = None,
        mask_valid: torch.Tensor | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> IAUnetReIDOutput | tuple:
        """``part_masks``: (B, N, H, W) (or (B, T, N, H, W) for clips) in [0, 1]; ``mask_valid``: (B,) bool."""
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        base = self.iaunet(pixel_values, return_dict=True)
        logits = self.classifier(base.pooler_output)
        loss = components = None
        if labels is not None:
            losses = self.loss_fn(
                logits, base.pooler_output, labels, base.part_attentions, part_masks, mask_valid
            )
            loss = losses.loss
            components = {"cross_entropy": losses.cross_entropy, "triplet": losses.triplet}
            if losses.part is not None:
                components["part"] = losses.part
        output = IAUnetReIDOutput(
            loss=loss,
            logits=logits,
            embeddings=base.pooler_output,
            loss_components=components,
            part_attentions=base.part_attentions,
        )
        return output if return_dict else output.to_tuple()

    @classmethod
    def from_timm(cls, timm_model: IAUnet, config: IAUnetConfig | None = None) -> IAUnetForReID:
        """Wrap a timm-built IAUnet that has a classifier (``num_classes > 0``)."""
        if not isinstance(timm_model.classifier, nn.Linear):
            raise ValueError(
                "IAUnetForReID.from_timm needs a timm IAUnet with a classifier (num_classes > 0)"
            )
        config = config or config_from_network(timm_model)
        config.num_labels = timm_model.num_classes
        model = cls(config)
        state = timm_model.state_dict()
        model.classifier.load_state_dict(
            {"weight": state.pop("classifier.weight"), "bias": state.pop("classifier.bias")}
        )
        model.iaunet.network.load_state_dict(state)
        return model

    def to_timm(self) -> IAUnet:
        """A timm-registered IAUnet with the same weights, classifier included."""
        model = _network_to_timm(self.iaunet.network, self.config, num_classes=self.config.num_labels)
        model.classifier.load_state_dict(self.classifier.state_dict())
        return model


def config_from_network(network: IAUnet, **kwargs) -> IAUnetConfig:
    """The config describing an already-built network (e.g. one made by ``timm.create_model``)."""
    first_iau = next(iter(network.iau.values()), None)
    stiau = getattr(first_iau, "stiau", None)
    return IAUnetConfig(
        depth=network.depth,
        iau_stages=list(network.iau_stages),
        iau_modules=list(first_iau.order) if first_iau is not None else ["ciau", "stiau"],
        iau_arrangement=first_iau.arrangement if first_iau is not None else "sequential",
        relations=stiau.relations if stiau is not None else "both",
        num_parts=network.num_parts,
        part_division=stiau.part_division if stiau is not None else "attention",
        num_frames=network.num_frames,
        last_stride=network.last_stride,
        num_channels=network.in_chans,
        **kwargs,
    )


def _network_to_timm(network: IAUnet, config: IAUnetConfig, num_classes: int) -> IAUnet:
    import timm

    model = timm.create_model(config.timm_architecture, num_classes=num_classes, **config.network_kwargs())
    state = {k: v for k, v in network.state_dict().items() if not k.startswith("classifier.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if not k.startswith("classifier.")]:
        raise ValueError(f"network and timm model disagree: missing {missing}, unexpected {unexpected}")
    return model
