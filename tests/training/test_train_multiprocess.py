"""Two CPU processes (gloo) train together through accelerate and end with the same weights.

DDP averages gradients, so the parameters agree exactly; BN running statistics stay per process (as in any DDP
run without SyncBatchNorm), so they are not compared.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

WORKER = Path(__file__).with_name("ddp_train_worker.py")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.multiprocess
def test_two_process_cpu_training_agrees_on_weights(tiny_reid_dirs, tmp_path):
    data_dir, cache_dir = tiny_reid_dirs
    output_dir = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        str(WORKER),
        str(data_dir),
        str(cache_dir),
        str(output_dir),
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-4000:]

    reports = [json.loads((output_dir / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert all(report["num_processes"] == 2 and report["steps"] == 1 for report in reports)
    rank0, rank1 = (load_file(output_dir / f"rank{rank}.safetensors") for rank in (0, 1))
    saved = load_file(output_dir / "model" / "model.safetensors")
    for key in rank0:
        torch.testing.assert_close(rank0[key], rank1[key], rtol=0, atol=0, msg=f"ranks disagree on {key}")
    for key, value in rank0.items():  # the saved model is rank 0's
        torch.testing.assert_close(saved[key], value, rtol=0, atol=0)
    assert reports[0]["mAP"] == reports[1]["mAP"]  # both evaluated the same model
