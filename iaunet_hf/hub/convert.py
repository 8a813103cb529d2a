"""Convert torchreid / strong-baseline style ResNet reID checkpoints into IAUnet weights.

Those checkpoints are `.pth` / `.pth.tar` files holding either a plain state dict or a dict with a
`state_dict` (torchreid also stores `epoch`, `rank1`, `optimizer`). Their ResNet keys follow torchvision's
layout, possibly behind `module.` (DataParallel), `base.` (strong baseline) or `backbone.` prefixes; a BN neck
is `bottleneck.*` (strong baseline) or `heads.bottleneck.0.*`. The classifier belongs to the source dataset's
identities and is never converted. Files are read with `torch.load(weights_only=True)` only: a checkpoint that
needs arbitrary unpickling is refused rather than executed.

Because the IAU blocks start as the identity (zero-initialised residual BNs), an IAUnet built on a converted
backbone computes exactly the source network's features until it is trained.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path

import timm
import torch

SOURCE_PREFIXES = ("module.", "base.", "backbone.", "model.", "encoder.")
NECK_PREFIXES = ("bottleneck.", "heads.bottleneck.0.", "bnneck.", "neck.")
BACKBONE_PREFIXES = ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4.")


@dataclass
class ConversionReport:
    """The converted tensors (our key names) and an account of every source key that was not used."""

    state_dict: dict[str, torch.Tensor] = field(default_factory=dict)
    mapped: dict[str, str] = field(default_factory=dict)  # source key -> our key
    unmapped: dict[str, str] = field(default_factory=dict)  # source key -> why it was not converted
    not_provided: list[str] = field(default_factory=list)  # our keys the checkpoint has no tensor for

    def summary(self) -> str:
        lines = [f"converted {len(self.mapped)} tensors; {len(self.unmapped)} source keys not converted"]
        lines += [f"  not converted: {key} ({reason})" for key, reason in sorted(self.unmapped.items())]
        lines.append(
            f"{len(self.not_provided)} IAUnet tensors keep their initialisation (IAU blocks, neck, ...)"
        )
        return "\n".join(lines)


def read_reid_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict inside a `.pth`/`.pth.tar` checkpoint, loaded with `weights_only=True`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as error:
        raise ValueError(
            f"checkpoint {path} cannot be read with torch.load(weights_only=True): {error}; expected a file holding "
            "only tensors and plain containers (re-save its state_dict, not the whole model or its arguments)"
        ) from error
    if isinstance(payload, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(payload.get(key), dict):
                payload = payload[key]
                break
    if not isinstance(payload, dict) or not payload:
        raise ValueError(
            f"checkpoint {path} holds {type(payload).__name__}; expected a (dict with a) state_dict"
        )
    tensors = {k: v for k, v in payload.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ValueError(
            f"checkpoint {path} has no tensors under its keys {list(payload)[:8]}; expected a state_dict"
        )
    return tensors


def _strip_prefixes(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in SOURCE_PREFIXES:
            if key.startswith(prefix):
                key, changed = key[len(prefix) :], True
    return key


def convert_reid_state_dict(
    source: dict[str, torch.Tensor], *, depth: int = 50, include_neck: bool = False
) -> ConversionReport:
    """Map `source` onto `iaunet_resnet{depth}`'s keys; shapes are checked against the real model.

    `include_neck` also converts a BN neck (`bottleneck.*`) into ours; the default gives backbone weights only.
    Either file loads with `timm.create_model(..., pretrained=True, pretrained_cfg_overlay=dict(file=...))`, the
    IAU blocks at their identity initialisation (see `iaunet_hf.timm_models.checkpoint_filter_fn`).
    """
    target = timm.create_model(f"iaunet_resnet{depth}", num_classes=0).state_dict()
    report = ConversionReport()
    for source_key, tensor in source.items():
        key = _strip_prefixes(source_key)
        neck = next((p for p in NECK_PREFIXES if key.startswith(p)), None)
        if neck is not None:
            if not include_neck:
                report.unmapped[source_key] = "BN neck (pass include_neck / --with-neck to convert it)"
                continue
            key = "bnneck." + key[len(neck) :]
        elif not key.startswith(BACKBONE_PREFIXES):
            if "classifier" in key:
                report.unmapped[source_key] = "classifier of the source identities"
            elif key.startswith("fc."):
                report.unmapped[source_key] = "fully connected head (ImageNet fc or torchreid fc_dims)"
            else:
                report.unmapped[source_key] = "no IAUnet counterpart"
            continue
        if key not in target:
            report.unmapped[source_key] = f"no IAUnet tensor {key!r}"
        elif tuple(target[key].shape) != tuple(tensor.shape):
            report.unmapped[source_key] = (
                f"shape {tuple(tensor.shape)} != IAUnet {key} {tuple(target[key].shape)}"
            )
        else:
            report.state_dict[key] = tensor.detach().clone().contiguous()
            report.mapped[source_key] = key
    report.not_provided = sorted(set(target) - set(report.state_dict))
    missing_backbone = [k for k in report.not_provided if k.startswith(BACKBONE_PREFIXES)]
    if missing_backbone:
        raise ValueError(
            f"checkpoint does not provide a full ResNet-{depth} backbone: {len(missing_backbone)} tensors missing, "
            f"e.g. {missing_backbone[:5]}; unconverted source keys: {list(report.unmapped)[:5]}"
        )
    return report


def convert_checkpoint(
    checkpoint: str | Path, output: str | Path, *, depth: int = 50, include_neck: bool = False
) -> ConversionReport:
    """Read `checkpoint`, convert it, and write our weights to the safetensors file `output`."""
    from safetensors.torch import save_file

    report = convert_reid_state_dict(read_reid_checkpoint(checkpoint), depth=depth, include_neck=include_neck)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    save_file(report.state_dict, str(output), metadata={"source": Path(checkpoint).name, "depth": str(depth)})
    return report
