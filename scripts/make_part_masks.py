"""Compute four-part body masks for a dataset split with a transformers human parser.

Example::

    python scripts/make_part_masks.py --model ./my-lip-parser --dataset market1501 \
        --data-dir /data/Market-1501-v15.09.15 --output /data/market_masks

then ``load_reid_dataset("market1501", ..., mask_dir="/data/market_masks")``. Re-running skips
images whose masks exist, so an interrupted run resumes. Any option of the dataset's builder is passed as
``--data.<option> VALUE``, with the same names as in a training recipe's ``data:`` section, e.g.
``--dataset folder --data.name_pattern '([-0-9]+)_c([0-9])'``.
"""

from __future__ import annotations

import argparse

from iaunet_hf.data.loading import DATASET_NAMES
from iaunet_hf.data.mask_generation import MASK_LAYOUTS, compute_part_masks
from iaunet_hf.overrides import parse_overrides, typed_data_options
from iaunet_hf.training.open_sections import builder_option_fields


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, dict]:
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
    args, rest = parser.parse_known_args(argv)
    try:
        return args, builder_options(args.dataset, parse_overrides(rest))
    except ValueError as error:
        parser.error(str(error))


def builder_options(dataset: str, overrides: dict[str, str]) -> dict:
    """``{"data.name_pattern": "..."}`` -> the builder's options, typed by its config fields."""
    fields = builder_option_fields(dataset) or {}
    options = {}
    for key, text in overrides.items():
        section, _, name = key.replace("-", "_").partition(".")
        if section != "data" or name not in fields:
            raise ValueError(f"unknown option --{key}; expected --data.OPTION with one of {sorted(fields)}")
        options[name] = text
    return typed_data_options([dataset], options)


def main(argv: list[str] | None = None) -> None:
    args, options = parse_args(argv)
    counts = compute_part_masks(
        args.model,
        args.dataset,
        args.data_dir,
        args.output,
        split=args.split,
        layout=args.layout,
        batch_size=args.batch_size,
        device=args.device,
        builder_options=options,
    )
    print(f"wrote masks for {counts['written']} image(s), skipped {counts['skipped']} already done")


if __name__ == "__main__":
    main()
