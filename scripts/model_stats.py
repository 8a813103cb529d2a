"""Print the parameter counts and multiply-accumulates of every Table VI row next to the paper's.

Parameters exclude the classifier; MACs are counted by ``torch.utils.flop_counter`` (FLOPs / 2) for one
256x128 image, or one 4-frame clip for the video rows (Table VI (b): one block after stage 2). The paper
prints parameters to one decimal of M (truncated in most rows, rounded in some), so a count matches when it
truncates or rounds to the printed value; MACs match within 2 %.

    python scripts/model_stats.py [--json stats.json]
    python scripts/model_stats.py --backbones resnet50d,convnext_tiny,osnet_x1_0

``--backbones`` prints, for each timm CNN (the generic ``iaunet`` architecture), the parameters and MACs of the
plain reID baseline on it and of the same model with IAU blocks after stages 2 and 3, at 256x128, with the IAU
overhead as ratios. Models without timm's ``output_stride=16`` are counted at last stride 2 (marked).
"""

from __future__ import annotations

import argparse
import json
import math

import torch
from torch.utils.flop_counter import FlopCounterMode

from iaunet_hf.model import IAUnet

MACS_TOLERANCE = 0.02
_VIDEO = dict(iau_stages=(2,), num_frames=4)
# (table, row, IAUnet kwargs, frames, paper params in M as printed, paper GFLOPs (= GMACs))
TABLE_VI = [
    ("VI(a) image", "baseline", dict(iau_stages=()), 1, 23.5, 4.06),
    ("VI(a) image", "NL", dict(iau_modules=("nl",)), 1, 26.1, 4.75),
    ("VI(a) image", "STIAU", dict(iau_modules=("stiau",)), 1, 26.1, 4.07),
    ("VI(a) image", "SE", dict(iau_modules=("se",)), 1, 23.7, 4.06),
    ("VI(a) image", "CIAU", dict(iau_modules=("ciau",)), 1, 24.8, 4.86),
    ("VI(a) image", "IAUnet", dict(), 1, 27.4, 4.87),
    ("VI(b) video T=4", "baseline", dict(iau_stages=(), num_frames=4), 4, 23.5, 16.24),
    ("VI(b) video T=4", "NL", dict(_VIDEO, iau_modules=("nl",)), 4, 24.0, 19.46),
    ("VI(b) video T=4", "STIAU", dict(_VIDEO, iau_modules=("stiau",)), 4, 24.0, 16.25),
    ("VI(b) video T=4", "SE", dict(_VIDEO, iau_modules=("se",)), 4, 23.5, 16.24),
    ("VI(b) video T=4", "CIAU", dict(_VIDEO, iau_modules=("ciau",)), 4, 23.7, 21.07),
    ("VI(b) video T=4", "IAUnet", dict(_VIDEO), 4, 24.3, 21.08),
]


def count_parameters(model: torch.nn.Module) -> int:
    """Parameters excluding the identity classifier (the paper's convention)."""
    return sum(p.numel() for name, p in model.named_parameters() if not name.startswith("classifier."))


def count_macs(model: torch.nn.Module, frames: int, height: int = 256, width: int = 128) -> int:
    """Multiply-accumulates of one forward pass on one image or one clip of ``frames`` frames.

    The pass materialises CIAU's channel relation (``return_relations=True``): the default pass runs it as one
    fused attention kernel, for which torch's FlopCounterMode has no CPU formula; the arithmetic is the same.
    """
    shape = (1, 3, height, width) if frames == 1 else (1, frames, 3, height, width)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model.forward_reid(torch.zeros(shape), return_relations=True)
    return counter.get_total_flops() // 2


def matches_printed(params_m: float, printed_m: float) -> bool:
    """True when the count truncates or rounds to the paper's one-decimal figure."""
    truncated = math.floor(params_m * 10 + 1e-9) / 10
    return math.isclose(truncated, printed_m) or math.isclose(round(params_m, 1), printed_m)


def model_stats(rows=TABLE_VI, depth: int = 50) -> list[dict]:
    results = []
    for table, name, kwargs, frames, paper_params, paper_macs in rows:
        model = IAUnet(depth=depth, num_classes=751, **kwargs).eval()
        params, macs = count_parameters(model), count_macs(model, frames)
        macs_rel_err = abs(macs / 1e9 - paper_macs) / paper_macs
        results.append(
            dict(
                table=table,
                model=name,
                params_m=params / 1e6,
                paper_params_m=paper_params,
                gmacs=macs / 1e9,
                paper_gmacs=paper_macs,
                macs_rel_err=macs_rel_err,
                matches=matches_printed(params / 1e6, paper_params) and macs_rel_err < MACS_TOLERANCE,
            )
        )
    return results


def backbone_stats(names: list[str]) -> list[dict]:
    """Parameters and MACs of the baseline and the IAU model on each timm backbone (last stride 1 where it can)."""
    import timm

    import iaunet_hf  # noqa: F401  (registers the iaunet architecture)

    rows = []
    for name in names:
        for last_stride in (1, 2):
            try:
                models = [
                    timm.create_model(
                        "iaunet", backbone=name, iau_stages=stages, last_stride=last_stride
                    ).eval()
                    for stages in ((), (2, 3))
                ]
                break
            except ValueError:
                if last_stride == 2:
                    raise
        (params, macs) = zip(*[(count_parameters(m), count_macs(m, 1)) for m in models], strict=True)
        rows.append(dict(backbone=name, last_stride=last_stride, params_m=[p / 1e6 for p in params],
                         gmacs=[m / 1e9 for m in macs]))  # fmt: skip
    return rows


def format_backbone_table(rows: list[dict]) -> str:
    lines = [
        f"{'backbone':24s} {'stride':>6s} {'params (M)':>10s} {'+IAU':>7s} {'ratio':>6s} {'GMACs':>7s} {'+IAU':>7s} "
        f"{'ratio':>6s}"
    ]
    for row in rows:
        (p0, p1), (m0, m1) = row["params_m"], row["gmacs"]
        lines.append(
            f"{row['backbone']:24s} {row['last_stride']:6d} {p0:10.2f} {p1:7.2f} {p1 / p0:6.3f} {m0:7.2f} {m1:7.2f} "
            f"{m1 / m0:6.3f}"
        )
    return "\n".join(lines)


def format_table(rows: list[dict]) -> str:
    lines = [
        f"{'table':16s} {'model':9s} {'params (M)':>10s} {'paper':>6s} {'GMACs':>7s} {'paper':>6s} "
        f"{'d MACs':>7s}  match"
    ]
    for row in rows:
        lines.append(
            f"{row['table']:16s} {row['model']:9s} {row['params_m']:10.3f} {row['paper_params_m']:6.1f} "
            f"{row['gmacs']:7.3f} {row['paper_gmacs']:6.2f} {100 * row['macs_rel_err']:6.2f}%  "
            f"{'yes' if row['matches'] else 'NO'}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--backbones", help="comma-separated timm CNNs: baseline vs IAU counts on each")
    args = parser.parse_args()
    if args.backbones:
        rows = backbone_stats([name.strip() for name in args.backbones.split(",") if name.strip()])
        print(format_backbone_table(rows))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(rows, f, indent=2)
        return
    rows = model_stats()
    print(format_table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    if not all(row["matches"] for row in rows):
        raise SystemExit("some rows do not match the paper's Table VI")


if __name__ == "__main__":
    main()
