"""``iaunet-eval``: evaluate a model on a reID dataset, print the results table and write it as JSON."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import torch

RANKS = (1, 5, 10, 20)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iaunet-eval",
        description="Evaluate an IAUnet (or any package) model under the standard reID protocol.",
    )
    parser.add_argument(
        "--model", required=True, help="save_pretrained folder, Hub id, local-dir:/hf-hub: or timm name"
    )
    parser.add_argument(
        "--dataset", required=True, help="dataset name, e.g. market1501, msmt17, mars, synthetic"
    )
    parser.add_argument("--data-dir", required=True, type=Path, help="the dataset folder (or its parent)")
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="Arrow cache root (default: the datasets cache)"
    )
    parser.add_argument(
        "--rerank", action="store_true", help="k-reciprocal re-ranking (k1=20, k2=6, lambda=0.3)"
    )
    parser.add_argument(
        "--flip", action="store_true", help="average embeddings with the horizontally flipped input"
    )
    parser.add_argument("--metric", choices=("cosine", "euclidean"), default="cosine")
    parser.add_argument(
        "--ap",
        choices=("standard", "trapezoid"),
        default="standard",
        help="AP form (trapezoid: official Market-1501 code)",
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--image-size", type=int, nargs=2, metavar=("HEIGHT", "WIDTH"), default=None)
    parser.add_argument("--video", action="store_true", help="synthetic only: evaluate the tracklet version")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    parser.add_argument("--bf16", action="store_true", help="run the forward pass under bfloat16 autocast")
    parser.add_argument(
        "--output", type=Path, default=Path("eval_results.json"), help="JSON file for the results"
    )
    return parser


def results_table(results: dict, title: str) -> str:
    """A fixed-width table of mAP, mINP and the CMC ranks, in percent."""
    columns = [("mAP", results["mAP"]), ("mINP", results["mINP"])]
    columns += [(f"R{rank}", results["cmc"][rank - 1]) for rank in RANKS if rank <= len(results["cmc"])]
    header = " | ".join(f"{name:>6}" for name, _ in columns)
    values = " | ".join(f"{100 * value:6.2f}" for _, value in columns)
    rule = "-" * len(header)
    return f"{title}\n{rule}\n{header}\n{values}\n{rule}"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ..data import load_reid_dataset
    from .extraction import evaluate_model
    from .model_loading import load_reid_model

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if not args.data_dir.exists():
        raise FileNotFoundError(
            f"--data-dir: {args.data_dir} does not exist; expected the {args.dataset} folder"
        )
    options = {"video": True} if args.video else {}
    dataset_dict = load_reid_dataset(args.dataset, args.data_dir, cache_dir=args.cache_dir, **options)
    model = load_reid_model(args.model).to(device)
    results = evaluate_model(
        model,
        dataset_dict,
        batch_size=args.batch_size,
        flip=args.flip,
        rerank=args.rerank,
        metric=args.metric,
        ap=args.ap,
        num_workers=args.num_workers,
        image_size=tuple(args.image_size) if args.image_size else None,
        autocast_dtype=torch.bfloat16 if args.bf16 else None,
    )
    settings = (
        f"{args.dataset}: {args.model}"
        + (" +flip" if args.flip else "")
        + (" +rerank" if args.rerank else "")
    )
    print(results_table(results, settings))
    record = {
        "model": args.model,
        "dataset": args.dataset,
        "flip": args.flip,
        "rerank": args.rerank,
        "metric": args.metric,
        "ap": args.ap,
        "mAP": results["mAP"],
        "mINP": results["mINP"],
        **{f"rank-{rank}": float(results["cmc"][rank - 1]) for rank in RANKS if rank <= len(results["cmc"])},
        "cmc": results["cmc"].tolist(),
        "num_query": len(dataset_dict["query"]),
        "num_gallery": len(dataset_dict["gallery"]),
        "num_valid_queries": results["num_valid_queries"],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=2))
    print(f"results written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
