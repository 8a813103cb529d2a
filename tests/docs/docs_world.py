"""The docs tests' user environment: the shell a reader types the docs' commands into."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "hub"))  # the loopback Hub server of the Hub tests
from hub_server import TEST_TOKEN, HubServer  # noqa: E402

VENV_BIN = Path(sys.executable).parent


def user_env(workspace: Path, hub: HubServer) -> dict[str, str]:
    """A user's shell: the package's console scripts on PATH (iaunet-train shrunk), Hub at the loopback."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HF_", "HUGGINGFACE_"))}
    env.update(PATH=f"{workspace / '.bin'}{os.pathsep}{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
               HF_HOME=str(workspace / ".hf_home"), HF_ENDPOINT=hub.url, HF_TOKEN=TEST_TOKEN,
               HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_XET="1", PYTHONUNBUFFERED="1")  # fmt: skip
    return env


def write_flat_crops(market_dir: Path, flat: Path) -> None:
    """Every identified image of a Market-style set in one flat folder (a train-only set of crops)."""
    flat.mkdir(parents=True)
    for split in ("bounding_box_train", "query", "bounding_box_test"):
        for image in sorted((market_dir / split).glob("*.jpg")):
            if int(re.match(r"([-\d]+)_c", image.name).group(1)) > 0:
                shutil.copyfile(image, flat / image.name)
