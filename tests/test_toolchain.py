"""The tool chain as a user runs it, console scripts as subprocesses: iaunet-train -> iaunet-eval -> iaunet-push
-> download into an empty cache -> offline load with transformers and timm, on the synthetic set and on a
custom ``folder`` set whose file names need their own ``--data.name_pattern``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from huggingface_hub import snapshot_download
from huggingface_hub.repocard_data import eval_results_to_model_index, model_index_to_eval_results
from reid_folder_set import CUSTOM_NAME_PATTERN, write_custom_named_folder_set
from safetensors.torch import load_file, save_file

from iaunet_hf.evaluation.results import read_results
from iaunet_hf.hub.model_card import validate_model_card

sys.path.insert(0, str(Path(__file__).parent / "hub"))  # the loopback Hub server of the Hub tests
from hub_fixtures import save_iaunet_folder  # noqa: E402
from hub_server import TEST_TOKEN, HubServer  # noqa: E402

BIN = Path(sys.executable).parent
# The synthetic recipe shrunk to seconds (as tests/training/conftest.py's TINY_TRAINING), given on the CLI.
TINY_TRAINING = ["--data.height", "64", "--data.width", "32", "--data.batch_size", "8", "--data.num_instances", "4",
                 "--data.eval_batch_size", "16", "--epochs", "1", "--train.max_steps_per_epoch", "2",
                 "--mixed-precision", "no", "--eval.every_epochs", "0", "--eval.rerank", "false"]  # fmt: skip
OFFLINE_LOAD = """
import sys, timm, torch, iaunet_hf
from safetensors.torch import load_file, save_file
from transformers import AutoModel
inputs = load_file(sys.argv[1])["pixel_values"]
with torch.no_grad():
    save_file({
        "transformers": AutoModel.from_pretrained(sys.argv[3]).eval()(pixel_values=inputs).pooler_output,
        "timm": timm.create_model("hf-hub:" + sys.argv[3], pretrained=True, num_classes=0).eval()(inputs),
        "local": AutoModel.from_pretrained(sys.argv[4]).eval()(pixel_values=inputs).pooler_output,
    }, sys.argv[2])
