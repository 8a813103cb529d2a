"""Every command a training message proposes works as printed.

Each test brings ``iaunet-train`` into the state that prints the message, takes the command (or the options)
the message proposes, runs it as a subprocess, as a user would paste it into a shell, and checks that it
succeeds. The divergence stops print a whole command line; the refusals name the options to add or change.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from train_cli import tiny_train_argv

from iaunet_hf.training import list_checkpoints, load_config, trainer_for
from iaunet_hf.training.advice import INDENT, invoked_program
from iaunet_hf.training.cli import build_parser, main

pytestmark = pytest.mark.reliability

# The printed commands start with ``iaunet-train``: run them where the package's console scripts are on PATH.
SCRIPTS_DIR = Path(sys.executable).parent
ENV = dict(os.environ, PATH=f"{SCRIPTS_DIR}{os.pathsep}{os.environ.get('PATH', '')}")
RECIPE_LR = 3.5e-4  # the synthetic recipe's own learning rate


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=240)


def run_train(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``iaunet-train ARGV`` as a new process."""
    return run(["iaunet-train", *argv], cwd)


def printed_command(stderr: str) -> list[str]:
    """The one command line a stop message proposes (its indented last line), split as a shell would."""
    commands = [
        line[len(INDENT) :] for line in stderr.splitlines() if line.startswith(INDENT + "iaunet-train")
    ]
    assert len(commands) == 1, stderr[-3000:]
    return shlex.split(commands[0])


def option(argv: list[str], name: str) -> str:
    """The last value of ``--name`` in ``argv``."""
    return [argv[i + 1] for i, token in enumerate(argv[:-1]) if token == name][-1]


def without(argv: list[str], *names: str) -> list[str]:
    """``argv`` without the options ``names`` (``--resume`` alone or with its value)."""
    kept, index = [], 0
    while index < len(argv):
        if argv[index] in names:
            index += 2 if index + 1 < len(argv) and not argv[index + 1].startswith("--") else 1
            continue
        kept.append(argv[index])
        index += 1
    return kept


def error_line(capsys) -> str:
    """The one-line refusal (preparing a dataset's cache prints progress lines before it)."""
    stderr = capsys.readouterr().err
    lines = [line for line in stderr.splitlines() if line.startswith("iaunet-train: error: ")]
    assert len(lines) == 1, stderr[-3000:]
    return lines[0]


def assert_finished(completed: subprocess.CompletedProcess, run_dir: Path, epochs: int) -> dict:
    assert completed.returncode == 0, completed.stderr[-3000:]
    summary = json.loads((run_dir / "model" / "training_summary.json").read_text())
    assert summary["epochs_completed"] == epochs
    return summary


@pytest.fixture(scope="module")
def one_epoch_run(tmp_path_factory, tiny_reid_dirs, tiny_overrides) -> Path:
    """A finished one-epoch run (checkpoint_1 and the final model) of the tiny synthetic recipe."""
    folder = tmp_path_factory.mktemp("advice_one_epoch") / "run"
    assert main(tiny_train_argv(folder, tiny_reid_dirs, tiny_overrides, "--train.epochs", "1")) == 0
    return folder


@pytest.fixture
def finished_run(one_epoch_run, tmp_path) -> Path:
    shutil.copytree(one_epoch_run, tmp_path / "run")
    return tmp_path / "run"


# --- divergence stops: the printed command line -------------------------------------------------------------
# Two steps in one epoch at lr 1e30: the first step's update overflows the weights, the second step's loss is NaN.
DIVERGING = ("--train.epochs", "1", "--train.max_steps_per_epoch", "2", "--optimizer.lr", "1e30")


