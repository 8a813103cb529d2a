"""iaunet-eval's command line: its arguments, in three groups (model and protocol, runtime, outputs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..inference import add_model_argument
from ..precision import PRECISIONS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iaunet-eval",
        description="Evaluate an IAUnet (or any package) model under the standard reID protocol. "
        "Dataset builder options: --data.KEY VALUE (e.g. --data.name_pattern REGEX, --data.mask_dir DIR).",
    )
    add_model_and_protocol_arguments(parser)
    add_runtime_arguments(parser)
    add_output_arguments(parser)
    return parser


def add_model_and_protocol_arguments(parser: argparse.ArgumentParser) -> None:
    """The model, the datasets and the evaluation protocol."""
    add_model_argument(parser)
    parser.add_argument(
        "--dataset",
        required=True,
        help="dataset name, or several separated by commas (a cross-domain table), e.g. market1501,dukemtmc_reid",
    )
    parser.add_argument(
        "--data-dir",
        required=True,
        type=Path,
        nargs="+",
        help="the dataset folder (or its parent); one per dataset, or one parent folder holding them all",
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="Arrow cache root (default: the datasets cache)"
    )
    parser.add_argument(
        "--rerank", action="store_true", help="k-reciprocal re-ranking (k1=20, k2=6, lambda=0.3)"
    )
    parser.add_argument(
        "--rerank-candidates",
        choices=("float32", "bf16"),
        default="float32",
        help="with --rerank: float32 (exact) neighbour search, or bf16 candidates re-scored in float32 (faster on "
        "CPUs with AVX512-BF16/AMX and on GPUs; see docs/performance.md)",
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


def add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    """How the embeddings are computed: batches, input size, device, precision."""
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--image-size", type=int, nargs=2, metavar=("HEIGHT", "WIDTH"), default=None)
    parser.add_argument("--video", action="store_true", help="synthetic only: evaluate the tracklet version")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    parser.add_argument(
        "--precision",
        choices=tuple(PRECISIONS),
        default="fp32",
        help="precision of the forward pass (bf16/fp16: autocast), as in training and tracking (default: fp32)",
    )
    # the former spelling of --precision bf16
    parser.add_argument("--bf16", action="store_true", help=argparse.SUPPRESS)


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """Held-out splits, the results file and the gallery to evaluate through."""
    parser.add_argument(
        "--eval-split",
        type=Path,
        default=None,
        metavar="FILE",
        help="train-only set: evaluate on the identities held out in FILE, the eval_split.json of an iaunet-train "
        "--data.missing_eval_splits split run (default: the eval_split.json of --model's run folder, when there)",
    )
    parser.add_argument(
        "--gallery",
        default=None,
        metavar="URI",
        help="evaluate the queries against this indexed gallery (iaunet-embed of the gallery split, plus any "
        "distractors) instead of embedding the gallery split; reports the exact evaluation beside it",
    )
    parser.add_argument("--gallery-k", type=int, default=100, help="with --gallery: neighbours per query")
    parser.add_argument(
        "--gallery-search",
        nargs="+",
        default=[],
        type=search_setting,
        metavar="NAME=VALUE",
        help="with --gallery: ANN search settings, e.g. ef=4000 refine_factor=10 (an ANN that misses hard "
        "negatives reads above the exact mAP; see docs/retrieval.md); the gallery's defaults otherwise",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="results file (JSON) to write; without it the results are only printed and no file is written",
    )


def search_setting(text: str) -> tuple[str, int | float]:
    """One ``NAME=VALUE`` ANN search setting of ``--gallery-search`` (a number)."""
    name, _, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=NUMBER (e.g. ef=4000), found {text!r}") from None
    if not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=NUMBER (e.g. ef=4000), found {text!r}")
    return name, int(number) if number.is_integer() else number