"""


def user_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env.update(HF_HOME=str(home), HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_XET="1", **extra)
    return env


def run(tool: str, *argv: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = [str(BIN / tool), *argv] if tool.startswith("iaunet-") else [sys.executable, "-c", tool, *argv]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory) -> Path:
    """A small saved IAUnet folder (weights, config, image processor), as save_pretrained writes it."""
    return save_iaunet_folder(tmp_path_factory.mktemp("saved") / "model")


@pytest.fixture(params=["synthetic", "folder"])
def dataset(request, tiny_synthetic_dirs, tmp_path) -> tuple[str, Path, Path, list[str]]:
    """(dataset name, data folder, cache folder, data options): the tiny synthetic set, or the same images as
    a custom-named folder set."""
    data_dir, cache_dir = tiny_synthetic_dirs
    if request.param == "synthetic":
        return "synthetic", data_dir, cache_dir, []
    folder = write_custom_named_folder_set(data_dir, tmp_path / "my_reid_set")
    return "folder", folder, tmp_path / "cache", ["--data.name_pattern", CUSTOM_NAME_PATTERN]


def test_train_evaluate_push_download_load(dataset, tmp_path):
    name, data_dir, cache_dir, data_options = dataset
    env = user_env(tmp_path / "hf_home")
    run_dir, repo_id = tmp_path / "run", f"lab/iaunet-tiny-{name}"

    train = run("iaunet-train", "--recipe", "synthetic", "--data.dataset", name, "--data-dir", str(data_dir),
                "--data.cache_dir", str(cache_dir), "--output-dir", str(run_dir), *TINY_TRAINING, *data_options,
                env=env)  # fmt: skip
    assert train.returncode == 0, train.stderr[-3000:]
    model_dir = run_dir / "best_model"
    summary = json.loads((model_dir / "training_summary.json").read_text())
    assert summary["train_datasets"] == [name] and summary["epochs_completed"] == 1
    assert summary["optimizer_steps"] == 2 and summary["max_steps_per_epoch"] == 2

    results_path = tmp_path / "results.json"
    evaluate = run("iaunet-eval", "--model", str(model_dir), "--dataset", name, "--data-dir", str(data_dir),
                   "--cache-dir", str(cache_dir), "--device", "cpu", "--output", str(results_path), *data_options,
                   env=env)  # fmt: skip
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    results = read_results(results_path)
    (entry,) = results["results"]
    assert (entry["dataset"], entry["dataset_type"]) == (name, "custom")
    # iaunet-eval at the training size reproduces the trainer's own final evaluation of this model.
    (trainer_entry,) = read_results(model_dir / "eval_results.json")["results"]
    assert entry["metrics"] == pytest.approx(trainer_entry["metrics"], abs=1e-6)

    with HubServer(token=TEST_TOKEN, lifetime_s=300) as hub:
        push_env = user_env(tmp_path / "hf_home", HF_ENDPOINT=hub.url, HF_TOKEN=TEST_TOKEN)
        push = run("iaunet-push", "--model", str(model_dir), "--repo-id", repo_id, "--dataset-results",
                   str(results_path), env=push_env)  # fmt: skip
        assert push.returncode == 0, push.stderr[-3000:]
        cache = tmp_path / "empty_cache"
        snapshot_download(repo_id, cache_dir=cache, endpoint=hub.url, token=TEST_TOKEN)
        card = validate_model_card(hub.files(repo_id)["README.md"].decode())
    # No Hub from here on: everything comes from the cache.
    inputs = torch.randn(3, 3, 64, 32, generator=torch.Generator().manual_seed(0))
    save_file({"pixel_values": inputs}, tmp_path / "inputs.safetensors")
    offline_env = user_env(tmp_path / "hf_home", HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(cache))
    load = run(OFFLINE_LOAD, str(tmp_path / "inputs.safetensors"), str(tmp_path / "out.safetensors"), repo_id,
               str(model_dir), env=offline_env)  # fmt: skip
    assert load.returncode == 0, load.stderr[-3000:]
    embeddings = load_file(tmp_path / "out.safetensors")
    assert embeddings["transformers"].shape == (3, 512)
    assert torch.equal(embeddings["transformers"], embeddings["local"])
    torch.testing.assert_close(embeddings["timm"], embeddings["transformers"], rtol=0, atol=1e-5)

    # The card: the real repo id, the steps actually taken, the sections, a model-index that round-trips.
    text = card.text
    assert f'AutoModel.from_pretrained("{repo_id}")' in text
    assert f'timm.create_model("hf-hub:{repo_id}", pretrained=True, num_classes=0)' in text
    assert "your-org" not in text and card.data.model_name == repo_id.split("/")[1]
    assert (
        f"1 of 1 planned epochs, {summary['optimizer_steps']} optimizer steps (at most 2 per epoch)" in text
    )
    for section in ("## Limitations", "## Out-of-scope use", "## Bias, risks and privacy"):
        assert section in text
    assert "not comparable with published benchmark numbers" in text
    assert ("synthetic person set" in text) == (name == "synthetic")  # the folder run names its own data
    values = {(r.dataset_type, r.metric_type): r.metric_value for r in card.data.eval_results}
    assert values == {("custom", metric): round(value, 2) for metric, value in entry["metrics"].items()}
    assert model_index_to_eval_results(
        eval_results_to_model_index(card.data.model_name, card.data.eval_results)
    ) == (
        card.data.model_name,
        card.data.eval_results,
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["iaunet-eval", "--model", "MODEL", "--dataset", "market1502", "--data-dir", "."],
            "unknown dataset",
        ),
        (["iaunet-eval", "--model", "MODEL", "--dataset", "market1501", "--data-dir", "missing"], "missing"),
        (
            ["iaunet-eval", "--model", "missing-run/model", "--dataset", "market1501", "--data-dir", "."],
            "no folder",
        ),
        (["iaunet-push", "--model", "missing_folder", "--repo-id", "lab/x"], "missing_folder"),
        (["iaunet-push", "--model", "MODEL", "--repo-id", "lab/x", "--dataset-results", "BAD"], "'format'"),
        (["iaunet-train", "--recipe", "synthetic", "--model.no_such_option", "1"], "no_such_option"),
    ],
)
def test_user_errors_print_one_line_and_exit_2(argv, message, saved_model, tmp_path):
    model = saved_model
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"dataset": "market1501", "mAP": 0.5}))  # the old flat format
    argv = [{"MODEL": str(model), "BAD": str(bad)}.get(arg, arg) for arg in argv]
    result = run(*argv, env=user_env(tmp_path / "hf_home", HF_HUB_OFFLINE="1"))
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and len(lines) == 1 and message in lines[0]


def test_console_scripts_are_installed():
    import tomllib

    scripts = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["scripts"]
    assert {"iaunet-train", "iaunet-eval", "iaunet-push", "iaunet-export", "iaunet-app"} <= set(scripts)
    for tool in scripts:
        assert shutil.which(tool, path=str(BIN)), f"{tool} is not installed next to {sys.executable}"
