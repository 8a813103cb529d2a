"""The video recipes' path on synthetic tracklets: 4-frame clips in, one embedding per tracklet out."""

from __future__ import annotations

import json

from iaunet_hf.data import load_reid_dataset
from iaunet_hf.training import Trainer, load_config


def test_video_recipe_trains_on_clips_and_evaluates_tracklets(tmp_path, tiny_tracklet_dirs):
    data_dir, cache_dir = tiny_tracklet_dirs
    dataset = load_reid_dataset("synthetic", data_dir, cache_dir=cache_dir, video=True)
    config = load_config(
        "mars",
        {
            "checkpoint.output_dir": str(tmp_path / "run"),
            "data.dataset": "synthetic",
            "model.architecture": "iaunet_resnet18",
            "model.pretrained": False,
            "data.height": 64,
            "data.width": 32,
            "data.batch_size": 8,
            "data.eval_batch_size": 8,
            "data.num_workers": 0,
            "train.epochs": 1,
            "train.max_steps_per_epoch": 1,
            "eval.every_epochs": 0,
            "eval.rerank": False,
        },
    )
    trainer = Trainer(config, dataset)
    batch = next(iter(trainer.train_loader))
    assert tuple(batch["pixel_values"].shape) == (8, 4, 3, 64, 32)  # (B, T, 3, H, W) clips
    assert tuple(batch["part_masks"].shape) == (8, 4, 4, 64, 32)  # one mask set per frame
    result = trainer.train()
    assert "train/part" in result.history[0]
    assert 0.0 <= result.metrics["eval/mAP"] <= 100.0
    saved = json.loads((result.model_dir / "config.json").read_text())
    assert saved["num_frames"] == 4 and saved["iau_stages"] == [2]
