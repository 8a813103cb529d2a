"""Console entry point ``iaunet-app``: serve the Search, Attention, Compare and Track views of a model."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from ..inference import add_model_argument
from .context import AppContext, AppSettings, default_synthetic_dir

MAX_UPLOAD = "200mb"  # Gradio refuses larger uploads before they reach a view (a short video is far smaller)

DESCRIPTION = (
    "A web app (Gradio) to search a gallery, look at attention, compare two people and track people with an "
    "IAUnet model. HF_ENDPOINT, HF_HUB_OFFLINE and GRADIO_SERVER_PORT are honoured."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iaunet-app", description=DESCRIPTION)
    add_model_argument(parser)
    data = parser.add_mutually_exclusive_group()
    data.add_argument("--dataset", default="synthetic", help="dataset builder name (default: synthetic)")
    data.add_argument(
        "--gallery-folder", type=Path, help="an image folder to search (the 'folder' dataset layout)"
    )
    parser.add_argument(
        "--data-dir", type=Path, help="the dataset's folder (synthetic: generated when empty)"
    )
    parser.add_argument("--cache-dir", type=Path, help="Arrow cache root (default: the datasets cache)")
    parser.add_argument("--gallery-split", default="gallery")
    parser.add_argument("--query-split", default="query", help="split whose images the views offer to pick")
    parser.add_argument(
        "--validation-split", default="train", help="labelled split the threshold is chosen on"
    )
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    parser.add_argument(
        "--host", help="default: GRADIO_SERVER_NAME or 127.0.0.1; 0.0.0.0 serves other machines"
    )
    parser.add_argument("--port", type=int, help="default: GRADIO_SERVER_PORT or 7860")
    parser.add_argument("--share", action="store_true", help="also open a public Gradio share link")
    return parser


def settings_of(args: argparse.Namespace) -> AppSettings:
    if args.gallery_folder is not None:
        if not args.gallery_folder.is_dir():
            raise FileNotFoundError(f"--gallery-folder {args.gallery_folder}: expected a folder of images")
        dataset, data_dir = "folder", args.gallery_folder
    else:
        dataset = args.dataset
        data_dir = args.data_dir or (default_synthetic_dir() if dataset == "synthetic" else None)
        if data_dir is None:
            raise ValueError(f"--dataset {dataset}: expected --data-dir, the dataset's folder")
    return AppSettings(
        model=args.model, dataset=dataset, data_dir=Path(data_dir), gallery_split=args.gallery_split,
        query_split=args.query_split, validation_split=args.validation_split, cache_dir=args.cache_dir,
        device=args.device, top_k=args.top_k,
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("iaunet_hf").setLevel(logging.INFO)
    try:
        settings = settings_of(args)
        context = AppContext(settings)
    except (FileNotFoundError, ValueError) as error:
        parser.exit(2, f"iaunet-app: {' '.join(str(error).split())}\n")
    from .ui import build_app  # deferred: gradio is the app extra's, and --help works without it

    build_app(context).queue(default_concurrency_limit=1).launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        show_error=True,
        max_file_size=MAX_UPLOAD,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
