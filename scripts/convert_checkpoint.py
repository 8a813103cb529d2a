"""Convert a torchreid / strong-baseline ResNet reID checkpoint (.pth / .pth.tar) into IAUnet weights.

    python scripts/convert_checkpoint.py CHECKPOINT.pth.tar OUTPUT.safetensors [--depth 50] [--with-neck]

The output holds our key names; every source key that was not converted is listed with the reason. Load the
file, backbone-only or with the neck, with
`timm.create_model("iaunet_resnet50", pretrained=True, pretrained_cfg_overlay=dict(file="OUTPUT.safetensors"))`:
the IAU blocks start at their identity initialisation, and the load logs which blocks were initialised.
"""

from __future__ import annotations

import argparse
import sys

from iaunet_hf.hub.convert import convert_checkpoint


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="source .pth / .pth.tar (read with torch.load(weights_only=True))")
    parser.add_argument("output", help="output .safetensors file with IAUnet key names")
    parser.add_argument(
        "--depth", type=int, default=50, choices=[18, 34, 50], help="ResNet depth of the source"
    )
    parser.add_argument("--with-neck", action="store_true", help="also convert a BN neck (bottleneck.*)")
    args = parser.parse_args(argv)
    try:
        report = convert_checkpoint(
            args.checkpoint, args.output, depth=args.depth, include_neck=args.with_neck
        )
    except (FileNotFoundError, ValueError) as error:
        print(f"convert_checkpoint: {error}", file=sys.stderr)
        return 2
    print(report.summary())
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
