"""A train-only set from the first command to the results file (issue 26): ``iaunet-train`` on a flat folder of
Market-named crops with ``--data.missing_eval_splits split``, then ``iaunet-eval`` on the identities that run held
out, which reproduces the trainer's own final evaluation; and the errors of a train-only set without its split."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from reid_folder_set import write_flat_crops

from iaunet_hf import IAUnetConfig, IAUnetModel
from iaunet_hf.evaluation.cli import main
from iaunet_hf.evaluation.results import read_results

BIN = Path(sys.executable).parent
TINY_TRAINING = ["--model.pretrained", "false", "--data.height", "64", "--data.width", "32", "--data.batch_size", "8",
                 "--data.num_instances", "4", "--data.eval_batch_size", "16", "--epochs", "1",
                 "--train.max_steps_per_epoch", "1", "--mixed-precision", "no", "--eval.every_epochs", "0",
                 "--eval.rerank", "false"]  # fmt: skip


def run(tool: str, *argv: str, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env.update(HF_HOME=str(home), HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")
    return subprocess.run([str(BIN / tool), *argv], env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def train_only(tmp_path_factory, tiny_synthetic_dirs) -> dict[str, Path]:
    """The flat folder, its cache, and a folder with an untrained saved model and no split file."""
    root = tmp_path_factory.mktemp("held_out")
    torch.manual_seed(0)
    IAUnetModel(IAUnetConfig(depth=18, image_size=[64, 32])).save_pretrained(root / "untrained" / "model")
    flat = write_flat_crops(tiny_synthetic_dirs[0], root / "my_crops")
    return {"root": root, "flat": flat, "cache": root / "cache", "market": tiny_synthetic_dirs[0]}


def test_train_only_set_trains_and_evaluates_on_the_run_held_out_split(train_only, tmp_path, capsys):
    flat, cache, run_dir = train_only["flat"], train_only["cache"], tmp_path / "run"
    train = run("iaunet-train", "--recipe", "synthetic", "--data.dataset", "folder", "--data-dir", str(flat),
                "--data.cache_dir", str(cache), "--output-dir", str(run_dir), "--data.missing_eval_splits", "split",
                *TINY_TRAINING, home=tmp_path / "hf_home")  # fmt: skip
    assert train.returncode == 0, train.stderr[-3000:]
    split = json.loads((run_dir / "eval_split.json").read_text())
    assert split["source"]["datasets"] == ["folder"] and len(split["test_pids"]) == 3

    # the documented command: the run's eval_split.json is found from --model (RUN/best_model)
    results_path = tmp_path / "r.json"
    evaluate = run("iaunet-eval", "--model", str(run_dir / "best_model"), "--dataset", "folder", "--data-dir",
                   str(flat), "--cache-dir", str(cache), "--device", "cpu", "--output", str(results_path),
                   home=tmp_path / "hf_home")  # fmt: skip
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    assert f"evaluating on the identities held out in {run_dir / 'eval_split.json'}" in evaluate.stdout
    (entry,) = read_results(results_path)["results"]
    (trainer_entry,) = read_results(run_dir / "best_model" / "eval_results.json")["results"]
    assert entry["counts"] == trainer_entry["counts"]  # the same query and gallery rows
    assert entry["metrics"] == pytest.approx(trainer_entry["metrics"], abs=1e-6)
    assert entry["settings"]["eval_split"] == str(run_dir / "eval_split.json")

    # the final model with the split named explicitly, in process
    common = ["--dataset", "folder", "--data-dir", str(flat), "--cache-dir", str(cache), "--device", "cpu"]
    explicit = ["--eval-split", str(run_dir / "eval_split.json"), "--output", str(tmp_path / "m.json")]
    assert main(["--model", str(run_dir / "model"), *common, *explicit]) == 0, capsys.readouterr().err
    (entry,) = read_results(tmp_path / "m.json")["results"]
    (trainer_entry,) = read_results(run_dir / "model" / "eval_results.json")["results"]
    assert entry["metrics"] == pytest.approx(trainer_entry["metrics"], abs=1e-6)


@pytest.mark.parametrize(
    "dataset, eval_split, message",
    [
        ("folder", None, r"folder: .*my_crops is a train-only set .*; expected --eval-split RUN/eval_split\.json.* "
                         r"\(there is none in .*untrained/model or .*untrained\)"),
        ("folder", "missing.json", r"--eval-split: .*missing\.json does not exist; expected the eval_split\.json"),
        ("market1501", "split.json", r"--eval-split: market1501 at .* has its own splits \['train', 'query', "
                                     r"'gallery'\]; expected a train-only set"),
        ("folder", "other_set.json", r"holds the held-out split of \['market1501'\].*expected a split of 'folder'"),
    ],
)  # fmt: skip
def test_train_only_set_without_its_split_is_a_one_line_error(
    dataset, eval_split, message, train_only, capsys
):
    root = train_only["root"]
    (root / "split.json").write_text("{}")
    (root / "other_set.json").write_text(json.dumps({"dataset": "split_identities", "source": {"datasets": ["market1501"]}}))  # fmt: skip
    data_dir = train_only["flat"] if dataset == "folder" else train_only["market"]
    argv = ["--model", str(root / "untrained" / "model"), "--dataset", dataset, "--data-dir", str(data_dir),
            "--cache-dir", str(train_only["cache"]), "--device", "cpu"]  # fmt: skip
    if eval_split is not None:
        argv += ["--eval-split", str(root / eval_split)]
    assert main(argv) == 2
    error = capsys.readouterr().err  # progress bars of the data preparation, then the one error line
    lines = [line for line in error.splitlines() if "iaunet-eval: error:" in line]
    assert len(lines) == 1 and re.search(message, lines[0]) and "Traceback" not in error, error
