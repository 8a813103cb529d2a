"""``iaunet-embed``: embed a dataset split, an image folder or a MOTChallenge video into a gallery.

Resumable: the keys already in the gallery are skipped, and every batch is committed on its own, so a killed
run loses at most the batch in flight. Sharded with accelerate (``accelerate launch --num_processes N -m
iaunet_hf.retrieval.embed_cli ...`` on GPUs; ``torchrun --nproc_per_node N -m iaunet_hf.retrieval.embed_cli
--cpu ...`` for CPU processes): each process embeds every N-th item and appends to the same gallery
(LanceDB or a Milvus server; a memory gallery or a milvus-lite file belongs to one process). When all are done
the first process optionally builds the ANN index and writes the rows as a ``datasets`` Parquet shard set.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from accelerate import Accelerator

from ..inference import add_model_argument
from .encoding import embedded_batches, load_encoder
from .gallery import INDEX_KINDS
from .parquet_export import write_parquet_shards
from .sources import Item, dataset_items, folder_items, mot_items
from .uri import add_gallery_argument, backend_of, open_gallery


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iaunet-embed", description=__doc__.splitlines()[0].strip("`"))
    add_model_argument(parser)
    add_gallery_argument(parser)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--dataset", help="a reID dataset name (with --data-dir and --split)")
    what.add_argument("--images", type=Path, help="a folder of images (searched recursively)")
    what.add_argument(
        "--mot", type=Path, help="a MOTChallenge sequence folder (img1/, gt/ or det/, seqinfo.ini)"
    )
    parser.add_argument("--data-dir", type=Path, help="the dataset folder (with --dataset)")
    parser.add_argument(
        "--split", default="gallery", help="the split to embed (with --dataset; default gallery)"
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="Arrow cache root (default: the datasets cache)"
    )
    parser.add_argument(
        "--boxes", choices=("gt", "det"), default="gt", help="with --mot: gt/gt.txt or det/det.txt"
    )
    parser.add_argument("--camid", type=int, default=-1, help="camera id stored with --images / --mot rows")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--cpu", action="store_true", help="run on the CPU (CPU processes under torchrun share work)"
    )
    parser.add_argument("--index", choices=INDEX_KINDS, default=None, help="build this ANN index when done")
    parser.add_argument(
        "--parquet-dir", type=Path, default=None, help="also write the rows as a Parquet shard set here"
    )
    return parser


def load_items(args: argparse.Namespace) -> tuple[str, list[Item]]:
    if args.dataset:
        if args.data_dir is None:
            raise ValueError("--dataset: expected --data-dir DIR, the dataset folder")
        return dataset_items(args.dataset, args.data_dir, args.split, args.cache_dir)
    if args.images:
        return folder_items(args.images, args.camid)
    return mot_items(args.mot, args.camid, args.boxes)


def embed_items(args: argparse.Namespace, items: list[Item], accelerator: Accelerator) -> int:
    """Embed this process's share of the items not yet in the gallery, one committed batch at a time."""
    if accelerator.num_processes > 1 and (
        backend_of(args.gallery) == "memory" or args.gallery.endswith(".db")
    ):
        raise ValueError(
            f"--gallery: {args.gallery} belongs to one process; use a LanceDB folder or a Milvus server with several processes"
        )
    model, processor = load_encoder(args.model, accelerator.device)
    gallery = open_gallery(args.gallery)
    done = gallery.keys()
    mine = [
        item for item in items[accelerator.process_index :: accelerator.num_processes] if item.key not in done
    ]
    added = 0
    for batch, embeddings in embedded_batches(
        model, processor, mine, args.batch_size, accelerator.is_local_main_process
    ):
        added += gallery.add(embeddings, [{"key": item.key, **item.metadata} for item in batch])
    gallery.close()
    return added


def finish(args: argparse.Namespace, source: str) -> str:
    """Index, compact and export (first process only, after every process is done)."""
    with open_gallery(args.gallery) as gallery:
        if hasattr(gallery, "optimize"):
            gallery.optimize()
        if args.index:
            gallery.create_index(args.index)
        where = f"source = '{source}'"
        if args.parquet_dir is not None:
            shards = write_parquet_shards(gallery, args.parquet_dir, where)
            print(f"wrote {len(shards)} Parquet shard(s) to {args.parquet_dir / 'data'}")
        return f"{gallery.count(where)} rows of {source} in {args.gallery} ({gallery.count()} in all)"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    accelerator = Accelerator(cpu=args.cpu)
    try:
        if args.batch_size < 1:
            raise ValueError(f"--batch-size: expected a positive integer, found {args.batch_size}")
        source, items = load_items(args)
        added = embed_items(args, items, accelerator)
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            summary = finish(args, source)
            print(f"added {added} rows (this process); {summary}")
    except (FileNotFoundError, ValueError, OSError) as error:  # bad input the user can fix: one line, exit 2
        print(f"iaunet-embed: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
