"""``iaunet-push`` as a user runs it: the card is rendered for the real repository, errors are one line."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from hub_server import TEST_TOKEN, HubServer
from huggingface_hub import ModelCard

from iaunet_hf.hub.cli import push_main
from iaunet_hf.hub.model_card import validate_model_card
from iaunet_hf.training.model_card import write_model_card

IAUNET_PUSH = shutil.which("iaunet-push", path=os.path.dirname(sys.executable))


def push_env(tmp_path, endpoint):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env.update(HF_HOME=str(tmp_path / "hf_home"), HF_ENDPOINT=endpoint, HF_TOKEN=TEST_TOKEN,
               HF_HUB_DISABLE_XET="1", HF_HUB_DISABLE_TELEMETRY="1")  # fmt: skip
    return env


def run_push(tmp_path, endpoint, *argv):
    return subprocess.run([IAUNET_PUSH, *argv], env=push_env(tmp_path, endpoint), capture_output=True,
                          text=True, timeout=240)  # fmt: skip


@pytest.fixture
def trained_folder(image_model_dir, results_json, tmp_path):
    """A folder as the trainer leaves it: weights, training summary, results file and a placeholder card."""
    folder = shutil.copytree(image_model_dir, tmp_path / "best_model")
    summary = {"recipe": "market1501", "base_recipe": "market1501", "task": "reid",
               "architecture": "iaunet_resnet18", "train_datasets": ["market1501"], "epochs_planned": 60,
               "epochs_completed": 1, "optimizer_steps": 3, "max_steps_per_epoch": 3}  # fmt: skip
    (folder / "training_summary.json").write_text(json.dumps(summary))
    shutil.copyfile(results_json, folder / "eval_results.json")
    write_model_card(folder, summary=summary, results=json.loads(results_json.read_text()))
    assert "your-org/iaunet-market1501" in (folder / "README.md").read_text()
    return folder


def test_push_renders_the_card_for_the_real_repo_id(trained_folder, hub_server, tmp_path):
    push = run_push(tmp_path, hub_server.url, "--model", str(trained_folder), "--repo-id", "lab/iaunet-r18")
    assert push.returncode == 0, push.stderr
    files = hub_server.files("lab/iaunet-r18")
    card = validate_model_card(files["README.md"].decode())
    assert card.data.model_name == "iaunet-r18" and "your-org" not in card.text
    assert 'AutoModel.from_pretrained("lab/iaunet-r18")' in card.text
    assert 'timm.create_model("hf-hub:lab/iaunet-r18", pretrained=True, num_classes=0)' in card.text
    assert "1 of 60 planned epochs, 3 optimizer steps" in card.text
    assert json.loads(files["training_summary.json"]) == json.loads(
        (trained_folder / "training_summary.json").read_text()
    )
    assert files["eval_results.json"] == (trained_folder / "eval_results.json").read_bytes()
    # The folder's own card is left as it was: the push renders a new one in memory.
    assert "your-org" in ModelCard.load(trained_folder / "README.md").text


@pytest.mark.reliability
def test_unreachable_endpoint_names_it_and_exits_1(trained_folder, tmp_path):
    with HubServer(token=TEST_TOKEN, lifetime_s=60) as hub:
        endpoint = hub.url
    push = run_push(tmp_path, endpoint, "--model", str(trained_folder), "--repo-id", "lab/offline")
    assert push.returncode == 1
    assert "Traceback" not in push.stderr and push.stderr.count("\n") == 1
    assert f"cannot reach the Hub at {endpoint}" in push.stderr and "nothing was pushed" in push.stderr


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "no/such/folder"], "no/such/folder"),
        (
            ["--model", "MODEL", "--dataset-results", "missing.json"],
            "results file missing.json does not exist",
        ),
        (["--model", "MODEL", "--dataset-results", "BAD"], "is not valid JSON"),
    ],
)
def test_user_errors_exit_2_with_one_line(trained_folder, hub_server, tmp_path, capsys, argv, message):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    argv = [{"MODEL": str(trained_folder), "BAD": str(bad)}.get(arg, arg) for arg in argv]
    assert push_main([*argv, "--repo-id", "lab/refused", "--endpoint", hub_server.url]) == 2
    error = capsys.readouterr().err
    assert error.startswith("iaunet-push: refused:") and error.count("\n") == 1 and message in error
    assert hub_server.state.requests == []
