"""Time ``iaunet-app`` from launch to the first search's answer on the synthetic set, against the same work
without the app (load the model, load the set, embed the gallery and rank one query) in a plain process.

Runs the app as a user does (a subprocess on a free port), asks for the first search through Gradio's Python
client and prints a Markdown table with the hardware: "cold" generates the synthetic set and prepares its
Arrow cache at start, "warm" finds both. The model is the synthetic recipe's architecture (IAUnet ResNet-18,
128x64), seeded and untrained: the time does not depend on the weights.

    python scripts/benchmark_app.py [--depth 18] [--output-dir runs/benchmark_app]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from iaunet_hf.hardware import describe_hardware

ROOT = Path(__file__).resolve().parents[1]
BASELINE = """
import sys, torch
from iaunet_hf.app.engine import ReidEngine
from iaunet_hf.data import load_reid_dataset
engine = ReidEngine.load(sys.argv[1])
dataset = load_reid_dataset("synthetic", sys.argv[2], cache_dir=sys.argv[3])
dataset["query"]  # as the app reads the query split at start
gallery = torch.cat([engine.embed_images(dataset["gallery"][i : i + 32]["image"]) for i in range(0, len(dataset["gallery"]), 32)])
query = engine.embed_images([dataset["query"][0]["image"]])
print((gallery @ query.T).flatten().topk(10).indices.tolist())
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def save_model(folder: Path, depth: int) -> Path:
    import torch

    from iaunet_hf import IAUnetConfig, IAUnetImageProcessor, IAUnetModel

    torch.manual_seed(0)
    IAUnetModel(IAUnetConfig(depth=depth, image_size=[128, 64], iau_stages=[2, 3])).eval().save_pretrained(
        folder
    )
    IAUnetImageProcessor(size={"height": 128, "width": 64}).save_pretrained(folder)
    return folder


def time_app(model: Path, data_dir: Path, cache_dir: Path, log: Path) -> tuple[float, float]:
    """(seconds until the app serves, seconds until the first search's answer), from launch."""
    from gradio_client import Client, handle_file

    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
    command = [sys.executable, "-m", "iaunet_hf.app.cli", "--model", str(model), "--data-dir", str(data_dir),
               "--cache-dir", str(cache_dir), "--port", str(port)]  # fmt: skip
    start = time.perf_counter()
    with log.open("w") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the app exited: {log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).close()
                break
            except OSError:
                time.sleep(0.1)
        served = time.perf_counter() - start
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        query_image = sorted((data_dir / "bounding_box_test").glob("*.jpg"))[0]  # an uploaded query
        client.predict(None, handle_file(str(query_image)), 10, api_name="/search")
        return served, time.perf_counter() - start
    finally:
        process.terminate()
        process.wait(timeout=30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=18, choices=(18, 34, 50))
    parser.add_argument(
        "--output-dir", type=Path, help="keep the model, set and logs here (default: a temp folder)"
    )
    args = parser.parse_args(argv)
    work = args.output_dir or Path(tempfile.mkdtemp(prefix="benchmark_app_"))
    work.mkdir(parents=True, exist_ok=True)
    model = save_model(work / "model", args.depth)
    data_dir, cache_dir = work / "synthetic", work / "cache"
    load_before = os.getloadavg()
    cold = time_app(model, data_dir, cache_dir, work / "cold.log")
    warm = time_app(model, data_dir, cache_dir, work / "warm.log")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", BASELINE, str(model), str(data_dir), str(cache_dir)], check=True,
                   capture_output=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))  # fmt: skip
    baseline = time.perf_counter() - start
    load_after = os.getloadavg()
    print(f"| run (IAUnet ResNet-{args.depth}, 128x64, default synthetic set) | app serving | first search answered "
          "| same work without the app | ratio |\n| --- | --- | --- | --- | --- |")  # fmt: skip
    for name, (served, answered) in (("cold (set generated at start)", cold), ("warm (set cached)", warm)):
        print(
            f"| {name} | {served:.1f} s | {answered:.1f} s | {baseline:.1f} s | {answered / baseline:.2f} |"
        )
    print(
        f"\nHardware: {describe_hardware()}\nLoad average before/after (1 min): {load_before[0]:.2f} / {load_after[0]:.2f}"
    )


if __name__ == "__main__":
    main()
