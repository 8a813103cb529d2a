"""Forward and training-step time of IAUnet vs the plain baseline, in fp32 and bf16, measured in one run.

    python scripts/benchmark_train.py [--device cuda|cpu] [--steps 20] [--batch-size 64] [--height 256 --width 128]
    python scripts/benchmark_train.py --batch-size 8 --steps 6   # a CPU run of a few minutes
    python scripts/benchmark_train.py --backbones resnet50d,convnext_tiny --precisions fp32   # per timm backbone

One training step is what the trainer does: forward with labels and part masks (CE + triplet + part BCE),
backward, Adam step, on the plain model and optimizer (no trainer). The forward is an inference pass (eval mode,
``torch.inference_mode``). Both models are built in the same process on the same inputs and timed
alternately, one step of each in turn, keeping each one's fastest step, so that their ratio holds on a
loaded machine too; the spec's MAC ratio (4.87 / 4.06 GMACs at 256x128, about 1.20) is the reference (goal:
<= 1.25x on CPU, <= 1.2x on a GPU; bf16 speed-up >= 1.8x on a GPU). Prints the CPU model, torch's CPU
capability and numpy's SIMD level, one table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

import timm
import torch

import iaunet_hf  # noqa: F401  (registers the timm models)
from iaunet_hf.hardware import describe_hardware
from iaunet_hf.modeling_iaunet import IAUnetForReID

MAC_RATIO = 4.87 / 4.06  # spec Table VI, IAUnet vs baseline GMACs at 256x128
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}
MODELS = {"IAUnet": (2, 3), "baseline": ()}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--architecture", default="iaunet_resnet50")
    parser.add_argument(
        "--backbones",
        help="comma-separated timm CNNs: the IAU/baseline ratios on each (the iaunet architecture)",
    )
    parser.add_argument("--steps", type=int, default=20, help="timed steps per configuration")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-instances", type=int, default=4)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--num-classes", type=int, default=751)
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=list(PRECISIONS))
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument(
        "--ciau",
        action="store_true",
        help="also time CIAU alone and the IAUnet forward with its relation materialised (IAUnet+rel) vs fused",
    )
    return parser.parse_args(argv)


def build_model(args: argparse.Namespace, iau_stages: tuple[int, ...], **backbone) -> IAUnetForReID:
    """``backbone``: ``backbone=<timm name>, last_stride=...`` for the generic ``iaunet`` architecture."""
    torch.manual_seed(0)
    architecture = "iaunet" if backbone else args.architecture
    network = timm.create_model(architecture, num_classes=args.num_classes, iau_stages=iau_stages, **backbone)
    model = IAUnetForReID.from_timm(network).to(args.device).train()
    return model.to(memory_format=torch.channels_last) if args.channels_last else model


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_inputs(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(0)
    pixel_values = torch.randn(args.batch_size, 3, args.height, args.width, generator=generator).to(device)
    if args.channels_last:
        pixel_values = pixel_values.contiguous(memory_format=torch.channels_last)
    labels = (
        torch.arange(args.batch_size // args.num_instances).repeat_interleave(args.num_instances).to(device)
    )
    part_masks = (
        (torch.rand(args.batch_size, 4, args.height, args.width, generator=generator) > 0.5)
        .float()
        .to(device)
    )
    return {"pixel_values": pixel_values, "labels": labels, "part_masks": part_masks}


def training_step(model: IAUnetForReID, inputs: dict, device: torch.device, dtype: torch.dtype | None):
    """A closure running one training step (forward with the loss, backward, Adam step)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=3.5e-4, weight_decay=5e-4)
    # torch.autocast directly: accelerate's mixed-precision setting is process-wide and cannot switch mid-run.
    autocast = torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)

    def step() -> None:
        model.train()
        with autocast:
            loss = model(**inputs).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def inference_forward(
    model: IAUnetForReID,
    inputs: dict,
    device: torch.device,
    dtype: torch.dtype | None,
    output_relations: bool = False,
):
    """A closure running one inference forward pass (eval mode, no autograd).

    ``output_relations=True`` materialises CIAU's channel relation (the default pass runs it fused); it goes
    through the backbone model (``IAUnetModel``, the same pass without the classifier), which returns relations.
    """
    autocast = torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)

    def forward() -> None:
        model.eval()
        with torch.inference_mode(), autocast:
            if output_relations:
                model.iaunet(pixel_values=inputs["pixel_values"], output_relations=True)
            else:
                model(pixel_values=inputs["pixel_values"])

    return forward


def alternate(functions: dict, steps: int, warmup: int, device: torch.device) -> dict:
    """Fastest of ``steps`` timed calls of each function, the functions called in turn (after warm-up)."""
    for _ in range(warmup):
        for function in functions.values():
            function()
    best = {name: float("inf") for name in functions}
    for _ in range(steps):
        for name, function in functions.items():
            synchronize(device)
            start = time.perf_counter()
            function()
            synchronize(device)
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def ciau_affinity(args: argparse.Namespace) -> list[dict]:
    """CIAU at the IAU stages' shapes: relation materialised (the default) vs fused SDPA, fwd + bwd, fp32."""
    from iaunet_hf.model import ChannelInteraction

    device, rows = torch.device(args.device), []
    # ResNet-50 stages 2 and 3 (the IAU stages) at the input size: 512 / 1024 channels at 1/8 / 1/16
    for channels, stride in ((512, 8), (1024, 16)):
        module = ChannelInteraction(channels).to(device).train()
        torch.nn.init.normal_(module.norm.weight)  # zero-initialised BN would hide the aggregation
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(
            args.batch_size, channels, args.height // stride, args.width // stride, generator=generator
        )
        x = (0.05 * x).to(device).requires_grad_()

        def run(return_relation: bool, module=module, x=x) -> torch.Tensor:
            update, _ = module(x, return_relation=return_relation)
            update.sum().backward()
            return update.detach()

        parity = float((run(True) - run(False)).abs().max() / run(True).abs().max())
        seconds = alternate(
            {"materialised": lambda: run(True), "fused": lambda: run(False)}, args.steps, 1, device
        )
        rows.append(
            {
                "shape": f"{channels}x{args.height // stride}x{args.width // stride}",
                "materialised_ms": 1000 * seconds["materialised"],
                "fused_ms": 1000 * seconds["fused"],
                "max_relative_difference": parity,
            }
        )
    return rows


