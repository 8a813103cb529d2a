"""``iaunet-search``: query images (files, a folder, or a dataset split) against a gallery; print the top-k and
save each query's rank strip as a PNG (the evaluation's ``rank_strip``: green the same known pid, red not).

``--where`` filters the gallery with the query's own metadata filled in: ``--where "camid != {camid}"`` asks
for other cameras only, ``"NOT (pid = {pid} AND camid = {camid})"`` is the standard protocol's junk removal.
"""

from __future__ import annotations

import argparse
import string
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from ..evaluation.visualization import rank_strip, save_png
from .encoding import embedded_batches, load_encoder
from .filters import parse_where
from .gallery import SearchHits
from .sources import IMAGE_SUFFIXES, Item, dataset_items, folder_items, open_image
from .uri import add_gallery_argument, open_gallery


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iaunet-search", description=__doc__.splitlines()[0].strip("`"))
    parser.add_argument("--model", required=True, help="the model that embedded the gallery")
    add_gallery_argument(parser)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--images", type=Path, nargs="+", help="query image files or folders")
    what.add_argument("--dataset", help="a reID dataset whose --split (default query) gives the queries")
    parser.add_argument("--data-dir", type=Path, help="the dataset folder (with --dataset)")
    parser.add_argument("--split", default="query")
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--k", type=int, default=10, help="neighbours per query (default 10)")
    parser.add_argument(
        "--where", default=None, help='filter, {column} filled from each query, e.g. "camid != {camid}"'
    )
    parser.add_argument(
        "--refine-factor", type=int, default=10, help="ANN candidates re-scored exactly, per k"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda when available)")
    parser.add_argument(
        "--output", type=Path, default=None, help="folder for the rank strips (rank_0000.png, ...)"
    )
    return parser


def query_items(args: argparse.Namespace) -> list[Item]:
    if args.dataset:
        if args.data_dir is None:
            raise ValueError("--dataset: expected --data-dir DIR, the dataset folder")
        return dataset_items(args.dataset, args.data_dir, args.split, args.cache_dir)[1]
    items = []
    for path in args.images:
        if path.is_dir():
            items += folder_items(path)[1]
        elif path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            items.append(Item(path.name, lambda path=path: open_image(str(path)), {"path": str(path)}))
        else:
            raise FileNotFoundError(
                f"--images: {path} is not an image file or folder (expected {IMAGE_SUFFIXES})"
            )
    return items


def query_filters(template: str | None, items: list[Item]) -> list[str | None]:
    """The ``--where`` template with each query's metadata filled in (a field the query lacks is an error)."""
    if template is None:
        return [None] * len(items)
    fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    filters = []
    for item in items:
        missing = sorted(fields - set(item.metadata))
        if missing:
            raise ValueError(
                f"--where: the queries have no {missing} (they come with {sorted(item.metadata)})"
            )
        filters.append(template.format_map(item.metadata))
        parse_where(filters[-1])  # a bad filter fails now, before the model is loaded
    return filters


def print_and_draw(items: list[Item], hits: SearchHits, output: Path | None) -> None:
    for position, (item, found) in enumerate(zip(items, hits.metadata)):
        print(f"query {item.key}:")
        for rank, row in enumerate(found, start=1):
            similarity = hits.similarities[position, rank - 1]
            print(
                f"  {rank:>3}. {row['key']}  similarity {similarity:.4f}  pid {row['pid']}  camid {row['camid']}"
            )
        if output is not None and found:
            pid = item.metadata.get("pid", -1)
            correct = [pid >= 0 and row["pid"] == pid for row in found]
            strip = rank_strip(item.load(), [open_image(row["path"]) for row in found], correct)
            save_png(strip, output / f"rank_{position:04d}.png")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        items = query_items(args)
        filters = query_filters(args.where, items)
        gallery = open_gallery(args.gallery)
        if args.k < 1:
            raise ValueError(f"--k: expected a positive integer, found {args.k}")
        device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        model, processor = load_encoder(args.model, device)
        embeddings = torch.cat(
            [batch for _, batch in embedded_batches(model, processor, items, args.batch_size)]
        )
        hits = gallery.search(embeddings, k=args.k, where=filters, refine_factor=args.refine_factor)
        print_and_draw(items, hits, args.output)
        gallery.close()
    except (FileNotFoundError, ValueError, OSError) as error:  # bad input the user can fix: one line, exit 2
        print(f"iaunet-search: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    if args.output is not None:
        print(f"rank strips written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
