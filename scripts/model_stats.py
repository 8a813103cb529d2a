"""Print IAUnet's parameter counts and multiply-accumulates next to the paper's Table VI.

Parameters exclude the classifier; MACs are counted by ``torch.utils.flop_counter`` (FLOPs / 2) for one
256x128 image, or one 4-frame clip for the video rows.

    python scripts/model_stats.py [--json stats.json]
"""

from __future__ import annotations

import argparse
import json

import torch
from torch.utils.flop_counter import FlopCounterMode

from iaunet_hf.network import IAUnet

# (name, IAUnet kwargs, frames, paper params in M, paper GMACs or None)
TABLE_VI = [
    ("baseline, image", dict(iau_stages=()), 1, 23.51, 4.06),
    ("CIAU only (stage2+3), image", dict(iau_modules=("ciau",)), 1, 24.83, 4.86),
    ("STIAU only (stage2+3), image", dict(iau_modules=("stiau",)), 1, 26.15, 4.07),
    ("IAUnet (stage2+3), image", dict(), 1, 27.46, 4.87),
    ("baseline, video T=4", dict(iau_stages=()), 4, 23.51, 16.24),
    ("IAUnet (stage2), video T=4", dict(iau_stages=(2,)), 4, 24.31, 21.08),
]


def count_parameters(model: torch.nn.Module) -> int:
    """Parameters excluding the identity classifier (the paper's convention)."""
    return sum(p.numel() for name, p in model.named_parameters() if not name.startswith("classifier."))


def count_macs(model: torch.nn.Module, frames: int, height: int = 256, width: int = 128) -> int:
    """Multiply-accumulates of one forward pass on one image or one clip of ``frames`` frames."""
    shape = (1, 3, height, width) if frames == 1 else (1, frames, 3, height, width)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(shape))
    return counter.get_total_flops() // 2


def model_stats(depth: int = 50) -> list[dict]:
    rows = []
    for name, kwargs, frames, paper_params, paper_macs in TABLE_VI:
        model = IAUnet(depth=depth, num_classes=751, num_frames=frames, **kwargs).eval()
        params, macs = count_parameters(model), count_macs(model, frames)
        rows.append(
            dict(
                model=name,
                params_m=params / 1e6,
                paper_params_m=paper_params,
                gmacs=macs / 1e9,
                paper_gmacs=paper_macs,
                params_rel_err=abs(params / 1e6 - paper_params) / paper_params,
                macs_rel_err=abs(macs / 1e9 - paper_macs) / paper_macs,
            )
        )
    return rows


def format_table(rows: list[dict]) -> str:
    lines = [
        f"{'model':32s} {'params (M)':>11s} {'paper':>7s} {'GMACs':>8s} {'paper':>7s} {'d params':>9s} {'d MACs':>8s}"
    ]
    for row in rows:
        lines.append(
            f"{row['model']:32s} {row['params_m']:11.3f} {row['paper_params_m']:7.2f} {row['gmacs']:8.3f} "
            f"{row['paper_gmacs']:7.2f} {100 * row['params_rel_err']:8.2f}% {100 * row['macs_rel_err']:7.2f}%"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    rows = model_stats()
    print(format_table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
