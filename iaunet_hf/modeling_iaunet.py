"""transformers face of IAUnet: a PreTrainedModel base that owns the spec's init, the embedding model and the
reID head with the paper's loss. All of them wrap the one torch network, ``iaunet_hf.model.IAUnet``, built from
``config.options``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from safetensors import SafetensorError
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as hf_init
from transformers.loss.loss_utils import LOSS_MAPPING

from .configuration_iaunet import IAUnetConfig
from .losses import ReIDLoss
from .model import IAUnet, make_identity_classifier
from .model.backbones import pcb_loss
from .model.weight_init import init_module_weights
from .modeling_outputs import IAUnetModelOutput, IAUnetReIDOutput
from .weights_file import WEIGHTS_NAME, check_safetensors_file, raise_on_mismatch


class IAUnetPreTrainedModel(PreTrainedModel):
    """Base class: config class, weight prefix, the spec's weight initialisation and strict loading."""

    config_class = IAUnetConfig
    config: IAUnetConfig
    base_model_prefix = "iaunet"
    main_input_name = "pixel_values"
    input_modalities = ("image",)
    # The network's ResNet stages are transformers GradientCheckpointingLayers, so the default
    # _set_gradient_checkpointing of PreTrainedModel finds and switches them.
    supports_gradient_checkpointing = True

    def _init_weights(self, module: nn.Module) -> None:
        init_module_weights(module, init=hf_init)

    # The task head: the one part of a checkpoint that may be absent (a base checkpoint fine-tuned for a new set of
    # identities) and is then initialised fresh, with transformers' load report.
    _head_prefixes = ("classifier.",)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        """``PreTrainedModel.from_pretrained`` with the package's loading policy (docs/model.md, "Loading policy").

        Strict by default: a checkpoint whose non-head tensors are missing, extra or of another shape raises a
        ``CheckpointMismatchError`` (a ValueError and a RuntimeError) naming the file and the keys, so nothing is
        evaluated with random weights. Where the caller opted in, transformers' own semantics apply: a missing task
        head is initialised fresh (fine-tuning a base checkpoint), ``ignore_mismatched_sizes=True`` re-initialises
        resized tensors, and an explicit ``state_dict=`` or ``output_loading_info=True`` returns what transformers
        returns, with its complete report. A truncated ``model.safetensors`` is a ValueError naming the file.

        Memory-mapped weights are then copied into ordinary (aligned) memory: at 8-byte-aligned addresses the CPU
        GEMM takes a different code path and rounds differently, which CIAU's peaked Gram softmax amplifies to
        ~1e-5; with the copy the transformers and timm faces of one checkpoint give bit-identical embeddings.
        """
        return_info = kwargs.pop("output_loading_info", False)
        reinit_mismatched = kwargs.pop("ignore_mismatched_sizes", False)
        transformers_semantics = return_info or kwargs.get("state_dict") is not None
        source = cls._weights_source(pretrained_model_name_or_path, kwargs.get("subfolder") or "")
        try:
            model, info = super().from_pretrained(
                pretrained_model_name_or_path,
                *args,
                output_loading_info=True,
                # mismatches are re-initialised by transformers and then refused below unless the caller opted in
                ignore_mismatched_sizes=reinit_mismatched or not transformers_semantics,
                **kwargs,
            )
        except SafetensorError as error:
            raise ValueError(
                f"{source} is truncated or not a safetensors file: {error}; expected an intact file written by "
                "save_pretrained (re-save or re-download it)"
            ) from error
        if not transformers_semantics:
            raise_on_mismatch(
                source,
                missing=[
                    key for key in info.get("missing_keys", ()) if not key.startswith(cls._head_prefixes)
                ],
                unexpected=info.get("unexpected_keys", ()),
                mismatched=() if reinit_mismatched else info.get("mismatched_keys", ()),
            )
        with torch.no_grad():
            for tensor in (*model.parameters(), *model.buffers()):
                if tensor.device.type == "cpu" and tensor.data_ptr() % 64:
                    tensor.data = tensor.data.clone()
        return (model, info) if return_info else model

    @staticmethod
    def _weights_source(pretrained_model_name_or_path, subfolder: str) -> str:
        """The weights file a load reads, for error messages; a local file is checked for truncation first."""
        weights = Path(str(pretrained_model_name_or_path)) / subfolder / WEIGHTS_NAME
        if pretrained_model_name_or_path is not None and weights.is_file():
            check_safetensors_file(weights)
            return str(weights)
        return f"{pretrained_model_name_or_path}/{WEIGHTS_NAME}"


class IAUnetModel(IAUnetPreTrainedModel):
    """IAUnet without a classifier: embeddings for retrieval (``pooler_output``) and part attention maps."""

    # A checkpoint of IAUnetForReID loads here for embeddings; its identity classifier is simply not needed.
    _keys_to_ignore_on_load_unexpected = [r"^classifier\."]

    def __init__(self, config: IAUnetConfig) -> None:
        super().__init__(config)
        self.network = IAUnet(config.options, num_classes=0)
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
        out = self.network.forward_reid(
            pixel_values, return_relations=output_relations, return_hidden_states=output_hidden_states
        )
        output = IAUnetModelOutput(
            last_hidden_state=out.feature_map,
            pooler_output=out.embedding,
            hidden_states=out.hidden_states if output_hidden_states else None,
            part_attentions=out.part_attention,
            part_logits=out.part_logits,
            relations=out.relations if output_relations else None,
        )
        return output if return_dict else output.to_tuple()

    @classmethod
    def from_timm(cls, timm_model: IAUnet, config: IAUnetConfig | None = None) -> IAUnetModel:
        """Wrap the weights of a timm-built IAUnet (its classifier, if any, is dropped); in eval mode."""
        config = config or IAUnetConfig.from_options(timm_model.options)
        model = cls(config)
        state = {k: v for k, v in timm_model.state_dict().items() if not k.startswith("classifier.")}
        model.network.load_state_dict(state)
        return model.eval()

    def to_timm(self) -> IAUnet:
        """A timm-registered IAUnet with the same weights and no classifier, in eval mode."""
        return _network_to_timm(self.network, self.config, num_classes=0)


