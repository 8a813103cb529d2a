"""Console entry point `iaunet-export`: one command for every deployment target, each checked against PyTorch.

The command knows no format by name: the registry (`pipeline.TARGETS`) lists them, and a target that is
`calibrated` gets calibration batches and a held-out mAP report.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..data import load_reid_dataset
from .pipeline import EXPORT_FORMATS, export_model, export_onnx, get_target
from .quality import dataset_batches, quantisation_report

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def _image_files(folder: str, limit: int) -> list[Path]:
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"--check-images {root}: expected a folder of images")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]
    if not files:
        raise FileNotFoundError(f"--check-images {root}: no {'/'.join(IMAGE_SUFFIXES)} files found")
    return files


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iaunet-export",
        description="Export a saved IAUnet folder's embedding model for deployment and check it against PyTorch. "
        "Every export writes a sidecar JSON (input size, mean/std, interpolation, I/O names, ...).",
    )
    parser.add_argument("--model", required=True, help="folder written by save_pretrained")
    parser.add_argument("--format", default="onnx", choices=EXPORT_FORMATS, help="export target")
    parser.add_argument(
        "--output",
        help="output path; default <model>/model.onnx, model_fp16.onnx, model_int8.onnx, "
        "model_openvino_model/, model.pt2 or model.engine (boxmot picks its backend by these suffixes)",
    )
    parser.add_argument(
        "--input",
        choices=["image", "clip"],
        help="input layout: (B,3,H,W) images or (B,T,3,H,W) clips (default: clip for video models)",
    )
    parser.add_argument("--opset", type=int, default=18, help="ONNX opset")
    parser.add_argument("--atol", type=float, default=1e-4, help="largest allowed |fp32 export - PyTorch|")
    parser.add_argument("--no-check", action="store_true", help="skip the parity check against PyTorch")
    parser.add_argument(
        "--check-images", help="folder of images to run the parity check on (default: random)"
    )
    parser.add_argument("--num-check-images", type=int, default=16, help="images taken from --check-images")
    calibration = parser.add_argument_group("onnx-int8 calibration")
    calibration.add_argument(
        "--calibration-dataset", help="dataset name for load_reid_dataset, e.g. market1501"
    )
    calibration.add_argument(
        "--calibration-data", help="its data folder; 'train' calibrates, query/gallery judge"
    )
    calibration.add_argument("--calibration-images", type=int, default=256, help="training images used")
    calibration.add_argument(
        "--report", help="write the export summary (and the int8 mAP change) to this JSON"
    )
    return parser


def _calibration_data(args: argparse.Namespace) -> Any:
    """The calibration dataset of a calibrated target (its 'train' split calibrates, query/gallery judge)."""
    if not (args.calibration_dataset and args.calibration_data):
        raise ValueError(f"--format {args.format} needs --calibration-dataset and --calibration-data")
    return load_reid_dataset(args.calibration_dataset, args.calibration_data)


def _export(args: argparse.Namespace) -> dict[str, Any]:
    """Run the export the arguments ask for; its summary (with the mAP change for a calibrated target)."""
    options: dict = {
        "input_kind": args.input,
        "opset": args.opset,
        "check": not args.no_check,
        "atol": args.atol,
    }
    if args.check_images:
        options["check_images"] = _image_files(args.check_images, args.num_check_images)
    dataset_dict = _calibration_data(args) if get_target(args.format).calibrated else None
    if dataset_dict is not None:
        options["calibration"] = dataset_batches(
            args.model, dataset_dict["train"], max_images=args.calibration_images
        )
    result = export_model(args.model, args.format, args.output, **options)
    summary: dict = {"format": args.format, "path": str(result.path), "sidecar": str(result.sidecar)}
    summary["max_abs_diff"] = result.max_abs_diff
    if dataset_dict is not None:
        fp32_path = result.path.with_name(result.path.stem + "_fp32_reference.onnx")
        export_onnx(args.model, fp32_path, input_kind=args.input, opset=args.opset, check=False)
        summary["quantisation"] = quantisation_report(args.model, fp32_path, result.path, dataset_dict)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("iaunet_hf").setLevel(logging.INFO)
    try:
        summary = _export(args)
    except (FileNotFoundError, ValueError) as error:
        print(f"iaunet-export: failed: {error}", file=sys.stderr)
        return 2
    print(summary["path"])
    if summary["max_abs_diff"] is not None:
        print(f"{args.format} vs PyTorch max abs diff: {summary['max_abs_diff']:.3g}")
    if "quantisation" in summary:
        q = summary["quantisation"]
        print(
            f"held-out mAP: fp32 {q['fp32_mAP']:.4f}, int8 {q['int8_mAP']:.4f} (change {q['mAP_change']:+.4f})"
        )
    if args.report:
        Path(args.report).write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
