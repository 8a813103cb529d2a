"""CUHK03 on fixtures in the released formats: an HDF5 (v7.3) cuhk-03.mat written with h5py and
new-protocol config files written as MATLAB v5 .mat files."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from iaunet_hf.data import load_reid_dataset

h5py = pytest.importorskip("h5py")

PERSONS_PER_PAIR = (3, 2)  # two camera pairs (the release has five)
EMPTY_CELLS = {(0, 2, 7), (0, 2, 8), (0, 2, 9), (1, 0, 3)}  # (pair, person, image) left empty
KIND_VALUE = {"labeled": 40, "detected": 200}


def image_array(kind: str, pair: int, person: int, index: int) -> np.ndarray:
    """(H, W, 3) uint8 content identifying the cell, so extraction can be checked pixel for pixel."""
    array = np.full((8, 6, 3), KIND_VALUE[kind], dtype=np.uint8)
    array[0, 0] = (pair, person, index)
    return array


def write_raw_mat(path: Path, testsets: list[list[tuple[int, int]]]) -> None:
    """cuhk-03.mat as MATLAB v7.3 writes it: cell arrays are datasets of object references, transposed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as mat:
        refs, counter = mat.create_group("#refs#"), itertools.count()

        def store(array: np.ndarray):
            name = str(next(counter))
            refs.create_dataset(name, data=array)
            return refs[name].ref

        for kind in ("labeled", "detected"):
            pair_refs = []
            for pair, persons in enumerate(PERSONS_PER_PAIR):
                cells = np.empty(
                    (10, persons), dtype=h5py.ref_dtype
                )  # MATLAB (persons, 10), stored transposed
                for person, index in itertools.product(range(persons), range(10)):
                    if (pair, person, index) in EMPTY_CELLS:
                        cells[index, person] = store(np.zeros(2, dtype=np.uint64))  # MATLAB's empty array
                    else:
                        cells[index, person] = store(
                            image_array(kind, pair, person, index).transpose(2, 1, 0)
                        )
                pair_refs.append(store(cells))
            mat.create_dataset(kind, data=np.array([pair_refs], dtype=h5py.ref_dtype))
        set_refs = [store(np.array(ids, dtype=np.float64).T) for ids in testsets]
        mat.create_dataset("testsets", data=np.array([set_refs], dtype=h5py.ref_dtype))


def extracted_names() -> list[tuple[str, int]]:
    """(file name, running pid) of every non-empty cell, in torchreid's naming."""
    names, pid = [], 0
    for pair, persons in enumerate(PERSONS_PER_PAIR):
        for person in range(persons):
            pid += 1
            for index in range(10):
                if (pair, person, index) not in EMPTY_CELLS:
                    names.append(
                        (f"{pair + 1}_{person + 1:03d}_{1 if index < 5 else 2}_{index + 1:02d}.png", pid)
                    )
    return names


def write_new_protocol(path: Path, train_pids: set[int]) -> dict:
    """A new-protocol config: train = ``train_pids``; of each test pid, the first image of each view is a query."""
    names = extracted_names()
    train, query, gallery, seen = [], [], [], set()
    for row, (name, pid) in enumerate(names, start=1):
        view = name.split("_")[2]
        if pid in train_pids:
            train.append(row)
        elif (pid, view) not in seen:
            seen.add((pid, view))
            query.append(row)
        else:
            gallery.append(row)
    filelist = np.empty((len(names), 1), dtype=object)
    for row, (name, _) in enumerate(names):
        filelist[row, 0] = name
    content = {
        "filelist": filelist,
        "labels": np.array([[pid] for _, pid in names], dtype=np.float64),
        "train_idx": np.array([train], dtype=np.float64).T,
        "query_idx": np.array([query], dtype=np.float64).T,
        "gallery_idx": np.array([gallery], dtype=np.float64).T,
    }
    scipy.io.savemat(str(path), content)
    return {"train": train, "query": query, "gallery": gallery, "names": names}


