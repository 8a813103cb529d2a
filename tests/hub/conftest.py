"""Fixtures of the Hub tests: a loopback Hub-protocol server per test and small saved IAUnet folders."""

from collections.abc import Iterator
from pathlib import Path

import datasets
import huggingface_hub
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
    """A results file as ``iaunet-eval --output`` writes it (the package's one results format)."""
    from iaunet_hf.evaluation.results import result_entry, results_document, write_results

    evaluation = {"mAP": 0.8123, "mINP": 0.5011, "cmc": [0.9302, 0.95, 0.96, 0.9711, 0.98] + [0.9822] * 15,
                  "num_valid_queries": 6}  # fmt: skip
    entry = result_entry("market1501", evaluation, settings={"rerank": False}, num_query=6, num_gallery=30)
    path = tmp_path_factory.mktemp("results") / "results.json"
    return write_results(path, results_document([entry], model="model"))


@pytest.fixture
def hub(hub_server, monkeypatch):
    """The server, with datasets and huggingface_hub pointed at it (both read HF_ENDPOINT at import time)."""
    monkeypatch.setattr(datasets.config, "HF_ENDPOINT", hub_server.url)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", hub_server.url)
    monkeypatch.setattr(
        huggingface_hub.constants,
        "HUGGINGFACE_CO_URL_TEMPLATE",
        hub_server.url + "/{repo_id}/resolve/{revision}/{filename}",
    )
    monkeypatch.setenv("HF_TOKEN", TEST_TOKEN)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)  # LFS path: no Xet here
    return hub_server
