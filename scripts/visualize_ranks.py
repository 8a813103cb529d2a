"""Save, for chosen queries, a PNG strip of the query and its top-k gallery images (green right, red wrong).

Example:
    python scripts/visualize_ranks.py --model ./iaunet-market --dataset market1501 --data-dir ./Market-1501-v15.09.15 \
        --queries 0 10 20 --topk 10 --output-dir ranks/
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from PIL import Image

from iaunet_hf.data import load_reid_dataset
from iaunet_hf.evaluation import extract_features, pairwise_distance
from iaunet_hf.evaluation.visualization import rank_strip, ranked_gallery, save_png
from iaunet_hf.inference import load_reid_model


def item_image(dataset, index: int) -> Image.Image:
    """The item's image, or the middle frame of a tracklet."""
    item = dataset[index]
    if "image" in item:
        return item["image"]
    frames = item["frames"]
    return frames[len(frames) // 2]


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--queries", type=int, nargs="+", default=[0], help="query indices to draw")
    parser.add_argument("--topk", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, nargs=2, default=None, metavar=("HEIGHT", "WIDTH"))
    parser.add_argument("--metric", choices=("cosine", "euclidean"), default="cosine")
    parser.add_argument("--output-dir", type=Path, default=Path("ranks"))
    args = parser.parse_args(argv)

    dataset_dict = load_reid_dataset(args.dataset, args.data_dir, cache_dir=args.cache_dir)
    query, gallery = dataset_dict["query"], dataset_dict["gallery"]
    bad = [index for index in args.queries if not 0 <= index < len(query)]
    if bad:
        raise ValueError(f"--queries: expected indices in [0, {len(query)}), found {bad}")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = load_reid_model(args.model).to(device)
    image_size = tuple(args.image_size) if args.image_size else None
    query_features = extract_features(
        model, query.select(args.queries), args.batch_size, image_size=image_size
    )
    gallery_features = extract_features(model, gallery, args.batch_size, image_size=image_size)
    distances = pairwise_distance(query_features, gallery_features, args.metric)  # (len(queries), G)
    g_pids, g_camids = gallery.with_format(None)["pid"], gallery.with_format(None)["camid"]
    written = []
    for row, index in enumerate(args.queries):
        q_pid, q_camid = query[index]["pid"], query[index]["camid"]
        order, correct = ranked_gallery(distances[row], q_pid, q_camid, g_pids, g_camids, args.topk)
        strip = rank_strip(item_image(query, index), [item_image(gallery, i) for i in order], correct)
        written.append(save_png(strip, args.output_dir / f"query_{index:05d}_pid{q_pid}.png"))
        print(f"query {index} (pid {q_pid}): top-{len(order)} correct {sum(correct)} -> {written[-1]}")
    return written


if __name__ == "__main__":
    main()
