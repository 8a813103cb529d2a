"""The README's first command, shortened: scripts/demo.py runs end to end and writes what it announces."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from PIL import Image

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
        assert {"model.safetensors", "config.json", "preprocessor_config.json", "README.md"} <= {
            p.name for p in model_dir.iterdir()
        }
        assert "eval/rerank/mAP" in summary[name]["metrics"]
    assert json.loads((tmp_path / "demo_results.json").read_text())["chance"]["eval/mAP"] > 0
    baseline_config = json.loads((Path(summary["baseline"]["model_dir"]) / "config.json").read_text())
    assert baseline_config["iau_stages"] == []
    pictures = sorted((tmp_path / "rank_lists").glob("*.png")) + sorted(
        (tmp_path / "attention_maps").glob("*.png")
    )
    assert len(pictures) == 2 and all(Image.open(p).size[0] > 100 for p in pictures)
    assert (tmp_path / "gallery_index").is_dir()
