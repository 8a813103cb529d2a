"""scripts/gpu_check.sh's CPU dry run: the flow of the GPU check (every benchmark step, the embeddings
comparison, the short bf16 training and the table) on tiny sizes, as a user runs it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gpu_check.sh"


def test_gpu_check_script_parses():
    result = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
@pytest.mark.multiprocess
def test_gpu_check_dry_run_prints_the_table(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    work = tmp_path / "work"
    command = ["bash", str(SCRIPT), "--device", "cpu", "--quick", "--work-dir", str(work)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    table = result.stdout[result.stdout.index("GPU check on") :]
    checks = [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ")][1:]
    assert "forward fp32 IAUnet/baseline" in checks and "bf16 / fp32 training throughput" in checks
    assert "re-ranking bf16 candidates / exact" in checks and "short bf16 training" in checks
    assert any(check.startswith("inference PyTorch fp32") for check in checks)
    assert "CUDA vs CPU embeddings, min cosine" in checks
    assert "Xeon" in table or "CPU" in table or "cores" in table  # the hardware line names the machine


def test_gpu_check_refuses_an_unknown_argument():
    result = subprocess.run(["bash", str(SCRIPT), "--fast"], capture_output=True, text=True)
    assert result.returncode == 2 and "unknown argument --fast" in result.stderr
