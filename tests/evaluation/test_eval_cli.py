"""``iaunet-eval`` end to end on a synthetic set and a save_pretrained folder."""

import json

import pytest
import torch
from transformers import AutoModel

from iaunet_hf import IAUnetConfig, IAUnetModel
from iaunet_hf.data import load_reid_dataset
from iaunet_hf.evaluation import evaluate_model
from iaunet_hf.evaluation.cli import main


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_synthetic_dirs):
    """A folder with an untrained saved model, and links to the session's tiny synthetic set and its cache."""
    root = tmp_path_factory.mktemp("cli")
    torch.manual_seed(0)
    IAUnetModel(IAUnetConfig(depth=18, image_size=[64, 32])).save_pretrained(root / "model")
    data_dir, cache_dir = tiny_synthetic_dirs
    (root / "data").symlink_to(data_dir, target_is_directory=True)
    (root / "cache").symlink_to(cache_dir, target_is_directory=True)
    return root


def test_cli_prints_the_table_and_writes_json(setup, capsys):
    output = setup / "results.json"
    argv = [
        "--model",
        str(setup / "model"),
        "--dataset",
        "synthetic",
        "--data-dir",
        str(setup / "data"),
        "--cache-dir",
        str(setup / "cache"),
        "--flip",
        "--output",
        str(output),
        "--device",
        "cpu",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "mAP" in printed and "R20" in printed and "+flip" in printed
    record = json.loads(output.read_text())
    model = AutoModel.from_pretrained(setup / "model")
    expected = evaluate_model(
        model,
        load_reid_dataset("synthetic", setup / "data", cache_dir=setup / "cache"),
        flip=True,
        progress=False,
    )
    assert record["mAP"] == pytest.approx(expected["mAP"], abs=1e-6)
    assert record["rank-1"] == pytest.approx(expected["cmc"][0])
    assert record["num_query"] == 6 and record["num_valid_queries"] == 6
    assert f"{100 * record['mAP']:6.2f}" in printed


def test_cli_reports_a_missing_data_folder(setup):
    with pytest.raises(FileNotFoundError, match="--data-dir"):
        main(
            ["--model", str(setup / "model"), "--dataset", "market1501", "--data-dir", str(setup / "nowhere")]
        )
