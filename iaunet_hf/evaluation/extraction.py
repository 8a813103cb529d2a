"""Retrieval embeddings of a whole dataset split, for images and tracklets, on one or many processes.

Tracklets follow spec section 5: every frame, in consecutive clips of ``clip_length`` (the last
padded by cycling), clip embeddings averaged. Several processes go through ``accelerate``: the
DataLoader is prepared (sharded) and ``gather_for_metrics`` restores the dataset order and drops
the samples repeated to even out the last batch.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Sequence
from typing import Any

import datasets
import torch
from torch import nn
from tqdm.auto import tqdm

from ..data.collate import tracklet_to_clips
from ..data.transforms import build_eval_transform
from ..inference.embedding import embed, model_input_config
from .distances import DistanceMetric, evaluate_reid_features
from .metrics import APMode


class _ClipCollate:
    """Picklable collate (DataLoader workers) carrying the clip length.

    The data layer's ``collate_reid`` needs one shape per batch, but whole test tracklets differ
    in length: here each is cut into clips and the clips of a batch are concatenated.
    """

    def __init__(self, clip_length: int):
        self.clip_length = clip_length

    def __call__(self, items: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        pixels = [item["pixel_values"] for item in items]
        if pixels[0].dim() == 3:  # images (3, H, W)
            return {"pixel_values": torch.stack(pixels)}
        # tracklets (num_frames, 3, H, W) -> clips (num_clips, T, 3, H, W), concatenated over the batch
        clips = [tracklet_to_clips(frames, self.clip_length) for frames in pixels]
        return {"pixel_values": torch.cat(clips), "clips_per_item": torch.tensor([len(c) for c in clips])}


def _embed_batch(
    model: nn.Module,
    pixel_values: torch.Tensor,
    flip: bool,
    micro_batch: int,
    autocast: Callable[[], contextlib.AbstractContextManager],
) -> torch.Tensor:
    """Embeddings (B, D) in float32, averaged with the horizontally flipped input when ``flip``."""
    outputs = []
    for start in range(0, pixel_values.shape[0], micro_batch):
        chunk = pixel_values[start : start + micro_batch]
        with autocast():
            embedding = embed(model, chunk).float()
            if flip:
                embedding = (embedding + embed(model, chunk.flip(-1)).float()) / 2
        outputs.append(embedding)
    return torch.cat(outputs)


def _with_eval_transform(
    model: nn.Module, dataset: datasets.Dataset, image_size: tuple[int, int] | None
) -> datasets.Dataset:
    """``dataset``'s ``image``/``frames`` column with the model's evaluation transform (``pixel_values``)."""
    if "image" not in dataset.column_names and "frames" not in dataset.column_names:
        raise ValueError(
            f"dataset: expected an 'image' or 'frames' column or a transform giving 'pixel_values', "
            f"found columns {dataset.column_names}"
        )
    input_config = model_input_config(model)
    height, width = image_size or input_config["image_size"]
    keep = [c for c in ("image", "frames") if c in dataset.column_names]
    return dataset.select_columns(keep).with_transform(
        build_eval_transform(height, width, mean=input_config["mean"], std=input_config["std"])
    )


def _mean_over_clips(embedding: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """(items, D) means of clip embeddings (clips, D), ``counts[i]`` consecutive clips belonging to item i."""
    owner = torch.repeat_interleave(torch.arange(len(counts), device=counts.device), counts)
    summed = torch.zeros(len(counts), embedding.shape[1], device=counts.device).index_add_(
        0, owner, embedding
    )
    return summed / counts[:, None]


def _device_autocast_progress(
    model: nn.Module, accelerator: Any | None, autocast_dtype: torch.dtype | None, progress: bool
) -> tuple[torch.device, Callable[[], contextlib.AbstractContextManager], bool]:
    """Where to run, the autocast context factory and whether this process shows the progress bar."""
    if accelerator is not None:
        # accelerator.autocast: a fresh context per use (it is a generator context manager)
        return accelerator.device, accelerator.autocast, progress and accelerator.is_local_main_process
    device = next(model.parameters()).device
    enabled = autocast_dtype is not None
    autocast = functools.partial(torch.autocast, device.type, dtype=autocast_dtype, enabled=enabled)
    return device, autocast, progress


def extract_features(
    model: nn.Module,
    dataset: datasets.Dataset,
    batch_size: int = 64,
    flip: bool = False,
    accelerator: Any | None = None,
    *,
    clip_length: int = 4,
    num_workers: int = 0,
    autocast_dtype: torch.dtype | None = None,
    image_size: tuple[int, int] | None = None,
    progress: bool = True,
) -> torch.Tensor:
    """Embeddings (N, D) float32 on CPU, in dataset order, of an image or tracklet split.

    ``dataset`` has an ``image`` or ``frames`` column (the model's evaluation transform is applied)
    or already yields ``pixel_values`` through ``set_transform``. ``batch_size`` counts images, or
    tracklets for loading and clips for the forward pass. ``flip`` averages with the horizontally
    flipped input. ``autocast_dtype`` (e.g. ``torch.bfloat16``) runs the forward under autocast;
    with an ``accelerate.Accelerator`` its device, mixed precision and process sharding are used.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, found {batch_size}")
    if dataset.format.get("type") != "custom":
        dataset = _with_eval_transform(model, dataset, image_size)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=_ClipCollate(clip_length),
    )
    device, autocast, show = _device_autocast_progress(model, accelerator, autocast_dtype, progress)
    if accelerator is not None:
        # only the loader is prepared (sharded); inference needs no DDP wrapper around the model
        loader = accelerator.prepare(loader)
    was_training = model.training
    model.eval().to(device)
    features = []
    with torch.inference_mode():
        for batch in tqdm(loader, desc="extracting features", disable=not show):
            pixel_values = batch["pixel_values"].to(device)
            embedding = _embed_batch(model, pixel_values, flip, batch_size, autocast)  # (clips or B, D)
            if "clips_per_item" in batch:
                embedding = _mean_over_clips(embedding, batch["clips_per_item"].to(device))
            if accelerator is not None:
                embedding = accelerator.gather_for_metrics(embedding)
            features.append(embedding.cpu())
    model.train(was_training)
    if not features:
        raise ValueError("dataset: expected at least one item, found an empty split")
    return torch.cat(features)


