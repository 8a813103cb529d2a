"""Fixtures of the Hub tests: a loopback Hub-protocol server per test and small saved IAUnet folders."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_fixtures import save_iaunet_folder
from hub_server import TEST_TOKEN, HubServer


@pytest.fixture
def hub_server() -> Iterator[HubServer]:
    """A fresh server on a free 127.0.0.1 port; it requires `TEST_TOKEN` for writes and stops itself after 5 min."""
    with HubServer(token=TEST_TOKEN, lifetime_s=300) as hub:
        yield hub


@pytest.fixture(scope="session")
def image_model_dir(tmp_path_factory) -> Path:
    return save_iaunet_folder(tmp_path_factory.mktemp("iaunet_image") / "model")


@pytest.fixture(scope="session")
def results_json(tmp_path_factory) -> Path:
    """An evaluation JSON as the evaluation step writes it (fractions, evaluation-code metric spellings)."""
    path = tmp_path_factory.mktemp("results") / "results.json"
    entry = {"mAP": 0.8123, "mINP": 0.5011, "rank1": 0.9302, "rank5": 0.9711, "rank10": 0.9822}
    path.write_text(
        json.dumps({"results": [{"dataset": "market1501", "protocol": "single-query", "metrics": entry}]})
    )
    return path
