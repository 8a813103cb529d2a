"""Fixtures of the export tests: the Hub tests' small saved IAUnet folder (image input)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hub"))
from hub_fixtures import save_iaunet_folder  # noqa: E402  (the Hub tests' saved-folder helper)


@pytest.fixture(scope="session")
def image_model_dir(tmp_path_factory) -> Path:
    return save_iaunet_folder(tmp_path_factory.mktemp("iaunet_image") / "model")