def evaluate_model(
    model: nn.Module,
    dataset_dict: datasets.DatasetDict,
    batch_size: int = 64,
    flip: bool = False,
    rerank: bool = False,
    metric: DistanceMetric = "cosine",
    accelerator: Any | None = None,
    max_rank: int = 50,
    ap: APMode = "standard",
    rerank_options: dict[str, Any] | None = None,
    **extraction_options: Any,
) -> dict:
    """Metrics of ``model`` on a ``DatasetDict`` with ``query`` and ``gallery`` splits (pid/camid columns).

    ``rerank`` applies k-reciprocal re-ranking (k1=20, k2=6, lambda=0.3, or ``rerank_options``
    passed to ``k_reciprocal_blocks``) in ``metric`` (for cosine, on the L2-normalised embeddings),
    streamed into the metrics. Other keywords go to ``extract_features``. Returns ``evaluate_reid``'s dict plus
    ``"camera_filter"``: False when every query and gallery camid is -1 (camera unknown), in which case no
    same-camera gallery entries are removed; True otherwise (the standard protocol).
    """
    for split in ("query", "gallery"):
        if split not in dataset_dict:
            raise ValueError(f"dataset_dict: expected a '{split}' split, found {list(dataset_dict)}")
        missing = [c for c in ("pid", "camid") if c not in dataset_dict[split].column_names]
        if missing:
            raise ValueError(f"dataset_dict['{split}']: expected columns pid and camid, missing {missing}")
    query_features = extract_features(
        model, dataset_dict["query"], batch_size, flip, accelerator, **extraction_options
    )
    gallery_features = extract_features(
        model, dataset_dict["gallery"], batch_size, flip, accelerator, **extraction_options
    )
    labels = {
        f"{prefix}_{column}s": torch.as_tensor(dataset_dict[split].with_format(None)[column])
        for prefix, split in (("q", "query"), ("g", "gallery"))
        for column in ("pid", "camid")
    }
    camera_filter = not (bool((labels["q_camids"] == -1).all()) and bool((labels["g_camids"] == -1).all()))
    # Re-ranked distances stream block by block into the metrics: no dense (Q, G) matrix is built.
    options = {"progress": extraction_options.get("progress", True), **(rerank_options or {})}
    results = evaluate_reid_features(
        query_features,
        gallery_features,
        metric=metric,
        max_rank=max_rank,
        ap=ap,
        progress=options.pop("progress"),
        rerank=rerank,
        rerank_options=options if rerank else None,
        **labels,
        camera_filter=camera_filter,
    )
    return {**results, "camera_filter": camera_filter}
