"""The last step of ``scripts/gpu_check.sh``: CUDA vs CPU embeddings, then the one table of the check.

    python scripts/gpu_check_report.py --device cuda --work-dir WORK

Embeds the same images with the same IAUnet-50 (seeded initialisation) on the CPU and on ``--device`` in
float32 and compares them; reads what the benchmarks wrote under the work folder; prints every figure beside
its goal, headed by the device's name (``embeddings.json`` keeps the agreement figures).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from iaunet_hf import IAUnetConfig, IAUnetModel
from iaunet_hf.hardware import describe_hardware
from iaunet_hf.inference import embed

MIN_COSINE = 0.9999  # CUDA and CPU float32 embeddings of the same images (TF32 off)


def embeddings_agreement(device: str, quick: bool) -> dict:
    """Cosine similarity and largest relative difference of CPU and ``device`` float32 embeddings."""
    torch.manual_seed(0)
    options = {"depth": 18, "image_size": [64, 32]} if quick else {}
    model = IAUnetModel(IAUnetConfig(**options)).eval()
    size = model.config.image_size
    images = torch.randn(8, 3, *size, generator=torch.Generator().manual_seed(1))
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    with torch.inference_mode():
        cpu = embed(model, images).float()
        other = embed(model.to(device), images.to(device)).float().cpu()
    cosine = torch.nn.functional.cosine_similarity(cpu, other, dim=1)
    return {
        "min_cosine": float(cosine.min()),
        "max_relative_difference": float((cpu - other).abs().max() / cpu.abs().max()),
    }


def goal_rows(work: Path) -> list[tuple[str, str, str, bool | None]]:
    """(check, measured, goal, met) for every figure the steps wrote."""
    rows = []
    train = json.loads((work / "train.log").read_text().strip().splitlines()[-1])["results"]
    for row in train:
        if row["model"] == "IAUnet":
            rows.append((f"{row['kind']} {row['precision']} IAUnet/baseline", f"{row['vs_baseline']:.2f}x",
                         "<= 1.2x", row["vs_baseline"] <= 1.2))  # fmt: skip
            if row["precision"] == "bf16" and row["kind"] == "train step":
                speedup = row["speedup_vs_fp32"]
                rows.append(("bf16 / fp32 training throughput", f"{speedup:.2f}x", ">= 1.8x", speedup >= 1.8))
    inference = json.loads((work / "inference.json").read_text())["images_per_second"]
    for runtime, models in inference.items():
        for batch, rate in models["IAUnet-50"].items():
            ratio = models["baseline R50"][batch] / rate
            rows.append(
                (f"inference {runtime} b{batch} IAUnet/baseline", f"{ratio:.2f}x", "<= 1.2x", ratio <= 1.2)
            )
    evaluation = json.loads((work / "eval.json").read_text())
    rerank = evaluation["rerank"]
    exact, fast = rerank["exact"], rerank.get("bf16")
    rows.append((f"re-ranking {rerank['items']} items, exact", f"{exact['seconds']:.1f} s", "< 60 s",
                 exact["seconds"] < 60 if rerank["items"] > 90_000 else None))  # fmt: skip
    if fast is not None:
        rows.append(("re-ranking bf16 candidates / exact", f"{fast['ratio_to_exact']:.2f}x", "<= 0.6x",
                     fast["ratio_to_exact"] <= 0.6))  # fmt: skip
        rows.append(("re-ranked mAP change, bf16 candidates", f"{fast['mAP_change']:+.4f}", "report", None))
    for row in evaluation.get("metrics", []):
        ratio = row.get("ratio_torch", row.get("ratio_numba"))
        rows.append(
            (f"metrics vs numpy.argsort ({row['distances']})", f"{ratio:.3f}x", "<= 0.25x", ratio <= 0.25)
        )
    if "features" in evaluation:
        peak = evaluation["features"]["peak_extra_gib"]
        rows.append(("MSMT17 evaluation memory beyond features", f"{peak:.2f} GiB", "< 1 GiB", peak < 1))
    agreement = json.loads((work / "embeddings.json").read_text())
    rows.append(("CUDA vs CPU embeddings, min cosine", f"{agreement['min_cosine']:.6f}", f">= {MIN_COSINE}",
                 agreement["min_cosine"] >= MIN_COSINE))  # fmt: skip
    summary = json.loads((work / "bf16_run" / "best_model" / "training_summary.json").read_text())
    rows.append(("short bf16 training", f"{summary['optimizer_steps']} steps, {summary['precision']}", "runs",
                 summary["optimizer_steps"] > 0))  # fmt: skip
    return rows


def print_table(device: str, rows: list[tuple[str, str, str, bool | None]]) -> None:
    print(f"\nGPU check on {describe_hardware(torch.device(device))}")
    width = max(len(row[0]) for row in rows)
    print(f"| {'check':<{width}} | measured | goal | |\n|{'-' * (width + 2)}|---|---|---|")
    for check, measured, goal, met in rows:
        verdict = "-" if met is None else ("met" if met else "MISSED")
        print(f"| {check:<{width}} | {measured} | {goal} | {verdict} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--work-dir", type=Path, required=True, help="the folder gpu_check.sh wrote into")
    parser.add_argument(
        "--quick", action="store_true", help="IAUnet-18 at 64x32 for the embeddings (a flow check)"
    )
    args = parser.parse_args(argv)
    agreement = embeddings_agreement(args.device, args.quick)
    (args.work_dir / "embeddings.json").write_text(json.dumps(agreement))
    print_table(args.device, goal_rows(args.work_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