def timing_rows(args: argparse.Namespace, models: dict, inputs: dict, device: torch.device) -> list[dict]:
    """Forward and train-step times of every model at every precision, alternated, with their ratios."""
    rows = []
    for precision in args.precisions:
        dtype = PRECISIONS[precision]
        functions = {}
        for name, model in models.items():
            functions[("forward", name)] = inference_forward(model, inputs, device, dtype)
            functions[("train step", name)] = training_step(model, inputs, device, dtype)
        if args.ciau:  # the same IAUnet forward with CIAU's relation materialised instead of fused
            functions[("forward", "IAUnet+rel")] = inference_forward(
                models["IAUnet"], inputs, device, dtype, output_relations=True
            )
        seconds = alternate(functions, args.steps, args.warmup, device)
        for (kind, name), value in seconds.items():
            rows.append(
                {
                    "kind": kind,
                    "model": name,
                    "precision": precision,
                    "ms": 1000 * value,
                    "images_per_s": args.batch_size / value,
                    "vs_baseline": value / seconds[(kind, "baseline")],
                    "speedup_vs_fp32": None,
                }
            )
    fp32 = {(row["kind"], row["model"]): row["ms"] for row in rows if row["precision"] == "fp32"}
    for row in rows:
        if (row["kind"], row["model"]) in fp32:
            row["speedup_vs_fp32"] = fp32[(row["kind"], row["model"])] / row["ms"]
    return rows


def print_table(setup: dict, rows: list[dict]) -> None:
    print(f"{setup['architecture']} on {setup['hardware']}, batch {setup['batch_size']} at {setup['input']}")
    print(
        f"{'kind':<12}{'model':<10}{'precision':<11}{'ms':>10}{'images/s':>11}{'vs baseline':>13}{'vs fp32':>9}"
    )
    for row in rows:
        vs_fp32 = f"{row['speedup_vs_fp32']:.2f}x" if row["speedup_vs_fp32"] else "-"
        print(
            f"{row['kind']:<12}{row['model']:<10}{row['precision']:<11}{row['ms']:>10.1f}"
            f"{row['images_per_s']:>11.1f}{row['vs_baseline']:>12.2f}x{vs_fp32:>9}"
        )
    print(f"reference: IAUnet/baseline MAC ratio {MAC_RATIO:.2f}x (goal <= 1.25x on CPU, <= 1.2x on a GPU)")


def backbone_models(args: argparse.Namespace, name: str) -> dict:
    """Baseline and IAU models on timm backbone ``name``, at last stride 1 where timm allows it, else 2."""
    try:
        return {
            model: build_model(args, stages, backbone=name, last_stride=1) for model, stages in MODELS.items()
        }
    except ValueError:
        return {
            model: build_model(args, stages, backbone=name, last_stride=2) for model, stages in MODELS.items()
        }


def backbone_ratios(args: argparse.Namespace, inputs: dict, device: torch.device) -> list[dict]:
    """IAU/baseline forward and train-step ratios per timm backbone, each pair timed alternately."""
    summary = []
    for name in [name.strip() for name in args.backbones.split(",") if name.strip()]:
        rows = timing_rows(args, backbone_models(args, name), inputs, device)
        ratio = {(r["kind"], r["precision"]): r["vs_baseline"] for r in rows if r["model"] == "IAUnet"}
        summary += [
            {"backbone": name, "kind": k, "precision": p, "iau_vs_baseline": v} for (k, p), v in ratio.items()
        ]
        for (kind, precision), value in ratio.items():
            print(f"{name:<24}{kind:<12}{precision:<6} IAU/baseline {value:.2f}x")
    return summary


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.batch_size % args.num_instances:
        raise ValueError(
            f"--batch-size {args.batch_size} is not divisible by --num-instances {args.num_instances}"
        )
    device = torch.device(args.device)
    inputs = make_inputs(args)
    if args.backbones:
        print(f"IAU/baseline per backbone on {describe_hardware(device)}, batch {args.batch_size}")
        summary = backbone_ratios(args, inputs, device)
        print(json.dumps({"hardware": describe_hardware(device), "backbones": summary}))
        return {"backbones": summary}
    models = {name: build_model(args, stages) for name, stages in MODELS.items()}
    rows = timing_rows(args, models, inputs, device)
    setup = {
        "hardware": describe_hardware(device),
        "device": str(device),
        "architecture": args.architecture,
        "batch_size": args.batch_size,
        "input": f"{args.height}x{args.width}",
        "steps": args.steps,
        "torch": torch.__version__,
        "mac_ratio_reference": round(MAC_RATIO, 3),
    }
    print_table(setup, rows)
    report = {"setup": setup, "results": rows}
    if args.ciau:
        report["ciau_affinity"] = ciau_affinity(args)
        for row in report["ciau_affinity"]:
            print(
                f"CIAU {row['shape']} fwd+bwd fp32: relation materialised {row['materialised_ms']:.1f} ms, "
                f"fused SDPA {row['fused_ms']:.1f} ms, max relative difference {row['max_relative_difference']:.1e}"
            )
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
