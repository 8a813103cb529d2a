"""The synthetic set: deterministic, Market/DukeMTMC-VideoReID layouts, exact masks, protocol splits."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from iaunet_hf.data import load_reid_dataset, write_synthetic_reid
from iaunet_hf.data.part_masks import PART_NAMES, masks_from_image

SMALL = {
    "num_train_ids": 6,
    "num_test_ids": 4,
    "num_cameras": 3,
    "images_per_camera": 3,
    "num_distractors": 3,
    "num_junk": 2,
    "height": 64,
    "width": 32,
}


def file_digest(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_files_other_seed_other_images(tmp_path: Path):
    first = file_digest(write_synthetic_reid(tmp_path / "a", seed=3, **SMALL))
    second = file_digest(write_synthetic_reid(tmp_path / "b", seed=3, **SMALL))
    other = file_digest(write_synthetic_reid(tmp_path / "c", seed=4, **SMALL))
    assert first == second
    assert len(first) == len(other)
    assert first != other


def test_layout_names_and_counts(tmp_path: Path):
    root = write_synthetic_reid(tmp_path, seed=0, **SMALL)
    train = sorted(p.name for p in (root / "bounding_box_train").iterdir())
    assert len(train) == 6 * 3 * 3
    assert all(re.fullmatch(r"\d{4}_c[1-3]s1_\d{6}_00\.jpg", name) for name in train)
    query = [p.name for p in (root / "query").iterdir()]
    assert Counter(name[:7] for name in query) == Counter(
        {f"{pid:04d}_c{c}": 1 for pid in range(13, 17) for c in (1, 2, 3)}
    )
    gallery = [p.name for p in (root / "bounding_box_test").iterdir()]
    assert sum(name.startswith("0000_") for name in gallery) == 3
    assert sum(name.startswith("-1_") for name in gallery) == 2
    assert Image.open(root / "bounding_box_train" / train[0]).size == (32, 64)


def test_masks_are_exact_and_anatomical(tmp_path: Path):
    root = write_synthetic_reid(tmp_path, seed=1, **SMALL)
    stems = sorted(p.stem for p in (root / "bounding_box_train").iterdir())
    assert sorted(p.name for p in (root / "part_masks").iterdir()) == stems
    centres = []
    for stem in stems:
        masks = np.stack(
            [np.asarray(Image.open(root / "part_masks" / stem / f"{n}.png")) for n in PART_NAMES]
        )
        assert set(np.unique(masks)) <= {0, 255}
        assert (masks > 0).sum(axis=0).max() <= 1  # parts never overlap
        visible = [(m > 0).any() for m in masks]
        if all(visible):
            centres.append([np.nonzero(m)[0].mean() for m in masks])
    assert len(centres) >= len(stems) // 2
    # head above upper body above lower body above shoes, in every fully visible person
    assert all(c[0] < c[1] < c[2] < c[3] for c in centres)


def test_load_synthetic_protocol(tmp_path: Path, cache_dir: Path):
    write_synthetic_reid(tmp_path, seed=0, **SMALL)
    dataset = load_reid_dataset("synthetic", tmp_path, cache_dir=cache_dir)
    train = dataset["train"]
    assert train.num_rows == 54 and sorted(set(train["label"])) == list(range(6))
    assert sorted(set(train["pid"])) == [1, 3, 5, 7, 9, 11]
    assert dataset["query"].num_rows == 12
    assert Counter(dataset["gallery"]["pid"])[0] == 3 and -1 not in dataset["gallery"]["pid"]
    assert dataset["gallery"].num_rows == 4 * 3 * 2 + 3
    masks = masks_from_image(train[0]["part_masks"])
    assert masks.shape == (4, 64, 32) and masks.sum() > 0


def test_generated_on_first_load_and_tracklets(tmp_path: Path, cache_dir: Path):
    dataset = load_reid_dataset("synthetic", tmp_path / "fresh", cache_dir=cache_dir)
    assert dataset["train"].num_rows == 32 * 4 * 4  # the defaults
    with pytest.raises(FileNotFoundError, match=r"synthetic: .*without tracklets"):
        load_reid_dataset("synthetic", tmp_path / "fresh", cache_dir=cache_dir, video=True)


def test_tracklets_in_videoreid_layout(tmp_path: Path, cache_dir: Path):
    write_synthetic_reid(tmp_path, seed=2, tracklets=True, tracklet_length=(3, 5), **SMALL)
    dataset = load_reid_dataset("synthetic", tmp_path, cache_dir=cache_dir, video=True)
    train = dataset["train"]
    assert train.num_rows == 6 * 3 and dataset["query"].num_rows == 4 and dataset["gallery"].num_rows == 4 * 2
    frames = [int(re.search(r"_F(\d+)_", p).group(1)) for p in train[0]["frame_paths"]]
    assert frames == list(range(frames[0], frames[0] + len(frames))) and 3 <= len(frames) <= 5
    assert len(train[0]["part_masks"]) == len(frames)
    assert masks_from_image(train[0]["part_masks"][0]).shape == (4, 64, 32)


def test_context_mode_is_deterministic_and_differs_from_standard(tmp_path: Path):
    context = dict(SMALL, num_test_ids=4, num_train_ids=6, mode="context")
    first = file_digest(write_synthetic_reid(tmp_path / "a", seed=5, **context))
    second = file_digest(write_synthetic_reid(tmp_path / "b", seed=5, **context))
    other_seed = file_digest(write_synthetic_reid(tmp_path / "c", seed=6, **context))
    standard = file_digest(write_synthetic_reid(tmp_path / "d", seed=5, **SMALL))
    assert first == second
    # the same layout as the standard mode: identical folders and file counts
    assert Counter(name.rsplit("/", 1)[0] for name in first) == Counter(
        name.rsplit("/", 1)[0] for name in standard
    )
    assert first != other_seed and first != standard


@pytest.mark.parametrize("num_train_ids, num_test_ids", [(4, 4), (6, 5), (48, 32), (120, 60)])
def test_context_identities_differ_only_in_the_combination(num_train_ids: int, num_test_ids: int):
    from iaunet_hf.data.synthetic_people import CONTEXT_PARTS, make_context_identities

    train_pids = list(range(1, num_train_ids + 1))
    test_pids = list(range(100, 100 + num_test_ids))
    identities = make_context_identities(np.random.default_rng(0), train_pids, test_pids)
    assert [i.pid for i in identities] == train_pids + test_pids
    combos = [tuple(getattr(i, part) for part in CONTEXT_PARTS) for i in identities]
    assert len(set(combos)) == len(combos)  # every identity is a distinct combination, across splits too
    for split in (combos[:num_train_ids], combos[num_train_ids:]):
        for part in range(len(CONTEXT_PARTS)):
            # no single part's colour identifies anyone within its split
            assert min(Counter(combo[part] for combo in split).values()) >= 2
    again = make_context_identities(np.random.default_rng(0), train_pids, test_pids)
    assert again == identities


def test_context_masks_exact_and_images_load(tmp_path: Path, cache_dir: Path):
    root = write_synthetic_reid(tmp_path, seed=1, mode="context", **SMALL)
    dataset = load_reid_dataset("synthetic", root, cache_dir=cache_dir)
    assert dataset["train"].num_rows == 54 and dataset["query"].num_rows == 12
    sample = dataset["train"][0]
    masks = masks_from_image(sample["part_masks"])
    pixels = np.asarray(sample["image"].convert("RGB"), dtype=np.float32)
    assert masks.shape == (4, 64, 32) and (masks.sum(axis=0) <= 1).all()
    visible = [m > 0 for m in masks if (m > 0).sum() > 4]
    # each visible part is painted in (a camera-cast version of) one flat palette colour
    assert all(pixels[m].std(axis=0).max() < 40 for m in visible[1:])


@pytest.mark.reliability
def test_context_mode_rejects_impossible_requests(tmp_path: Path):
    with pytest.raises(ValueError, match="mode is 'other'"):
        write_synthetic_reid(tmp_path / "a", mode="other", **SMALL)
    with pytest.raises(ValueError, match=">= 4 train and >= 4 test"):
        write_synthetic_reid(tmp_path / "b", mode="context", **dict(SMALL, num_test_ids=3))
    with pytest.raises(ValueError, match="256 combinations"):
        write_synthetic_reid(
            tmp_path / "c", mode="context", **dict(SMALL, num_train_ids=200, num_test_ids=60)
        )