class IAUnetForReID(IAUnetPreTrainedModel):
    """IAUnet with the identity classifier; registered for ``AutoModelForImageClassification``.

    With ``labels`` and ``config.problem_type=None`` (the default) it returns the paper's reID loss (spec §3);
    with an explicit ``problem_type`` it is a plain image classifier: ``"single_label_classification"``
    (cross-entropy), ``"multi_label_classification"`` (BCE with logits) or ``"regression"`` (MSE).
    """

    def __init__(self, config: IAUnetConfig) -> None:
        super().__init__(config)
        self.iaunet = IAUnetModel(config)
        # one linear layer, or one per stripe for PCB (the network's own classifier rule)
        self.classifier = make_identity_classifier(
            config.hidden_size, config.num_labels, config.head, **config.options.classifier_settings()
        )
        self.loss_fn = ReIDLoss(config.loss_config())
        self.post_init()

    def forward(
        self,
        pixel_values: torch.Tensor,
        labels: torch.Tensor | None = None,
        part_masks: torch.Tensor | None = None,
        mask_valid: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> IAUnetReIDOutput | tuple:
        """``part_masks``: (B, N, H, W) (or (B, T, N, H, W) for clips) in [0, 1]; ``mask_valid``: (B,) bool."""
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        # The network's one pass, with this model's classifier as its head (same pool -> BN neck -> classifier).
        out = self.iaunet.network.forward_reid(
            pixel_values, return_hidden_states=output_hidden_states, classifier=self.classifier
        )
        loss = components = None
        if labels is not None and self.config.problem_type is not None:
            # transformers' own image-classification loss (CE, BCE with logits or MSE by problem_type)
            loss = LOSS_MAPPING["ForImageClassification"](labels, out.logits, self.config)
        elif (
            labels is not None and out.stripe_logits is not None
        ):  # PCB: the stripes' cross-entropies, summed
            losses = pcb_loss(
                out.stripe_logits,
                out.embedding,
                labels,
                self.loss_fn.config,
                out.part_logits,
                part_masks,
                mask_valid,
            )
        elif labels is not None:
            # a margin classifier (CosFace, ArcFace, circle) puts its margin on the target logit for the loss only
            margin_logits = getattr(self.classifier, "margin_logits", None)
            logits = out.logits if margin_logits is None else margin_logits(out.logits, labels)
            losses = self.loss_fn(logits, out.embedding, labels, out.part_logits, part_masks, mask_valid)
        if labels is not None and self.config.problem_type is None:
            loss = losses.loss
            components = {"cross_entropy": losses.cross_entropy, "triplet": losses.triplet}
            if losses.part is not None:
                components["part"] = losses.part
            if losses.circle is not None:
                components["circle"] = losses.circle
        output = IAUnetReIDOutput(
            loss=loss,
            logits=out.logits,
            embeddings=out.embedding,
            loss_components=components,
            hidden_states=out.hidden_states if output_hidden_states else None,
            part_attentions=out.part_attention,
            part_logits=out.part_logits,
        )
        return output if return_dict else output.to_tuple()

    @classmethod
    def from_timm(cls, timm_model: IAUnet, config: IAUnetConfig | None = None) -> IAUnetForReID:
        """Wrap a timm-built IAUnet that has a classifier (``num_classes > 0``); in eval mode."""
        if isinstance(timm_model.classifier, nn.Identity):
            raise ValueError(
                "IAUnetForReID.from_timm needs a timm IAUnet with a classifier (num_classes > 0)"
            )
        config = config or IAUnetConfig.from_options(timm_model.options)
        config.num_labels = timm_model.num_classes
        model = cls(config)
        state = timm_model.state_dict()
        classifier_keys = [key for key in state if key.startswith("classifier.")]
        model.classifier.load_state_dict(
            {key[len("classifier.") :]: state.pop(key) for key in classifier_keys}
        )
        model.iaunet.network.load_state_dict(state)
        return model.eval()

    def to_timm(self) -> IAUnet:
        """A timm-registered IAUnet with the same weights, classifier included, in eval mode."""
        model = _network_to_timm(self.iaunet.network, self.config, num_classes=self.config.num_labels)
        model.classifier.load_state_dict(self.classifier.state_dict())
        return model


def config_from_network(network: IAUnet, **kwargs) -> IAUnetConfig:
    """Deprecated: ``IAUnetConfig.from_options(network.options, **kwargs)`` (kept for one release)."""
    warnings.warn(
        "config_from_network is deprecated; use IAUnetConfig.from_options(network.options, **kwargs)",
        DeprecationWarning,
        stacklevel=2,
    )
    return IAUnetConfig.from_options(network.options, **kwargs)


def _network_to_timm(network: IAUnet, config: IAUnetConfig, num_classes: int) -> IAUnet:
    import timm

    model = timm.create_model(config.timm_architecture, num_classes=num_classes, **config.options.to_kwargs())
    state = {k: v for k, v in network.state_dict().items() if not k.startswith("classifier.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if not k.startswith("classifier.")]:
        raise ValueError(f"network and timm model disagree: missing {missing}, unexpected {unexpected}")
    return model.eval()
