"""The demo's comparison table: the trained models beside two references on the same split (IAUnet at its
random initialisation, random embeddings), so the table shows what training earned."""

from __future__ import annotations

import timm
import torch

from iaunet_hf.evaluation import evaluate_model, evaluate_reid_features
from iaunet_hf.evaluation.results import CMC_RANKS, result_entry, results_document
from iaunet_hf.training import load_config

# (label, metric, re-ranked?) rows of the printed comparison, read from results documents.
TABLE_ROWS = (
    ("mAP", "mAP", False),
    *((f"rank-{rank}", f"rank-{rank}", False) for rank in CMC_RANKS),
    ("mINP", "mINP", False),
    ("mAP, re-ranked", "mAP", True),
    ("rank-1, re-ranked", "rank-1", True),
)


def reference_results(evaluation: dict, dataset, model: str) -> dict:
    """A results document (the package's results format) of one reference evaluation on the synthetic set."""
    entry = result_entry(
        "synthetic",
        evaluation,
        settings={"rerank": False, "metric": "cosine"},
        num_query=len(dataset["query"]),
        num_gallery=len(dataset["gallery"]),
    )
    return results_document([entry], model=model)


def untrained_results(dataset, height: int, width: int) -> dict:
    """IAUnet at its random initialisation (same seed): how much of the score training actually earned."""
    torch.manual_seed(load_config("synthetic").train.seed)
    model = timm.create_model("iaunet_resnet18", num_classes=0)
    result = evaluate_model(model, dataset, batch_size=64, image_size=(height, width), progress=False)
    return reference_results(result, dataset, "iaunet_resnet18, untrained")


def chance_results(dataset) -> dict:
    """Random embeddings: what "no learning" scores on this query/gallery split."""
    generator = torch.Generator().manual_seed(0)
    query, gallery = dataset["query"], dataset["gallery"]
    result = evaluate_reid_features(
        torch.randn(len(query), 64, generator=generator),
        torch.randn(len(gallery), 64, generator=generator),
        query["pid"],
        gallery["pid"],
        query["camid"],
        gallery["camid"],
    )
    return reference_results(result, dataset, "random embeddings")


def metric_of(document: dict, metric: str, reranked: bool) -> float | None:
    """One metric of a results document's plain or re-ranked entry (None when it has no such entry)."""
    for entry in document["results"]:
        if bool(entry["settings"].get("rerank")) == reranked:
            return entry["metrics"].get(metric)
    return None


def print_table(documents: dict[str, dict], seconds: dict[str, float]) -> None:
    """IAUnet and baseline side by side, with the untrained network and random embeddings for reference."""
    print(f"\n{'metric (%)':<20}" + "".join(f"{name:>12}" for name in documents))
    for label, metric, reranked in TABLE_ROWS:
        values = [metric_of(document, metric, reranked) for document in documents.values()]
        print(f"{label:<20}" + "".join(f"{'-':>12}" if v is None else f"{v:>12.1f}" for v in values))
    print(f"{'train+eval time (s)':<20}" + "".join(f"{value:>12.0f}" for value in seconds.values()))