def test_a_run_diverging_at_its_first_step_is_told_to_start_again_and_that_finishes(
    tmp_path, tiny_reid_dirs, tiny_overrides, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # the run, with a relative output folder
    argv = tiny_train_argv("run", tiny_reid_dirs, tiny_overrides, *DIVERGING)
    capsys.readouterr()
    assert main(argv) == 1
    stderr = capsys.readouterr().err
    assert "stopped: non-finite loss" in stderr and "nothing to resume" in stderr
    assert "its output folder run can be reused as it is" in stderr
    assert list_checkpoints(tmp_path / "run" / "checkpoints") == []  # nothing non-finite was written
    command = printed_command(stderr)
    assert command[0] == "iaunet-train" and "--resume" not in command
    assert float(option(command, "--optimizer.lr")) == RECIPE_LR  # a tenth of 1e30 would diverge again
    assert without(command[1:], "--optimizer.lr") == without(argv, "--optimizer.lr")  # the same run otherwise

    # the advice, followed as printed: the same output folder is reused, and the run finishes
    summary = assert_finished(run(command, tmp_path), tmp_path / "run", epochs=1)
    assert summary["optimizer"]["lr"] == RECIPE_LR
    kinds = [json.loads(line)["kind"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert kinds.count("restart") == 1 and kinds[-1] == "final"  # the log marks where the new run begins


def test_broken_final_weights_without_a_checkpoint_are_told_to_start_again(
    tmp_path, tiny_reid_dirs, tiny_overrides, capsys
):
    # one step at lr 1e30: the epoch's checkpoint and the final model are refused; no step's loss is non-finite
    argv = tiny_train_argv(tmp_path / "run", tiny_reid_dirs, tiny_overrides, "--train.epochs", "1")
    capsys.readouterr()
    with pytest.warns(RuntimeWarning, match="not saving a checkpoint"):
        assert main([*argv, "--optimizer.lr", "1e30"]) == 1
    stderr = capsys.readouterr().err
    assert "no final model is saved" in stderr and "nothing to resume" in stderr
    command = printed_command(stderr)
    assert "--resume" not in command and float(option(command, "--optimizer.lr")) == RECIPE_LR
    assert_finished(run(command, tmp_path), tmp_path / "run", epochs=1)


def test_a_run_diverging_after_a_checkpoint_is_told_to_resume_it_and_that_finishes(
    finished_run, tmp_path, tiny_reid_dirs, tiny_overrides, capsys
):
    argv = tiny_train_argv(
        finished_run, tiny_reid_dirs, tiny_overrides, "--resume", *DIVERGING, "--train.epochs", "2"
    )
    capsys.readouterr()
    assert main(argv) == 1
    stderr = capsys.readouterr().err
    assert f"the last good checkpoint is {finished_run / 'checkpoints' / 'checkpoint_1'}" in stderr
    command = printed_command(stderr)
    assert option(command, "--resume") == "latest" and float(option(command, "--optimizer.lr")) == RECIPE_LR
    summary = assert_finished(run(command, tmp_path), finished_run, epochs=2)
    assert summary["optimizer"]["lr"] == RECIPE_LR


def test_a_resume_into_another_folder_diverging_before_its_checkpoint_is_told_to_resume_the_same_one(
    finished_run, tmp_path, tiny_reid_dirs, tiny_overrides, capsys
):
    # the resumed checkpoint lies in another folder: "start again" would lose its epoch; resume it again instead
    checkpoint = finished_run / "checkpoints" / "checkpoint_1"
    argv = tiny_train_argv(tmp_path / "branch", tiny_reid_dirs, tiny_overrides, "--resume", str(checkpoint))
    capsys.readouterr()
    assert main([*argv, *DIVERGING, "--train.epochs", "2"]) == 1
    command = printed_command(capsys.readouterr().err)
    assert option(command, "--resume") == str(checkpoint)
    assert_finished(run(command, tmp_path), tmp_path / "branch", epochs=2)


@pytest.mark.parametrize(
    ("argv0", "on_path", "main_module", "expected"),
    [
        ("/venv/bin/iaunet-train", "/venv/bin/iaunet-train", None, ["iaunet-train"]),
        ("/venv/bin/iaunet-train", None, None, ["/venv/bin/iaunet-train"]),  # not on PATH: its path
        ("./bin/iaunet-train", "/usr/bin/iaunet-train", None, ["./bin/iaunet-train"]),  # another one is
        ("/x/iaunet_hf/train.py", None, "iaunet_hf.train", [sys.executable, "-m", "iaunet_hf.train"]),
        ("/x/bin/pytest", None, None, ["iaunet-train"]),  # main() called from Python
    ],
)
def test_the_printed_program_is_the_one_this_run_was_started_as(
    monkeypatch, argv0, on_path, main_module, expected
):
    monkeypatch.setattr(sys, "argv", [argv0])
    monkeypatch.setattr(shutil, "which", lambda name: on_path if name == "iaunet-train" else None)
    spec = SimpleNamespace(name=main_module) if main_module else None
    monkeypatch.setattr(sys.modules["__main__"], "__spec__", spec, raising=False)
    assert invoked_program() == expected


# --- refusals: the options they propose ---------------------------------------------------------------------
def test_resume_latest_without_a_checkpoint_is_told_to_leave_out_resume(
    tmp_path, tiny_reid_dirs, tiny_overrides, capsys
):
    argv = tiny_train_argv(
        tmp_path / "run", tiny_reid_dirs, tiny_overrides, "--train.epochs", "1", "--resume"
    )
    capsys.readouterr()
    assert main(argv) == 2
    assert "leave out --resume to start the run again" in error_line(capsys)
    assert_finished(run_train(without(argv, "--resume"), tmp_path), tmp_path / "run", epochs=1)


@pytest.mark.parametrize("follow", ["pass --resume", "choose another --output-dir"])
def test_a_folder_with_checkpoints_is_told_to_resume_or_choose_another_folder(
    finished_run, tmp_path, tiny_reid_dirs, tiny_overrides, capsys, follow
):
    # a fresh run into a folder with a 1-epoch run's checkpoint: to 2 epochs there by --resume, or 1 elsewhere
    epochs = 2 if follow == "pass --resume" else 1
    argv = tiny_train_argv(finished_run, tiny_reid_dirs, tiny_overrides, "--train.epochs", str(epochs))
    capsys.readouterr()
    assert main(argv) == 2
    assert follow in error_line(capsys)
    if follow == "pass --resume":
        assert_finished(run_train([*argv, "--resume"], tmp_path), finished_run, epochs=2)
    else:
        argv[argv.index("--output-dir") + 1] = str(tmp_path / "another")
        assert_finished(run_train(argv, tmp_path), tmp_path / "another", epochs=1)


def test_a_refused_resume_is_told_to_start_a_new_run_in_another_folder(
    finished_run, tmp_path, tiny_reid_dirs, tiny_overrides, capsys
):
    # "Resume with the same <field>" is the plain resume of the test above; here the other way out
    argv = tiny_train_argv(finished_run, tiny_reid_dirs, tiny_overrides, "--train.epochs", "1")
    argv += ["--model.iau_stages", "[2]", "--resume"]
    capsys.readouterr()
    assert main(argv) == 2
    assert "start a new run in another --output-dir" in error_line(capsys)
    argv = without(argv, "--resume")
    argv[argv.index("--output-dir") + 1] = str(tmp_path / "another")
    assert_finished(run_train(argv, tmp_path), tmp_path / "another", epochs=1)


@pytest.mark.parametrize(
    ("batch_size", "proposal"),
    [
        ("32", r"lower --data.batch_size to at most (\d+)"),  # 8 identities a batch, the set has 4
        ("10", r"set --data.batch_size to a multiple of 4 .*e\.g\. (\d+)"),  # not P x K
    ],
)
def test_a_batch_size_refusal_proposes_one_that_trains(
    tmp_path, tiny_reid_dirs, tiny_overrides, capsys, batch_size, proposal
):
    argv = tiny_train_argv(tmp_path / "run", tiny_reid_dirs, tiny_overrides, "--train.epochs", "1")
    capsys.readouterr()
    assert main([*argv, "--data.batch_size", batch_size]) == 2
    proposed = re.search(proposal, error_line(capsys)).group(1)
    completed = run_train([*argv, "--data.batch_size", proposed], tmp_path)
    assert_finished(completed, tmp_path / "run", epochs=1)


def test_a_missing_pretrained_file_is_told_options_that_train(
    tmp_path, tiny_reid_dirs, tiny_overrides, capsys
):
    argv = tiny_train_argv(tmp_path / "run", tiny_reid_dirs, tiny_overrides, "--train.epochs", "1")
    argv += ["--model.pretrained_file", str(tmp_path / "missing.safetensors")]
    capsys.readouterr()
    assert main(argv) == 2
    proposed = re.search(r"with (--model\.pretrained_file \S+ --model\.pretrained \S+)$", error_line(capsys))
    assert_finished(run_train([*argv, *proposed.group(1).split()], tmp_path), tmp_path / "run", epochs=1)


def test_a_missing_data_dir_is_told_to_pass_one(tmp_path, tiny_reid_dirs, tiny_overrides, capsys):
    argv = without(
        tiny_train_argv(tmp_path / "run", tiny_reid_dirs, tiny_overrides, "--train.epochs", "1"), "--data-dir"
    )
    capsys.readouterr()
    assert main(argv) == 2
    assert "pass --data-dir DIR, the folder of synthetic" in error_line(capsys)
    completed = run_train([*argv, "--data-dir", str(tiny_reid_dirs[0])], tmp_path)
    assert_finished(completed, tmp_path / "run", epochs=1)


def test_a_set_without_part_masks_is_told_to_pass_a_mask_dir(tmp_path, tiny_reid_dirs, tiny_overrides):
    # the tiny set read as plain Market-1501: the same images, without the synthetic set's own masks
    argv = tiny_train_argv(tmp_path / "run", tiny_reid_dirs, tiny_overrides, "--train.epochs", "1")
    argv += ["--data.dataset", "market1501"]
    overrides = {key.lstrip("-"): value for key, value in zip(argv[2::2], argv[3::2], strict=True)}
    with pytest.warns(UserWarning, match=r"part loss is off for this run\. Pass --data\.mask_dir DIR"):
        trainer_for(load_config("synthetic", overrides))
    completed = run_train([*argv, "--data.mask_dir", str(tiny_reid_dirs[0] / "part_masks")], tmp_path)
    summary = assert_finished(completed, tmp_path / "run", epochs=1)
    assert "part loss is off" not in completed.stderr and summary["loss"]["part_loss_weight"] > 0


def test_a_classification_batch_larger_than_the_set_is_told_one_that_trains(tmp_path, capsys):
    from test_train_classification import write_cifar100

    write_cifar100(tmp_path / "cifar" / "cifar-100-python")  # 16 training images
    argv = ["--recipe", "cifar100", "--data-dir", str(tmp_path / "cifar"), "--cache-dir", str(tmp_path / "cache"),
            "--output-dir", str(tmp_path / "run"), "--model.architecture", "iaunet_resnet18", "--train.epochs", "1",
            "--train.max_steps_per_epoch", "1", "--data.num_workers", "0", "--data.eval_batch_size", "8"]  # fmt: skip
    capsys.readouterr()
    assert main([*argv, "--data.batch_size", "32"]) == 2
    proposed = re.search(r"lower --data.batch_size to at most (\d+)", error_line(capsys)).group(1)
    assert_finished(run_train([*argv, "--data.batch_size", proposed], tmp_path), tmp_path / "run", epochs=1)


def test_an_ambiguous_override_is_told_spellings_that_work(tmp_path, capsys):
    capsys.readouterr()
    assert main(["--recipe", "synthetic", "--every_epochs", "2", "--print-config"]) == 2
    spellings = re.findall(r"(--\w+\.every_epochs)", error_line(capsys))
    assert sorted(spellings) == ["--checkpoint.every_epochs", "--eval.every_epochs"]
    for spelling in spellings:
        completed = run_train(["--recipe", "synthetic", spelling, "2", "--print-config"], tmp_path)
        assert completed.returncode == 0, completed.stderr


def test_the_common_overrides_of_the_help_text_are_accepted(tmp_path, capsys):
    # the epilog of --help: --data-dir, --output-dir, --mixed-precision, --epochs, --optimizer.lr,
    # --model.iau_stages, --model.pretrained_file (spelled as in the docs)
    assert "--model.pretrained_file FILE" in " ".join(build_parser().epilog.split())
    argv = ["--recipe", "synthetic", "--data-dir", "d", "--output-dir", "o", "--mixed-precision", "bf16",
            "--epochs", "3", "--optimizer.lr", "1e-4", "--model.iau_stages", "[2]",
            "--model.pretrained_file", "w.safetensors", "--print-config"]  # fmt: skip
    capsys.readouterr()
    assert main(argv) == 0
    printed = capsys.readouterr().out
    for expected in ("data_dir: d", "output_dir: o", "mixed_precision: bf16", "epochs: 3", "lr: 0.0001",
                     "pretrained_file: w.safetensors"):  # fmt: skip
        assert expected in printed
