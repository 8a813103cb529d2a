"""The Compare view: two images -> cosine similarity and the same-person decision at a threshold, with the
threshold chosen on a labelled validation split and the choice shown as a picture.

The threshold maximises balanced accuracy (the mean of the same-person and different-person pair accuracies)
over all pairs of the validation images: plain accuracy would be dominated by the far more numerous
different-person pairs and favour thresholds that call nearly everything different.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from .engine import ReidEngine

MAX_VALIDATION_IMAGES = 256  # all pairs of them: 32k similarities, a second to embed on a CPU


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    balanced_accuracy: float
    same_similarities: np.ndarray
    different_similarities: np.ndarray
    description: str


def pair_similarities(embeddings: torch.Tensor, pids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarities of all same-identity and all different-identity pairs (each pair once)."""
    similarity = (embeddings @ embeddings.T).numpy()
    first, second = np.triu_indices(len(pids), k=1)
    same = pids[first] == pids[second]
    return similarity[first, second][same], similarity[first, second][~same]


def choose_threshold(same: np.ndarray, different: np.ndarray, source: str) -> ThresholdChoice:
    """The similarity threshold with the best balanced accuracy (ties: the middle of the best run)."""
    if len(same) == 0 or len(different) == 0:
        raise ValueError(
            f"{source}: expected at least two images of one identity and two identities, found "
            f"{len(same)} same-person and {len(different)} different-person pairs"
        )
    candidates = np.unique(np.concatenate([same, different]))
    same_sorted, different_sorted = np.sort(same), np.sort(different)
    # "same person" means similarity >= threshold
    true_accept = 1 - np.searchsorted(same_sorted, candidates, side="left") / len(same)
    true_reject = np.searchsorted(different_sorted, candidates, side="left") / len(different)
    balanced = (true_accept + true_reject) / 2
    best = np.flatnonzero(balanced == balanced.max())
    threshold = float(candidates[best[len(best) // 2]])
    description = (
        f"Threshold {threshold:.3f}: the best balanced accuracy ({balanced.max():.3f}) over "
        f"{len(same)} same-person and {len(different)} different-person pairs of {source}."
    )
    return ThresholdChoice(threshold, float(balanced.max()), same, different, description)


def threshold_from_split(engine: ReidEngine, split, source: str, seed: int = 0) -> ThresholdChoice:
    """Embed up to MAX_VALIDATION_IMAGES labelled images (pid >= 1; seeded sample) and choose the threshold."""
    pids = np.asarray(split.with_format(None)["pid"])
    rows = np.flatnonzero(pids >= 1)  # pid 0 (distractors) and -1 (junk) are no identity
    if len(rows) > MAX_VALIDATION_IMAGES:
        rows = np.sort(np.random.default_rng(seed).choice(rows, MAX_VALIDATION_IMAGES, replace=False))
    images = split.select(rows.tolist())["image"]
    same, different = pair_similarities(engine.embed_images(images), pids[rows])
    return choose_threshold(same, different, f"{source} ({len(rows)} images)")


def threshold_figure(choice: ThresholdChoice) -> Image.Image:
    """Histograms of same- and different-person similarities with the chosen threshold (matplotlib Agg)."""
    # imported here: matplotlib only draws this figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 3.2), dpi=100)
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    bins = np.linspace(-1, 1, 81)
    axes.hist(choice.different_similarities, bins=bins, density=True, alpha=0.6, label="different person")
    axes.hist(choice.same_similarities, bins=bins, density=True, alpha=0.6, label="same person")
    axes.axvline(choice.threshold, color="black", linestyle="--", label=f"threshold {choice.threshold:.3f}")
    axes.set_xlabel("cosine similarity")
    axes.set_ylabel("density")
    axes.legend(fontsize=8)
    figure.tight_layout()
    canvas.draw()
    return Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3].copy())


def compare_images(engine: ReidEngine, first: Image.Image, second: Image.Image) -> float:
    """Cosine similarity of the two images' embeddings."""
    embeddings = engine.embed_images([first, second])
    return float(embeddings[0] @ embeddings[1])
