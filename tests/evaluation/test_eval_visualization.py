"""Rank strips, attention overlays and relation plots, and the two visualisation scripts end to end."""

import runpy
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from PIL import Image

from iaunet_hf import IAUnetConfig, IAUnetModel
from iaunet_hf.evaluation.visualization import (
    CORRECT_COLOUR,
    WRONG_COLOUR,
    attention_overlay,
    attention_overlay_grid,
    rank_strip,
    ranked_gallery,
    relation_figure,
    split_part_relation,
)

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def test_ranked_gallery_skips_same_camera_matches():
    distances = np.array([0.05, 0.3, 0.1, 0.2])
    order, correct = ranked_gallery(
        distances, q_pid=7, q_camid=0, g_pids=[7, 7, 3, 7], g_camids=[0, 1, 1, 2], topk=5
    )
    assert order == [2, 3, 1]  # index 0 is the same pid seen by the same camera
    assert correct == [False, True, True]


def test_rank_strip_borders_say_right_or_wrong():
    query = Image.new("RGB", (32, 64), (128, 128, 128))
    gallery = [Image.new("RGB", (32, 64), (128, 128, 128)) for _ in range(3)]
    strip = rank_strip(query, gallery, [True, False, True], size=(64, 32), border=4, gap=12)
    tile_width = 32 + 8
    pixels = np.asarray(strip)
    top = 14 + 1  # below the label row, inside the border
    for position, expected in ((1, CORRECT_COLOUR), (2, WRONG_COLOUR), (3, CORRECT_COLOUR)):
        left = position * (tile_width + 2) + 12
        assert tuple(pixels[top, left + 1]) == expected
    assert strip.size == (4 * (tile_width + 2) + 12, 64 + 8 + 14)
    with pytest.raises(ValueError, match="correct: expected one flag per gallery image"):
        rank_strip(query, gallery, [True])


def test_attention_overlay_is_hot_where_attention_is_high():
    image = Image.new("RGB", (32, 64), (0, 0, 0))
    attention = torch.zeros(16, 8)
    attention[:4] = 1.0  # the top quarter (the head)
    overlay = np.asarray(attention_overlay(image, attention, alpha=1.0)).astype(int)
    assert overlay[2, 16, 0] > 100 and overlay[2, 16, 2] < 50  # red on top
    assert overlay[60, 16, 2] > 100 and overlay[60, 16, 0] < 50  # blue at the bottom
    grid = attention_overlay_grid(image, [torch.rand(4, 16, 8), torch.rand(4, 8, 4)], size=(64, 32))
    assert grid.size == (5 * 36, 2 * (64 + 14 + 4))


def test_split_part_relation_separates_spatial_and_temporal_entries():
    num_frames, num_parts = 3, 4
    relation = torch.arange(144.0).reshape(12, 12)  # node index = t * N + n
    split = split_part_relation(relation, num_frames, num_parts)
    assert split["spatial"].shape == (3, 4, 4) and split["temporal"].shape == (4, 3, 3)
    assert split["spatial"][1, 2, 3] == relation[1 * 4 + 2, 1 * 4 + 3]
    assert split["temporal"][2, 0, 1] == relation[0 * 4 + 2, 1 * 4 + 2]
    figure = relation_figure(torch.rand(4, 4), "test", ["a", "b", "c", "d"])
    assert figure.mode == "RGB" and min(figure.size) > 100


@pytest.fixture(scope="module")
def small_model_dir(tmp_path_factory):
    torch.manual_seed(0)
    model = IAUnetModel(IAUnetConfig(depth=18, image_size=[64, 32]))
    folder = tmp_path_factory.mktemp("model") / "iaunet"
    model.save_pretrained(folder)
    return folder


def test_visualize_ranks_script_writes_strips(tmp_path, small_model_dir, tiny_synthetic_dirs):
    data_dir, _ = tiny_synthetic_dirs
    script = runpy.run_path(str(SCRIPTS / "visualize_ranks.py"), run_name="script")
    written = script["main"](
        [
            "--model",
            str(small_model_dir),
            "--dataset",
            "synthetic",
            "--data-dir",
            str(data_dir),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--queries",
            "0",
            "2",
            "--topk",
            "4",
            "--output-dir",
            str(tmp_path / "ranks"),
        ]
    )
    assert len(written) == 2
    strip = Image.open(written[0])
    # query + 4 ranked images side by side: tiles of 64 + 2 * 4 pixels, 2 apart, a 12-pixel gap after the query
    assert strip.format == "PNG" and strip.size == (5 * (64 + 8 + 2) + 12, 128 + 8 + 14)


def test_visualize_attention_script_for_images_and_a_clip(tmp_path):
    torch.manual_seed(0)
    model = timm.create_model("iaunet_resnet18", num_classes=0)
    model_dir = tmp_path / "model"
    IAUnetModel.from_timm(model, IAUnetConfig(depth=18, image_size=[64, 32])).save_pretrained(model_dir)
    frames = []
    for index in range(3):
        path = tmp_path / f"0001_C1_F{index:04d}_X00001.jpg"
        Image.fromarray(np.random.default_rng(index).integers(0, 255, (64, 32, 3), dtype=np.uint8)).save(path)
        frames.append(str(path))
    script = runpy.run_path(str(SCRIPTS / "visualize_attention.py"), run_name="script")
    images = script["main"](
        ["--model", str(model_dir), "--images", *frames[:2], "--output-dir", str(tmp_path / "images")]
    )
    names = {path.name for path in images}
    assert {
        "0001_C1_F0000_X00001_attention.png",
        "stage2_part_relation.png",
        "stage3_channel_relation.png",
    } <= names
    clip = script["main"](
        ["--model", str(model_dir), "--frames", *frames, "--output-dir", str(tmp_path / "clip")]
    )
    assert "stage2_temporal_relation_part0.png" in {path.name for path in clip}
    assert all(Image.open(path).format == "PNG" for path in clip)
    with pytest.raises(FileNotFoundError, match="input images not found"):
        script["main"](["--model", str(model_dir), "--images", str(tmp_path / "missing.jpg")])


def test_attention_rows_are_labelled_with_the_stage_they_follow():
    import timm

    from iaunet_hf.evaluation.visualization import iau_stage_numbers, part_attention_stage_labels

    assert part_attention_stage_labels(timm.create_model("iaunet_resnet18")) == [
        "after stage 2",
        "after stage 3",
    ]
    assert part_attention_stage_labels(timm.create_model("iaunet_resnet50_video")) == ["after stage 2"]
    ciau_only = timm.create_model("iaunet_resnet18", iau_modules=("ciau",))
    assert part_attention_stage_labels(ciau_only) == [] and iau_stage_numbers(ciau_only) == [2, 3]
