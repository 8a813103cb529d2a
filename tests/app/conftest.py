"""One ``iaunet-app`` server per test session (a tiny saved model over the tiny synthetic set), shared by the
Python-client and browser tests, and the folder where tests leave their screenshots."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("gradio", reason="the app needs gradio: pip install --no-deps gradio (docs/app.md)")
pytest.importorskip("gradio_client")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hub"))  # the Hub tests' saved-model helper
from hub_fixtures import save_iaunet_folder  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120


@dataclass(frozen=True)
class AppServer:
    url: str
    data_dir: Path
    process: subprocess.Popen


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def app_env(**extra: str) -> dict[str, str]:
    """The environment of a user running the app offline from this checkout."""
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def wait_until_serving(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"the app did not serve {url} within {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


def start_app(command: list[str], log: Path, cwd: Path = ROOT, **env: str) -> tuple[str, subprocess.Popen]:
    """Start the app as a user does, on a free port; return its URL once it answers."""
    port = free_port()
    environment = app_env(GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1", **env)
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=cwd, env=environment, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_serving(url, process, log)
    except BaseException:
        process.kill()
        raise
    return url, process


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def app_model_dir(tmp_path_factory) -> Path:
    return save_iaunet_folder(tmp_path_factory.mktemp("app_model") / "model")


@pytest.fixture(scope="session")
def app_server(app_model_dir, tiny_synthetic_dirs, tmp_path_factory) -> Iterator[AppServer]:
    """``iaunet-app --model DIR --data-dir tiny-synthetic`` on a free port."""
    data_dir, cache_dir = tiny_synthetic_dirs
    log = tmp_path_factory.mktemp("app_log") / "app.log"
    command = [sys.executable, "-m", "iaunet_hf.app.cli", "--model", str(app_model_dir), "--data-dir",
               str(data_dir), "--cache-dir", str(cache_dir), "--top-k", "5"]  # fmt: skip
    url, process = start_app(command, log)
    yield AppServer(url, data_dir, process)
    stop(process)


@pytest.fixture(scope="session")
def screenshot_dirs(tmp_path_factory) -> list[Path]:
    """Where screenshots go: a session folder (test artefacts; IAUNET_TEST_ARTIFACTS to keep them elsewhere)
    and, when IAUNET_APP_DOCS_IMAGES names a folder (docs/images/app), the docs' pictures too."""
    artefacts = Path(os.environ.get("IAUNET_TEST_ARTIFACTS") or tmp_path_factory.mktemp("artefacts")) / "app"
    folders = [artefacts] + (
        [Path(os.environ["IAUNET_APP_DOCS_IMAGES"])] if os.environ.get("IAUNET_APP_DOCS_IMAGES") else []
    )
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    return folders
