"""The end-to-end demo: synthetic data -> IAUnet and baseline training on the CPU -> evaluation -> saved model
with its card -> reload through transformers and timm -> gallery search -> rank-list and attention pictures.

    python scripts/demo.py [--output-dir demo_output] [--epochs N]

Everything it writes goes under ``--output-dir``; the last lines printed say where. The synthetic set is generated
by ``iaunet_hf.data`` (identities that share their upper-body colour and differ in small parts), so the demo needs
no download and shows the part-aware model at work in a few CPU minutes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import timm
import torch
from transformers import AutoImageProcessor, AutoModel

import iaunet_hf  # noqa: F401  (registers the timm models and the Auto classes)
from iaunet_hf.data import load_reid_dataset
from iaunet_hf.evaluation import (
    GalleryIndex,
    evaluate_model,
    evaluate_reid_features,
    extract_features,
    pairwise_distance,
)
from iaunet_hf.evaluation.results import (
    CMC_RANKS,
    read_results,
    result_entry,
    results_document,
    validate_results,
)
from iaunet_hf.evaluation.visualization import (
    attention_and_relations,
    attention_overlay_grid,
    part_attention_stage_labels,
    rank_strip,
    ranked_gallery,
    save_png,
)
from iaunet_hf.inference import RESULTS_FILE
from iaunet_hf.training import Trainer, load_config

MODELS = {"IAUnet": {}, "baseline": {"model.iau_stages": []}}
# (label, metric, re-ranked?) rows of the printed comparison, read from results documents.
TABLE_ROWS = (
    ("mAP", "mAP", False),
    *((f"rank-{rank}", f"rank-{rank}", False) for rank in CMC_RANKS),
    ("mINP", "mINP", False),
    ("mAP, re-ranked", "mAP", True),
    ("rank-1, re-ranked", "rank-1", True),
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", type=Path, default=Path("demo_output"))
    parser.add_argument("--epochs", type=int, default=None, help="override the synthetic recipe's epochs")
    parser.add_argument(
        "--max-steps-per-epoch", type=int, default=None, help="cap batches per epoch (smoke runs)"
    )
    parser.add_argument("--mixed-precision", default=None, choices=("fp32", "bf16", "fp16", "no"))
    parser.add_argument("--num-queries", type=int, default=4, help="queries drawn in the rank-list pictures")
    return parser.parse_args(argv)


def train_both(args: argparse.Namespace, dataset) -> dict[str, dict]:
    """Train IAUnet and the plain baseline with the same recipe, data and seed."""
    runs = {}
    for name, model_overrides in MODELS.items():
        run_dir = args.output_dir / name.lower()
        shutil.rmtree(run_dir, ignore_errors=True)  # a fresh run each time (the trainer refuses to mix runs)
        overrides: dict = {"checkpoint.output_dir": str(run_dir), **model_overrides}
        for key, value in (
            ("train.epochs", args.epochs),
            ("train.max_steps_per_epoch", args.max_steps_per_epoch),
            ("train.mixed_precision", args.mixed_precision),
        ):
            if value is not None:
                overrides[key] = value
        print(
            f"\n== training {name} ({'IAU blocks after stages 2 and 3' if name == 'IAUnet' else 'no IAU block'})"
        )
        start = time.perf_counter()
        result = Trainer(load_config("synthetic", overrides), dataset).train()
        runs[name] = {"result": result, "seconds": time.perf_counter() - start}
    return runs


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


def check_reload(model_dir: Path, dataset) -> dict[str, float]:
    """Load the saved folder through transformers and timm; both must give the same embeddings."""
    auto_model = AutoModel.from_pretrained(model_dir).eval()
    processor = AutoImageProcessor.from_pretrained(model_dir)
    timm_model = timm.create_model(f"local-dir:{model_dir}", pretrained=True, num_classes=0).eval()
    images = [dataset["query"][index]["image"] for index in range(8)]
    pixel_values = processor(images=images, return_tensors="pt")["pixel_values"]
    with torch.inference_mode():
        from_transformers = auto_model(pixel_values=pixel_values).pooler_output
        from_timm = timm_model(pixel_values)
    difference = float((from_transformers - from_timm).abs().max())
    if difference > 1e-4:
        raise RuntimeError(
            f"transformers and timm embeddings of {model_dir} differ by {difference}; expected equal"
        )
    return {"max_abs_difference": difference, "embedding_dim": from_timm.shape[1]}


def search_and_draw(model_dir: Path, dataset, output_dir: Path, num_queries: int) -> dict:
    """Index the gallery, search it with a few queries, and draw rank lists and part attention maps."""
    model = AutoModel.from_pretrained(model_dir).eval()
    query, gallery = dataset["query"], dataset["gallery"]
    query_features = extract_features(model, query, batch_size=64, progress=False)
    gallery_features = extract_features(model, gallery, batch_size=64, progress=False)
    index = GalleryIndex(gallery_features.shape[1])
    index.add(
        gallery_features,
        [
            {"pid": p, "camid": c, "path": s}
            for p, c, s in zip(*(gallery[k] for k in ("pid", "camid", "path")))
        ],
    )
    index_dir = index.save(output_dir / "gallery_index")
    top = index.search(query_features[:1], k=5)

    distances = pairwise_distance(query_features, gallery_features)  # (Q, G) cosine
    # one query per identity, so the pictures show different people
    first_of_pid = {}
    for position, pid in enumerate(query["pid"]):
        first_of_pid.setdefault(pid, position)
    pictures = []
    for position in list(first_of_pid.values())[:num_queries]:
        item = query[position]
        order, correct = ranked_gallery(
            distances[position], item["pid"], item["camid"], gallery["pid"], gallery["camid"], 8
        )
        strip = rank_strip(item["image"], [gallery[i]["image"] for i in order], correct)
        pictures.append(
            save_png(strip, output_dir / "rank_lists" / f"query_{position:03d}_pid{item['pid']}.png")
        )
    processor = AutoImageProcessor.from_pretrained(model_dir)
    for position in list(first_of_pid.values())[:num_queries]:
        image = query[position]["image"]
        pixel_values = processor(images=[image], return_tensors="pt")["pixel_values"]
        part_attention, _ = attention_and_relations(model, pixel_values)
        grid = attention_overlay_grid(
            image,
            [maps[0] for maps in part_attention],
            size=(128, 64),
            stage_labels=part_attention_stage_labels(model),
        )
        pictures.append(save_png(grid, output_dir / "attention_maps" / f"query_{position:03d}.png"))
    first = query[0]
    return {
        "index_dir": index_dir,
        "query": {"pid": first["pid"], "camid": first["camid"]},
        "top5": [
            {"pid": m["pid"], "camid": m["camid"], "similarity": round(float(s), 3)}
            for m, s in zip(top.metadata[0], top.similarities[0])
        ],
        "pictures": pictures,
    }


def print_table(documents: dict[str, dict], seconds: dict[str, float]) -> None:
    """IAUnet and baseline side by side, with the untrained network and random embeddings for reference."""
    print(f"\n{'metric (%)':<20}" + "".join(f"{name:>12}" for name in documents))
    for label, metric, reranked in TABLE_ROWS:
        values = [metric_of(document, metric, reranked) for document in documents.values()]
        print(f"{label:<20}" + "".join(f"{'-':>12}" if v is None else f"{v:>12.1f}" for v in values))
    print(f"{'train+eval time (s)':<20}" + "".join(f"{value:>12.0f}" for value in seconds.values()))


def reload_and_search(model_dir: Path, dataset, output_dir: Path, num_queries: int) -> tuple[dict, dict]:
    """Reload the saved model both ways and compare, then search the gallery and draw; prints as it goes."""
    print(
        "\n== reloading the saved IAUnet with AutoModel.from_pretrained and timm.create_model('local-dir:...')"
    )
    reload = check_reload(model_dir, dataset)
    print(
        f"embeddings agree: max |difference| = {reload['max_abs_difference']:.2e} (dim {reload['embedding_dim']})"
    )
    print("\n== gallery search and pictures")
    search = search_and_draw(model_dir, dataset, output_dir, num_queries)
    print(f"query pid {search['query']['pid']} (camera {search['query']['camid']}), top-5 gallery matches:")
    for rank, match in enumerate(search["top5"], start=1):
        print(f"  #{rank}: pid {match['pid']} camera {match['camid']} similarity {match['similarity']}")
    return reload, search


def demo_summary(documents: dict[str, dict], runs: dict, reload: dict, start: float) -> dict:
    """demo_results.json: per model a results document (validated), plus where and how long for the trained ones."""
    summary = {name: {"results": document} for name, document in documents.items()}
    for name, run in runs.items():
        summary[name].update(seconds=run["seconds"], model_dir=str(run["result"].model_dir))
    for name, entry in summary.items():
        validate_results(entry["results"], where=f"demo_results.json[{name!r}]")
    summary["reload"] = reload
    summary["total_seconds"] = time.perf_counter() - start
    return summary


def print_locations(data_dir: Path, runs: dict, search: dict, output_dir: Path, results_path: Path) -> None:
    print("\n== where everything went")
    print(f"synthetic data:       {data_dir}")
    for name, run in runs.items():
        result = run["result"]
        print(
            f"{name + ' model:':<22}{result.model_dir}  (card: README.md, results: eval_results.json, "
            "training_summary.json)"
        )
        print(
            f"{name + ' run:':<22}{result.output_dir}  (config.yaml, log.csv, log.jsonl, tensorboard/, "
            "checkpoints/, best_model/)"
        )
    print(f"gallery index:        {search['index_dir']}")
    print(f"rank lists:           {output_dir / 'rank_lists'}")
    print(f"attention maps:       {output_dir / 'attention_maps'}")
    print(f"results:              {results_path}")


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    start = time.perf_counter()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    data_dir = args.output_dir / "synthetic_market1501"
    print(f"== synthetic data in {data_dir} (generated on first use)")
    dataset = load_reid_dataset("synthetic", data_dir, cache_dir=args.output_dir / "hf_cache")
    print(
        {split: len(dataset[split]) for split in dataset},
        f"train identities: {len(set(dataset['train']['label']))}",
    )
    runs = train_both(args, dataset)
    recipe = load_config("synthetic")
    # Every model's numbers as a results document: the trained ones are the files their model folders hold.
    documents = {name: read_results(run["result"].model_dir / RESULTS_FILE) for name, run in runs.items()}
    documents["untrained"] = untrained_results(dataset, recipe.data.height, recipe.data.width)
    documents["chance"] = chance_results(dataset)
    model_dir = runs["IAUnet"]["result"].model_dir
    reload, search = reload_and_search(model_dir, dataset, args.output_dir, args.num_queries)
    print_table(documents, {name: run["seconds"] for name, run in runs.items()})
    summary = demo_summary(documents, runs, reload, start)
    results_path = args.output_dir / "demo_results.json"
    results_path.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print_locations(data_dir, runs, search, args.output_dir, results_path)
    print(f"total time: {summary['total_seconds']:.0f} s")
    return summary


if __name__ == "__main__":
    main()
