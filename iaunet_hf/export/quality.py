"""Calibration batches from a dataset split, and the retrieval accuracy an exported graph keeps.

Int8 quantisation is calibrated on one split (the training images) and judged on held-out query/gallery
splits by the mAP change against the float32 graph: a quantised model is only deployable with that number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..evaluation.distances import evaluate_reid_features
from ..inference.preprocessing import load_image_processor
from ..inference.runtimes import onnx_session
from ..inference.sidecar import INPUT_NAME, OUTPUT_NAME


def dataset_batches(
    model_dir: str | Path,
    split: Any,
    *,
    batch_size: int = 32,
    max_images: int | None = None,
    seed: int = 0,
) -> list[np.ndarray]:
    """Float32 (B, 3, H, W) batches of a split's `image` column through the checkpoint's image processor;
    `max_images` draws a seeded random subset (calibration needs a few hundred images, not a whole set)."""
    if "image" not in split.column_names:
        raise ValueError(f"split: expected an 'image' column, found {split.column_names}")
    if max_images is not None and max_images < len(split):
        order = np.random.default_rng(seed).permutation(len(split))[:max_images]
        split = split.select(sorted(order.tolist()))
    processor = load_image_processor(model_dir)
    batches = []
    for start in range(0, len(split), batch_size):
        images = [image.convert("RGB") for image in split[start : start + batch_size]["image"]]
        batches.append(processor(images=images, return_tensors="np")["pixel_values"].astype(np.float32))
    return batches


def onnx_features(onnx_path: str | Path, batches: list[np.ndarray]) -> np.ndarray:
    session = onnx_session(onnx_path)
    return np.concatenate([session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0] for batch in batches])


def retrieval_metrics(model_dir: str | Path, onnx_path: str | Path, dataset_dict: Any) -> dict[str, float]:
    """mAP and rank-1 of an ONNX graph on a `DatasetDict`'s query and gallery splits (cosine distance)."""
    features = {
        split: onnx_features(onnx_path, dataset_batches(model_dir, dataset_dict[split]))
        for split in ("query", "gallery")
    }
    labels = {
        f"{prefix}_{column}s": np.asarray(dataset_dict[split].with_format(None)[column])
        for prefix, split in (("q", "query"), ("g", "gallery"))
        for column in ("pid", "camid")
    }
    result = evaluate_reid_features(features["query"], features["gallery"], progress=False, **labels)
    return {"mAP": float(result["mAP"]), "rank1": float(np.asarray(result["cmc"])[0])}


def quantisation_report(
    model_dir: str | Path, fp32_path: str | Path, int8_path: str | Path, dataset_dict: Any
) -> dict[str, float]:
    """fp32 and int8 mAP / rank-1 on the held-out splits and their change (int8 - fp32)."""
    fp32 = retrieval_metrics(model_dir, fp32_path, dataset_dict)
    int8 = retrieval_metrics(model_dir, int8_path, dataset_dict)
    return {
        "fp32_mAP": fp32["mAP"],
        "int8_mAP": int8["mAP"],
        "mAP_change": int8["mAP"] - fp32["mAP"],
        "fp32_rank1": fp32["rank1"],
        "int8_rank1": int8["rank1"],
    }
