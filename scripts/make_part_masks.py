"""Compute four-part body masks for a dataset split with a transformers human parser.

Example::

    python scripts/make_part_masks.py --model ./my-lip-parser --dataset market1501 \
        --data-dir /data/Market-1501-v15.09.15 --output /data/market_masks

then ``load_reid_dataset("market1501", ..., mask_dir="/data/market_masks")``. Re-running skips
images whose masks exist, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse

from iaunet_hf.data.loading import DATASET_NAMES
from iaunet_hf.data.mask_generation import MASK_LAYOUTS, compute_part_masks


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", required=True, help="local folder or Hub id of a semantic-segmentation model"
    )
    parser.add_argument(
        "--dataset", required=True, choices=[n for n in DATASET_NAMES if n not in ("cifar100", "synthetic")]
    )
    parser.add_argument("--data-dir", required=True, help="the dataset folder (or its parent)")
    parser.add_argument("--output", required=True, help="mask folder to write (pass it later as mask_dir)")
    parser.add_argument("--split", default="train", help="split to parse (default: train)")
    parser.add_argument("--layout", default="compact", choices=MASK_LAYOUTS)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    counts = compute_part_masks(
        args.model,
        args.dataset,
        args.data_dir,
        args.output,
        split=args.split,
        layout=args.layout,
        batch_size=args.batch_size,
        device=args.device,
    )
    print(f"wrote masks for {counts['written']} image(s), skipped {counts['skipped']} already done")


if __name__ == "__main__":
    main()
