"""The docs tests' user environment: the shell a reader types the docs' commands into."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "hub"))  # the loopback Hub server of the Hub tests
from hub_server import TEST_TOKEN, HubServer  # noqa: E402

VENV_BIN = Path(sys.executable).parent


# What iaunet-train gets unless the command sets it: ResNet-18 at 64x32, one step an epoch, a P=2 x K=4 batch.
TINY_TRAINING = {"model.architecture": "iaunet_resnet18", "data.height": "64", "data.width": "32",
                 "data.batch_size": "8", "data.num_instances": "4", "data.eval_batch_size": "16", "train.epochs": "2",
                 "train.max_steps_per_epoch": "1", "train.mixed_precision": "no", "eval.every_epochs": "0",
                 "eval.rerank": "false", "data.num_workers": "0"}  # fmt: skip


def user_env(workspace: Path, hub: HubServer) -> dict[str, str]:
    """A user's shell: the package's console scripts on PATH (iaunet-train shrunk), Hub at the loopback."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HF_", "HUGGINGFACE_"))}
    env.update(PATH=f"{workspace / '.bin'}{os.pathsep}{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
               HF_HOME=str(workspace / ".hf_home"), HF_ENDPOINT=hub.url, HF_TOKEN=TEST_TOKEN,
               HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_XET="1", PYTHONUNBUFFERED="1")  # fmt: skip
    return env
