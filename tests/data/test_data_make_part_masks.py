"""make_part_masks: a tiny randomly initialised Segformer with LIP labels parses a small split."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerImageProcessor

from iaunet_hf.data import load_reid_dataset, write_synthetic_reid
from iaunet_hf.data.mask_generation import compute_part_masks
from iaunet_hf.data.part_masks import PART_NAMES

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_part_masks.py"
LIP_LABELS = [
    "Background", "Hat", "Hair", "Glove", "Sunglasses", "Upper-clothes", "Dress", "Coat", "Socks", "Pants",
    "Jumpsuits", "Scarf", "Skirt", "Face", "Left-arm", "Right-arm", "Left-leg", "Right-leg", "Left-shoe", "Right-shoe",
]  # fmt: skip


@pytest.fixture(scope="module")
def tiny_parser(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny_lip_parser")
    config = SegformerConfig(
        num_encoder_blocks=1,
        depths=[1],
        sr_ratios=[1],
        hidden_sizes=[8],
        patch_sizes=[3],
        strides=[2],
        num_attention_heads=[1],
        mlp_ratios=[1],
        decoder_hidden_size=8,
        id2label=dict(enumerate(LIP_LABELS)),
        label2id={name: i for i, name in enumerate(LIP_LABELS)},
    )
    SegformerForSemanticSegmentation(config).save_pretrained(folder)
    SegformerImageProcessor(size={"height": 32, "width": 16}).save_pretrained(folder)
    return folder


@pytest.fixture
def small_market(tmp_path: Path) -> Path:
    return write_synthetic_reid(
        tmp_path / "synthetic",
        num_train_ids=3,
        num_test_ids=2,
        num_cameras=2,
        images_per_camera=2,
        height=48,
        width=24,
    )


def test_compact_masks_for_a_split_and_resume(
    tiny_parser: Path, small_market: Path, tmp_path: Path, cache_dir: Path
):
    output = tmp_path / "masks"
    counts = compute_part_masks(str(tiny_parser), "market1501", small_market, output, batch_size=5)
    assert counts == {"written": 12, "skipped": 0}
    files = sorted((output / "bounding_box_train").glob("*.png"))
    assert [f.stem for f in files] == sorted(p.stem for p in (small_market / "bounding_box_train").iterdir())
    label_map = np.asarray(Image.open(files[0]))
    assert label_map.shape == (48, 24) and label_map.max() <= 4
    files[0].unlink()
    assert compute_part_masks(str(tiny_parser), "market1501", small_market, output) == {
        "written": 1,
        "skipped": 11,
    }
    dataset = load_reid_dataset("market1501", small_market, cache_dir=cache_dir, mask_dir=str(output))
    assert dataset["train"][0]["part_masks"].size == (24, 48)


def test_cli_writes_official_layout(
    tiny_parser: Path, small_market: Path, tmp_path: Path, monkeypatch, capsys
):
    output = tmp_path / "official"
    argv = [
        str(SCRIPT),
        "--model",
        str(tiny_parser),
        "--dataset",
        "market1501",
        "--data-dir",
        str(small_market),
    ]
    argv += ["--output", str(output), "--split", "query", "--layout", "official", "--batch-size", "3"]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(SCRIPT), run_name="__main__")
    assert "wrote masks for 4 image(s), skipped 0" in capsys.readouterr().out
    folders = sorted((output / "query").iterdir())
    assert len(folders) == 4
    assert sorted(p.name for p in folders[0].iterdir()) == sorted(f"{n}.png" for n in PART_NAMES)
    masks = np.stack([np.asarray(Image.open(folders[0] / f"{n}.png")) for n in PART_NAMES])
    assert set(np.unique(masks)) <= {0, 255} and (masks > 0).sum(axis=0).max() <= 1


def test_bad_split_and_layout(tiny_parser: Path, small_market: Path, tmp_path: Path):
    with pytest.raises(ValueError, match=r"market1501: no split 'val'; expected one of"):
        compute_part_masks(str(tiny_parser), "market1501", small_market, tmp_path / "m", split="val")
    with pytest.raises(ValueError, match=r"layout is 'png'; expected one of"):
        compute_part_masks(str(tiny_parser), "market1501", small_market, tmp_path / "m", layout="png")


def test_per_frame_masks_for_tracklets(tiny_parser: Path, tmp_path: Path, cache_dir: Path):
    root = write_synthetic_reid(
        tmp_path / "synthetic",
        num_train_ids=2,
        num_test_ids=2,
        num_cameras=2,
        images_per_camera=2,
        height=48,
        width=24,
        tracklets=True,
        tracklet_length=(2, 3),
    )
    video_root = root / "DukeMTMC-VideoReID"
    output = tmp_path / "frame_masks"
    counts = compute_part_masks(str(tiny_parser), "dukemtmc_videoreid", video_root, output)
    num_frames = len(list((video_root / "train").rglob("*.jpg")))
    assert counts == {"written": num_frames, "skipped": 0}
    dataset = load_reid_dataset("dukemtmc_videoreid", video_root, cache_dir=cache_dir, mask_dir=str(output))
    first = dataset["train"][0]
    assert len(first["part_masks"]) == len(first["frames"])


def test_cli_passes_builder_options_such_as_a_folder_name_pattern(
    tiny_parser: Path, small_market: Path, tmp_path: Path, monkeypatch, capsys
):
    # the same images, named the way a user's own set might be: "person0003-view1-....jpg"
    root = tmp_path / "my_set"
    for split, source in (
        ("train", "bounding_box_train"),
        ("query", "query"),
        ("gallery", "bounding_box_test"),
    ):
        (root / split).mkdir(parents=True)
        for image in sorted((small_market / source).glob("*.jpg")):
            pid, camera = image.stem.split("_")[:2]
            (root / split / f"person{pid}-view{camera[1:]}-{image.name}").write_bytes(image.read_bytes())
    argv = [str(SCRIPT), "--model", str(tiny_parser), "--dataset", "folder", "--data-dir", str(root)]
    argv += ["--output", str(tmp_path / "masks"), "--data.name_pattern", r"person([-\d]+)-view(\d)"]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(SCRIPT), run_name="__main__")
    assert "wrote masks for 12 image(s)" in capsys.readouterr().out
    assert len(list((tmp_path / "masks" / "train").glob("*.png"))) == 12

    # an option the builder does not have is refused, naming it
    monkeypatch.setattr(sys, "argv", [*argv[:-2], "--data.name_patern", "x"])
    with pytest.raises(SystemExit):
        runpy.run_path(str(SCRIPT), run_name="__main__")
    assert "--data.name_patern" in capsys.readouterr().err