@pytest.fixture
def cuhk03_dir(tmp_path: Path) -> Path:
    root = tmp_path / "cuhk03"
    testsets = [[(1 + (i % 2), 1), (2, 2)] for i in range(20)]  # (pair, person), 1-based
    write_raw_mat(root / "cuhk03_release" / "cuhk-03.mat", testsets)
    for kind in ("labeled", "detected"):
        write_new_protocol(root / f"cuhk03_new_protocol_config_{kind}.mat", train_pids={1, 2, 4})
    return root


def test_new_protocol_matches_the_protocol_file(cuhk03_dir: Path, cache_dir: Path):
    dataset = load_reid_dataset("cuhk03", cuhk03_dir.parent, cache_dir=cache_dir)
    expected = write_new_protocol(cuhk03_dir / "expected.mat", train_pids={1, 2, 4})
    names = expected["names"]
    for split in ("train", "query", "gallery"):
        rows = [names[i - 1] for i in expected[split]]
        assert dataset[split]["path"] == [f"images_detected/{name}" for name, _ in rows]
        assert dataset[split]["pid"] == [pid for _, pid in rows]
        assert dataset[split]["camid"] == [int(name.split("_")[2]) - 1 for name, _ in rows]
    assert sorted(set(dataset["train"]["label"])) == [0, 1, 2]
    assert set(dataset["query"]["pid"]) == {3, 5}  # person 3 of pair 1 has view-1 images only
    first = dataset["train"][0]
    assert first["path"] == "images_detected/1_001_1_01.png"
    np.testing.assert_array_equal(np.asarray(first["image"]), image_array("detected", 0, 0, 0))
    assert len(list((cuhk03_dir / "images_detected").iterdir())) == len(names)  # empty cells skipped


def test_labeled_option_and_already_extracted_images(cuhk03_dir: Path, cache_dir: Path):
    labeled = load_reid_dataset("cuhk03", cuhk03_dir, cache_dir=cache_dir, cuhk03_labeled=True)
    assert labeled["train"][0]["path"].startswith("images_labeled/")
    assert np.asarray(labeled["train"][0]["image"])[4, 4, 0] == KIND_VALUE["labeled"]
    (cuhk03_dir / "cuhk03_release" / "cuhk-03.mat").unlink()  # the extracted images are enough now
    again = load_reid_dataset("cuhk03", cuhk03_dir, cache_dir=cache_dir / "other", cuhk03_labeled=True)
    assert again["gallery"]["path"] == labeled["gallery"]["path"]
    with pytest.raises(FileNotFoundError, match=r"CUHK03: .*cuhk-03\.mat is missing"):
        load_reid_dataset(
            "cuhk03", cuhk03_dir, cache_dir=cache_dir, cuhk03_labeled=True, cuhk03_classic_split=True
        )


@pytest.mark.parametrize("split_id", [0, 1])
def test_classic_split(cuhk03_dir: Path, cache_dir: Path, split_id: int):
    dataset = load_reid_dataset(
        "cuhk03", cuhk03_dir, cache_dir=cache_dir, cuhk03_classic_split=True, split_id=split_id
    )
    # testsets[i] = (pair 1 + i % 2, person 1) and (pair 2, person 2); pair 1 has 3 persons, so pids 1 or 4, and 5
    test_pids = {1 if split_id % 2 == 0 else 4, 5}
    assert set(dataset["query"]["pid"]) == test_pids
    assert (
        dataset["query"]["path"] == dataset["gallery"]["path"]
    )  # classic: query and gallery are the test images
    names = extracted_names()
    assert dataset["query"].num_rows == sum(pid in test_pids for _, pid in names)
    assert sorted(set(dataset["train"]["pid"])) == sorted({pid for _, pid in names} - test_pids)
    assert set(dataset["train"]["camid"]) == {0, 1}
    with pytest.raises(ValueError, match=r"cuhk03: split_id is 20; expected 0\.\.19"):
        load_reid_dataset("cuhk03", cuhk03_dir, cache_dir=cache_dir, cuhk03_classic_split=True, split_id=20)
