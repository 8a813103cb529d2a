"""The README's first command, shortened: scripts/demo.py runs end to end and writes what it announces."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from PIL import Image

from iaunet_hf.evaluation.results import read_results, validate_results

DEMO = Path(__file__).resolve().parents[2] / "scripts" / "demo.py"


def test_demo_runs_end_to_end(tmp_path):
    spec = importlib.util.spec_from_file_location("iaunet_demo", DEMO)
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    summary = demo.main(
        ["--output-dir", str(tmp_path), "--epochs", "1", "--max-steps-per-epoch", "1", "--num-queries", "1"]
    )

    assert summary["reload"]["max_abs_difference"] <= 1e-4 and summary["reload"]["embedding_dim"] == 512
    for name in ("IAUnet", "baseline"):
        model_dir = Path(summary[name]["model_dir"])
        files = {
            "model.safetensors",
            "config.json",
            "preprocessor_config.json",
            "README.md",
            "eval_results.json",
        }
        assert files | {"training_summary.json"} <= {p.name for p in model_dir.iterdir()}
        entries = summary[name]["results"]["results"]
        assert [entry["settings"]["rerank"] for entry in entries] == [False, True]
        assert read_results(model_dir / "eval_results.json") == summary[name]["results"]
    written = json.loads((tmp_path / "demo_results.json").read_text())
    for name in ("IAUnet", "baseline", "untrained", "chance"):
        validate_results(written[name]["results"], where=name)  # the package's one results format
    assert written["chance"]["results"]["results"][0]["metrics"]["mAP"] > 0
    baseline_config = json.loads((Path(summary["baseline"]["model_dir"]) / "config.json").read_text())
    assert baseline_config["iau_stages"] == []
    pictures = sorted((tmp_path / "rank_lists").glob("*.png")) + sorted(
        (tmp_path / "attention_maps").glob("*.png")
    )
    assert len(pictures) == 2 and all(Image.open(p).size[0] > 100 for p in pictures)
    assert (tmp_path / "gallery_index").is_dir()
