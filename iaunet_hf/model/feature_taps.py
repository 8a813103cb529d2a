"""timm's feature-tap contract on the network: intermediate maps and pruning the stages past the last one kept."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from timm.models._features import feature_take_indices
from torch import nn

from .backbones.build import block_key

if TYPE_CHECKING:
    from .network import IAUnet


def take_intermediates(
    network: IAUnet, x: torch.Tensor, indices, stop_early: bool, output_fmt: str
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The final map and the requested taps (stem and stage outputs, after their IAU blocks), (B*T, C, h, w)."""
    if output_fmt != "NCHW":
        raise ValueError(f"IAUnet intermediates are NCHW only, got output_fmt={output_fmt!r}")
    take_indices, max_index = feature_take_indices(5, indices)
    flat, num_frames = network._flatten_clips(x)
    final, taps, _, _ = network._run_stages(flat, num_frames, last_stage=max_index if stop_early else 4)
    return final, [taps[index] for index in take_indices]


def prune_after(network: IAUnet, indices, prune_head: bool) -> list[int]:
    """Replace the stages (and IAU blocks) past the last requested tap by nothing; drop the head when asked or when
    the last stage goes (timm's contract: forward then returns the last kept map)."""
    take_indices, max_index = feature_take_indices(5, indices)
    for names in network.layout.stages[max_index:]:
        for name in names:
            network.set_submodule(name, nn.Sequential())
        if block_key(names[-1]) in network.iau:
            del network.iau[block_key(names[-1])]
    if max_index < 4:
        network.num_features = network.head_hidden_size = network.feature_info[max_index]["num_chs"]
    if prune_head or max_index < 4:
        if network.head == "pcb":
            network.pcb = nn.Identity()
        else:
            network.bnneck = network.reduction = nn.Identity()
        network.reset_classifier(0, "")
    return take_indices
