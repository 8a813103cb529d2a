"""Every shipped row of the paper's Tables VII, VIII and X builds the network it names and trains a step."""

from __future__ import annotations

import pytest
import torch

from iaunet_hf.data import load_reid_dataset
from iaunet_hf.training import Trainer, load_config
from iaunet_hf.training.recipes import ABLATIONS_DIR

ROWS = [
    name
    for name in sorted(p.stem for p in ABLATIONS_DIR.glob("*.yaml"))
    if (config := load_config(name)).base in ("market1501", "mars")
    and config.paper_row.startswith(("Table VII:", "Table VIII:", "Table X:"))
    and config.model.architecture in ("iaunet_resnet50", "iaunet_resnet50_video")
    and "sia" not in config.model.options.get("iau_modules", ())
]
# The row's IAU options on a ResNet-18 (the real depth is checked by parameter counts in test_train_config).
TINY = {
    "model.architecture": "iaunet_resnet18",
    "data.dataset": "synthetic",
    "model.pretrained": False,
    "data.height": 64,
    "data.width": 32,
    "data.batch_size": 8,
    "data.num_workers": 0,
    "train.max_steps_per_epoch": 1,
}


@pytest.fixture(scope="module")
def tiny_sets(tiny_synthetic_dirs, tiny_tracklet_dirs):
    images, tracklets = tiny_synthetic_dirs, tiny_tracklet_dirs
    return {
        "market1501": load_reid_dataset("synthetic", images[0], cache_dir=images[1]),
        "mars": load_reid_dataset("synthetic", tracklets[0], cache_dir=tracklets[1], video=True),
    }


def test_every_row_of_tables_vii_viii_and_x_has_a_recipe():
    assert len(ROWS) == 20


@pytest.mark.parametrize("row", ROWS)
def test_the_row_builds_the_network_it_names_and_trains_a_step(row, tiny_sets, tmp_path):
    config = load_config(row, {**TINY, "checkpoint.output_dir": str(tmp_path / "run")})
    trainer = Trainer(config, tiny_sets[config.base])
    model = trainer.accelerator.unwrap_model(trainer.model)
    options, built = config.model.options, model.config
    assert built.iau_stages == list(options["iau_stages"])
    assert len(model.iaunet.network.iau) == len(options["iau_stages"])
    for name in ("iau_modules", "iau_arrangement", "stiau_context"):
        if name in options and options["iau_stages"]:
            assert getattr(built, name) == options[name], name
    assert built.part_loss_weight == config.loss.part_loss_weight
    losses = trainer.train_step(next(iter(trainer.train_loader)))
    assert torch.isfinite(losses["loss"])
    # the part loss trains the STIAU's part attention: on for rows that have one (and L_p), off otherwise
    has_stiau = bool(options["iau_stages"]) and "stiau" in options.get("iau_modules", ["ciau", "stiau"])
    assert trainer.part_masks_used == ("part" in losses) == (has_stiau and config.loss.part_loss_weight > 0)
    assert trainer.loss_settings()["part_loss_weight"] == (0.5 if trainer.part_masks_used else 0.0)
