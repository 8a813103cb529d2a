"""Inference throughput of IAUnet-50 and its baseline (same network, no IAU blocks) in every runtime, one run.

Images per second at 256x128 for batch 1 and 32 through PyTorch fp32 / bf16 (autocast), ONNX Runtime fp32 /
int8 (static QDQ quantisation) and OpenVINO fp32 on the CPU; with a CUDA GPU also PyTorch fp32 / bf16 / fp16
and a TensorRT fp16 engine (needs the tensorrt package). Prints a Markdown table with the hardware, each
IAUnet / baseline time ratio and the int8 / fp32 ONNX Runtime throughput ratio, all measured in this run.
Goals: every IAUnet runtime within 1.3x its baseline's time; int8 >= 1.5x fp32 ONNX Runtime throughput.

    python scripts/benchmark_inference.py [--batch-sizes 1 32] [--seconds 3] [--output results.json]
    python scripts/benchmark_inference.py --rows cuda      # the CUDA rows only (scripts/gpu_check.sh)

Weights are the spec initialisation (speed does not depend on them); int8 is calibrated on random batches.
Timings are medians of repeated runs of at least `--seconds` each; other load on the machine slows all rows alike
only if it is steady, so the load average before and after is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from iaunet_hf.hardware import describe_hardware

HEIGHT, WIDTH = 256, 128
QUICK_SIZE = (64, 32)  # --quick: IAUnet-18 / ResNet-18 at this size, to check the script's flow in seconds
ROWS = (
    "all",
    "cpu",
    "cuda",
    "pytorch",
)  # --rows: every runtime, the CPU ones, the CUDA ones, PyTorch CPU only
MODELS = {"IAUnet-50": {}, "baseline R50": {"iau_stages": []}}


def images_per_second(run: Callable[[], object], batch: int, seconds: float, repeats: int = 3) -> float:
    """Median over `repeats` of (images / wall time) for a loop of at least `seconds` after one warm-up call."""
    run()
    rates = []
    for _ in range(repeats):
        count, start = 0, time.perf_counter()
        while True:
            run()
            count += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds / repeats:
                break
        rates.append(count * batch / elapsed)
    return statistics.median(rates)


def save_model(folder: Path, options: dict, quick: bool = False) -> Path:
    from iaunet_hf import IAUnetConfig, IAUnetImageProcessor, IAUnetModel

    torch.manual_seed(0)
    if quick:  # a flow check only: the smallest network at QUICK_SIZE
        options = {**options, "depth": 18, "image_size": list(QUICK_SIZE)}
    IAUnetModel(IAUnetConfig(**options)).eval().save_pretrained(folder)
    IAUnetImageProcessor().save_pretrained(folder)
    return folder


def cpu_runtimes(
    folder: Path, work: Path, pytorch_only: bool = False, size: tuple[int, int] = (HEIGHT, WIDTH)
) -> dict[str, Callable[[np.ndarray], object]]:
    """name -> function of a float32 (B, 3, H, W) batch, for every CPU runtime (or PyTorch's only)."""
    from iaunet_hf.export import export_model
    from iaunet_hf.inference import load_embedding_model
    from iaunet_hf.inference.runtimes import onnx_session

    model, _ = load_embedding_model(folder)
    runtimes: dict[str, Callable[[np.ndarray], object]] = {}

    def torch_run(dtype):
        def run(x):
            with torch.inference_mode(), torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
                return model(torch.from_numpy(x))

        return run

    runtimes["PyTorch fp32"] = torch_run(None)
    runtimes["PyTorch bf16"] = torch_run(torch.bfloat16)
    if pytorch_only:
        return runtimes
    onnx_path = export_model(folder, "onnx", work / "model.onnx", check=False).path
    calibration = [
        np.random.default_rng(i).standard_normal((8, 3, *size), dtype=np.float32) for i in range(2)
    ]
    int8_path = export_model(
        folder, "onnx-int8", work / "model_int8.onnx", calibration=calibration, check=False
    ).path
    for name, path in (("ORT fp32", onnx_path), ("ORT int8", int8_path)):
        session = onnx_session(path)
        runtimes[name] = lambda x, s=session: s.run(["embedding"], {"pixel_values": x})
    try:
        import openvino
    except ImportError:
        print("openvino is not installed: no OpenVINO row")
    else:
        ov_dir = export_model(folder, "openvino", work / "model_openvino_model", check=False).path
        compiled = openvino.Core().compile_model(
            str(ov_dir / "model.xml"),
            "CPU",
            {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"},
        )
        runtimes["OpenVINO fp32"] = lambda x, c=compiled: c(x)
    return runtimes


def gpu_runtimes(folder: Path, work: Path) -> dict[str, Callable[[np.ndarray], object]]:
    """PyTorch fp32/bf16/fp16 and TensorRT fp16 on the first CUDA device (synchronised per call)."""
    from iaunet_hf.inference import load_embedding_model

    model, _ = load_embedding_model(folder)
    model = model.cuda()
    runtimes = {}
    for name, dtype in (
        ("CUDA PyTorch fp32", None),
        ("CUDA PyTorch bf16", torch.bfloat16),
        ("CUDA PyTorch fp16", torch.float16),
    ):

        def run(x, dtype=dtype):
            with (
                torch.inference_mode(),
                torch.autocast("cuda", dtype=dtype or torch.float32, enabled=dtype is not None),
            ):
                out = model(torch.from_numpy(x).cuda(non_blocking=True))
            torch.cuda.synchronize()
            return out

        runtimes[name] = run
    try:
        import tensorrt as trt

        from iaunet_hf.export import export_model

        engine_path = export_model(folder, "tensorrt", work / "model.engine").path
        engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(engine_path.read_bytes())
        context = engine.create_execution_context()

        def trt_run(x):
            inputs = torch.from_numpy(x).cuda()
            context.set_input_shape("pixel_values", tuple(inputs.shape))
            output = torch.empty((inputs.shape[0], 2048), device="cuda")
            context.set_tensor_address("pixel_values", inputs.data_ptr())
            context.set_tensor_address("embedding", output.data_ptr())
            context.execute_async_v3(torch.cuda.current_stream().cuda_stream)
            torch.cuda.synchronize()
            return output

        runtimes["TensorRT fp16"] = trt_run
    except (ImportError, ValueError) as error:
        print(f"no TensorRT row: {error}")
    return runtimes


def measure(
    batch_sizes: list[int], seconds: float, repeats: int, rows: str = "all", quick: bool = False
) -> dict[str, dict[str, dict[int, float]]]:
    """Images per second by runtime, model and batch size (printed as they come)."""
    results: dict[str, dict[str, dict[int, float]]] = {}
    height, width = QUICK_SIZE if quick else (HEIGHT, WIDTH)
    with tempfile.TemporaryDirectory() as tmp:
        for model_name, options in MODELS.items():
            work = Path(tmp) / model_name.replace(" ", "_")
            folder = save_model(work / "model", options, quick)
            runtimes = {}
            if rows in ("all", "cpu", "pytorch"):
                runtimes.update(cpu_runtimes(folder, work, rows == "pytorch", (height, width)))
            if rows in ("all", "cuda") and torch.cuda.is_available():
                runtimes.update(gpu_runtimes(folder, work))
            for runtime_name, run in runtimes.items():
                for batch in batch_sizes:
                    x = np.random.default_rng(batch).standard_normal(
                        (batch, 3, height, width), dtype=np.float32
                    )
                    rate = images_per_second(lambda run=run, x=x: run(x), batch, seconds, repeats)
                    results.setdefault(runtime_name, {}).setdefault(model_name, {})[batch] = rate
                    print(
                        f"{model_name:13s} {runtime_name:18s} batch {batch:3d}: {rate:8.1f} images/s",
                        flush=True,
                    )
    return results


def print_table(results: dict[str, dict[str, dict[int, float]]], batch_sizes: list[int]) -> None:
    """The Markdown table of IAUnet-50 vs baseline throughput, and the int8 / fp32 ONNX Runtime ratios."""
    header = "| runtime | " + " | ".join(
        f"IAUnet-50 b{b} | baseline b{b} | IAUnet/baseline time b{b}" for b in batch_sizes
    )
    print(header + " |\n|" + " --- |" * (1 + 3 * len(batch_sizes)))
    for runtime_name, per_model in results.items():
        cells = []
        for batch in batch_sizes:
            iaunet, baseline = per_model["IAUnet-50"][batch], per_model["baseline R50"][batch]
            cells += [f"{iaunet:.1f}", f"{baseline:.1f}", f"{baseline / iaunet:.2f}x"]
        print(f"| {runtime_name} | " + " | ".join(cells) + " |")
    if "ORT int8" in results:
        for batch in batch_sizes:
            ratio = results["ORT int8"]["IAUnet-50"][batch] / results["ORT fp32"]["IAUnet-50"][batch]
            print(
                f"IAUnet-50 int8 / fp32 ONNX Runtime throughput, batch {batch}: {ratio:.2f}x (goal >= 1.5x)"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 32])
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="timed seconds per (model, runtime, batch)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed loops per row (the median is reported)")
    parser.add_argument("--output", help="write the measurements as JSON")
    parser.add_argument("--rows", choices=ROWS, default="all", help="which runtimes to time (default: all)")
    parser.add_argument(
        "--quick", action="store_true", help=f"ResNet-18 models at {QUICK_SIZE}: a flow check only"
    )
    args = parser.parse_args(argv)

    load_before = os.getloadavg()
    results = measure(args.batch_sizes, args.seconds, args.repeats, args.rows, args.quick)
    load_after = os.getloadavg()

    hardware = describe_hardware()
    if torch.cuda.is_available():
        hardware += f"; {describe_hardware('cuda')}"
    print(
        f"\nHardware: {hardware}\nLoad average before/after (1 min): {load_before[0]:.2f} / {load_after[0]:.2f}\n"
    )
    print_table(results, args.batch_sizes)
    if args.output:
        document = {
            "hardware": hardware,
            "load_average": [load_before[0], load_after[0]],
            "images_per_second": results,
        }
        Path(args.output).write_text(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
