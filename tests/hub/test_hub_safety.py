"""Refusals: corrupt or truncated weights, a config that does not match them, a card without results.

Every refusal must happen before the first request reaches the Hub.
"""

import json
import shutil

import huggingface_hub
import pytest
from hub_server import TEST_TOKEN

from iaunet_hf.hub.checks import check_model_folder, check_safetensors
from iaunet_hf.hub.cli import push_main
from iaunet_hf.hub.push import push_model_folder


@pytest.fixture
def model_copy(image_model_dir, tmp_path):
    return shutil.copytree(image_model_dir, tmp_path / "model")


def push(folder, hub_server, results=None):
    return push_model_folder(
        folder, "org/refused", results_path=results, endpoint=hub_server.url, token=TEST_TOKEN
    )


def test_truncated_weights_are_refused(model_copy, hub_server, results_json):
    weights = model_copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    refused = "model.safetensors (is truncated|.* is not a (readable )?safetensors file)"
    with pytest.raises(ValueError, match=refused):
        push(model_copy, hub_server, results_json)
    assert hub_server.state.requests == []


def test_corrupted_header_is_refused(model_copy):
    weights = model_copy / "model.safetensors"
    content = bytearray(weights.read_bytes())
    content[8:24] = b"\xff" * 16  # inside the JSON header
    weights.write_bytes(bytes(content))
    with pytest.raises(ValueError, match="not a (readable )?safetensors file"):
        check_safetensors(weights)


def test_missing_weights_file(model_copy):
    (model_copy / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="lacks \\['model.safetensors'\\]"):
        check_model_folder(model_copy)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"num_parts": 6}, "shape differs"),
        ({"depth": 34}, "missing from the weights"),
        ({"iau_stages": [2]}, "unexpected"),
    ],
)
def test_config_that_does_not_match_the_weights(model_copy, hub_server, results_json, change, message):
    config_path = model_copy / "config.json"
    config = json.loads(config_path.read_text())
    config.update(change)
    config_path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match=f"config.json does not match .*model.safetensors: .*{message}"):
        push(model_copy, hub_server, results_json)
    assert hub_server.state.requests == []


def test_foreign_config_is_refused(model_copy):
    (model_copy / "config.json").write_text(json.dumps({"model_type": "resnet"}))
    with pytest.raises(ValueError, match="expected 'iaunet'"):
        check_model_folder(model_copy)


def test_card_without_results_is_refused(model_copy, hub_server, tmp_path):
    with pytest.raises(ValueError, match="no evaluation results for .*expected --dataset-results"):
        push(model_copy, hub_server)
    flat = tmp_path / "flat.json"  # the old flat iaunet-eval output is not a results document
    flat.write_text(json.dumps({"dataset": "market1501", "mAP": 0.8, "rank-1": 0.9}))
    with pytest.raises(ValueError, match="flat.json: 'format' is None"):
        push(model_copy, hub_server, flat)
    assert hub_server.state.requests == []


def test_config_asking_for_remote_code_is_refused(model_copy):
    config_path = model_copy / "config.json"
    config = json.loads(config_path.read_text())
    config["auto_map"] = {"AutoModel": "modeling_evil.EvilModel"}
    config_path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match="must never need trust_remote_code"):
        check_model_folder(model_copy)


def test_wrong_token_is_reported_by_the_cli(image_model_dir, hub_server, results_json, monkeypatch, capsys):
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", hub_server.url)
    monkeypatch.setenv("HF_TOKEN", "hf_not_the_right_token")
    argv = [
        "--model",
        str(image_model_dir),
        "--repo-id",
        "org/denied",
        "--dataset-results",
        str(results_json),
    ]
    assert push_main(argv) == 1
    assert f"the Hub at {hub_server.url} refused the upload" in capsys.readouterr().err
    assert hub_server.state.repos == {}
