"""One ``iaunet-app`` server per test session (a tiny saved model over the tiny synthetic set), shared by the
Python-client and browser tests, and the folder where tests leave their screenshots."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("gradio", reason="the app needs gradio: pip install --no-deps gradio (docs/app.md)")
pytest.importorskip("gradio_client")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hub"))  # the Hub tests' saved-model helper
from app_process import AppServer, start_app, stop  # noqa: E402
from hub_fixtures import save_iaunet_folder  # noqa: E402


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
