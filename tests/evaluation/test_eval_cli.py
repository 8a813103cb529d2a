"""``iaunet-eval`` end to end on tiny sets and a save_pretrained folder: the results file, cross-domain, errors."""

import pytest
import torch
from reid_folder_set import CUSTOM_NAME_PATTERN, write_custom_named_folder_set
from transformers import AutoModel

from iaunet_hf import IAUnetConfig, IAUnetModel
from iaunet_hf.data import load_reid_dataset
from iaunet_hf.evaluation import evaluate_model
from iaunet_hf.evaluation.cli import main
from iaunet_hf.evaluation.results import CMC_RANKS, read_results


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_synthetic_dirs):
    """A folder with an untrained saved model, links to the session's tiny synthetic set and its cache, and the
    same images as a custom-named ``folder`` set."""
    root = tmp_path_factory.mktemp("cli")
    torch.manual_seed(0)
    IAUnetModel(IAUnetConfig(depth=18, image_size=[64, 32])).save_pretrained(root / "model")
    data_dir, cache_dir = tiny_synthetic_dirs
    (root / "data").symlink_to(data_dir, target_is_directory=True)
    (root / "cache").symlink_to(cache_dir, target_is_directory=True)
    write_custom_named_folder_set(data_dir, root / "custom")
    return root


def run(setup, *argv):
    common = ["--model", str(setup / "model"), "--cache-dir", str(setup / "cache"), "--device", "cpu"]
    return main([*common, *argv])


def test_cli_prints_the_table_and_writes_a_results_file(setup, capsys):
    output = setup / "results.json"
    argv = ["--dataset", "synthetic", "--data-dir", str(setup / "data"), "--flip", "--output", str(output)]
    assert run(setup, *argv) == 0
    printed = capsys.readouterr().out
    document = read_results(output)
    (entry,) = document["results"]
    model = AutoModel.from_pretrained(setup / "model")
    dataset = load_reid_dataset("synthetic", setup / "data", cache_dir=setup / "cache")
    expected = evaluate_model(model, dataset, flip=True, progress=False)
    assert entry["metrics"]["mAP"] == pytest.approx(100 * expected["mAP"], abs=1e-4)
    assert [entry["metrics"][f"rank-{r}"] for r in CMC_RANKS] == pytest.approx(
        [100 * expected["cmc"][r - 1] for r in CMC_RANKS]
    )
    assert entry["counts"] == {"num_query": 6, "num_gallery": len(dataset["gallery"]), "num_valid_queries": 6}
    assert entry["settings"]["flip"] and entry["settings"]["image_size"] == [64, 32]
    assert (entry["dataset"], entry["dataset_type"], document["model"]) == (
        "synthetic",
        "custom",
        str(setup / "model"),
    )
    assert "+flip" in printed and "rank-20" in printed and f"{entry['metrics']['mAP']:7.2f}" in printed


def test_several_datasets_give_a_cross_domain_table_and_one_file(setup, capsys):
    """The same images as a Market-1501 tree and as a custom-named folder set: two rows, equal numbers."""
    output = setup / "cross.json"
    argv = ["--dataset", "market1501,folder", "--data-dir", str(setup / "data"), str(setup / "custom"),
            "--data.name_pattern", CUSTOM_NAME_PATTERN, "--output", str(output)]  # fmt: skip
    assert run(setup, *argv) == 0
    printed = capsys.readouterr().out
    market, folder = read_results(output)["results"]
    assert (market["dataset"], folder["dataset"], folder["dataset_type"]) == (
        "market1501",
        "folder",
        "custom",
    )
    assert folder["settings"]["data_options"] == {"name_pattern": CUSTOM_NAME_PATTERN}
    assert "data_options" not in market["settings"]  # the Market-1501 builder has no name_pattern
    assert folder["counts"] == market["counts"]
    assert folder["metrics"] == pytest.approx(market["metrics"])
    assert "cross-domain" in printed
    header = next(line for line in printed.splitlines() if line.startswith("dataset"))
    assert header.split()[2:] == ["mAP", "rank-1", "mINP"]
    rows = [line for line in printed.splitlines() if line.startswith(("market1501 ", "folder "))]
    assert len(rows) == 2


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dataset", "market1501", "--data-dir", "nowhere"], "--data-dir: nowhere does not exist"),
        (["--dataset", "market1502", "--data-dir", "."], "unknown dataset(s) ['market1502']"),
        (["--dataset", "synthetic", "--data-dir", "DATA", "--data.no_such_option", "1"], "unknown option"),
        (["--dataset", "synthetic", "--data-dir", "DATA", "--data.name_pattern"], "expected a value"),
        (["--dataset", "synthetic,folder", "--data-dir", "DATA", "DATA", "DATA"], "3 folders for 2 datasets"),
        (
            ["--dataset", "synthetic", "--data-dir", "DATA", "--rerank-candidates", "bf16"],
            "bf16 needs --rerank",
        ),
    ],
)
def test_user_errors_are_one_line_and_exit_2(setup, capsys, argv, message):
    argv = [str(setup / "data") if arg == "DATA" else arg for arg in argv]
    assert run(setup, *argv, "--output", str(setup / "unused.json")) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1 and error.startswith("iaunet-eval: error:")
    assert not (setup / "unused.json").exists()


def test_without_output_nothing_is_written(setup, capsys, tmp_path, monkeypatch):
    """Issue 26: no --output used to write ./eval_results.json silently, over any file there."""
    monkeypatch.chdir(tmp_path)
    existing = tmp_path / "eval_results.json"
    existing.write_text('{"mine": true}\n')
    assert run(setup, "--dataset", "synthetic", "--data-dir", str(setup / "data")) == 0
    printed = capsys.readouterr().out
    assert existing.read_text() == '{"mine": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval_results.json"]
    assert "rank-1" in printed and "no results file written (pass --output FILE)" in printed
