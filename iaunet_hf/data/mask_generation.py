"""Part masks for a whole split from any ``transformers`` human parser (spec section 4).

The paper's masks came from JPP-Net on LIP; any semantic-segmentation model whose ``id2label``
uses LIP or ATR names can stand in. Outputs go to the compact (default) or official layout that
``mask_dir=`` reads, keyed by the image's path relative to the dataset folder, and finished files
are skipped, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from .loading import build_reid_builder
from .part_masks import PART_NAMES, label_map_to_masks, parsing_to_part_label_map
from .records import TrackletRecord

MASK_LAYOUTS = ("compact", "official")


def mask_target(output_dir: Path, relative_path: str, layout: str) -> Path:
    """Where the masks of the image at ``relative_path`` go: ``<stem>.png`` or ``<stem>/``."""
    stem = Path(relative_path).with_suffix("")
    return output_dir / f"{stem}.png" if layout == "compact" else output_dir / stem


def _is_done(target: Path, layout: str) -> bool:
    if layout == "compact":
        return target.is_file()
    return all((target / f"{name}.png").is_file() for name in PART_NAMES)


def _write_atomically(path: Path, image: Image.Image) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    image.save(partial, format="PNG")
    os.replace(partial, path)  # a crash never leaves a half-written mask that a resume would skip


def _write(target: Path, label_map: np.ndarray, layout: str) -> None:
    if layout == "compact":
        _write_atomically(target, Image.fromarray(label_map, mode="L"))
        return
    for name, mask in zip(PART_NAMES, label_map_to_masks(label_map)):
        _write_atomically(target / f"{name}.png", Image.fromarray(mask, mode="L"))


def split_image_paths(
    dataset: str, data_dir: str | Path, split: str, builder_options: dict | None = None
) -> tuple[Path, list[Path]]:
    """The dataset root and every image (every frame, for tracklets) of ``split``, in dataset order.

    ``builder_options`` are the dataset builder's own options (e.g. the ``folder`` set's ``name_pattern``).
    """
    builder = build_reid_builder(dataset, data_dir, verify_images=False, **(builder_options or {}))
    root, records_by_split = builder.collect_records()
    if split not in records_by_split:
        raise ValueError(f"{dataset}: no split {split!r}; expected one of {sorted(records_by_split)}")
    paths = [
        path
        for record in records_by_split[split]
        for path in (record.frame_paths if isinstance(record, TrackletRecord) else (record.path,))
    ]
    return root, list(dict.fromkeys(paths))  # MARS's official gallery repeats query tracklets


def _batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@torch.inference_mode()
def compute_part_masks(
    model_name_or_path: str,
    dataset: str,
    data_dir: str | Path,
    output_dir: str | Path,
    *,
    split: str = "train",
    layout: str = "compact",
    batch_size: int = 16,
    device: str = "cpu",
    builder_options: dict | None = None,
) -> dict[str, int]:
    """Parse every image of ``split`` and write its part masks; returns counts of written and skipped images."""
    from transformers import AutoImageProcessor, AutoModelForSemanticSegmentation

    if layout not in MASK_LAYOUTS:
        raise ValueError(f"layout is {layout!r}; expected one of {MASK_LAYOUTS}")
    output_dir = Path(output_dir)
    root, paths = split_image_paths(dataset, data_dir, split, builder_options)
    targets = {path: mask_target(output_dir, path.relative_to(root).as_posix(), layout) for path in paths}
    todo = [path for path in paths if not _is_done(targets[path], layout)]
    if not todo:
        return {"written": 0, "skipped": len(paths)}
    processor = AutoImageProcessor.from_pretrained(model_name_or_path)
    model = AutoModelForSemanticSegmentation.from_pretrained(model_name_or_path).to(device).eval()
    id2label = model.config.id2label
    with tqdm(total=len(todo), desc=f"part masks ({dataset}/{split})", unit="img") as progress:
        for batch_paths in _batches(todo, batch_size):
            images = [Image.open(path).convert("RGB") for path in batch_paths]
            inputs = processor(images=images, return_tensors="pt").to(device)
            outputs = model(**inputs)
            sizes = [(image.height, image.width) for image in images]
            if hasattr(processor, "post_process_semantic_segmentation"):
                parsings = processor.post_process_semantic_segmentation(outputs, target_sizes=sizes)
            else:  # processors without post-processing: upsample the logits ourselves
                parsings = [
                    torch.nn.functional.interpolate(logits[None], size=size, mode="bilinear").argmax(1)[0]
                    for logits, size in zip(outputs.logits, sizes)
                ]
            for path, parsing in zip(batch_paths, parsings):
                label_map = parsing_to_part_label_map(parsing.cpu().numpy(), id2label)
                _write(targets[path], label_map, layout)
            progress.update(len(batch_paths))
    return {"written": len(todo), "skipped": len(paths) - len(todo)}
