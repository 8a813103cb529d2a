"""iaunet-embed, iaunet-search and iaunet-eval --gallery as a user runs them (subprocesses), on tiny data.

The resumability test kills iaunet-embed with SIGKILL mid-run, reruns it, and compares the gallery with an
uninterrupted run's: same keys, same embeddings.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from iaunet_hf.data.synthetic_video import render_synthetic_video, write_mot_sequence
from iaunet_hf.evaluation.results import read_results
from iaunet_hf.retrieval import embed_cli, open_gallery, search_cli

sys.path.insert(0, str(Path(__file__).parents[1] / "hub"))
from hub_fixtures import save_iaunet_folder  # noqa: E402

pytest.importorskip("lancedb")
EMBED = [sys.executable, "-m", "iaunet_hf.retrieval.embed_cli"]
SEARCH = [sys.executable, "-m", "iaunet_hf.retrieval.search_cli"]
EVAL = [sys.executable, "-m", "iaunet_hf.evaluation.cli"]


# one intra-op thread: on a busy shared CPU, two spinning OpenMP threads make a tiny forward 40x slower
ENV = dict(os.environ, OMP_NUM_THREADS="1")


def run(command, *argv):
    return subprocess.run([*command, *map(str, argv)], capture_output=True, text=True, timeout=300, env=ENV)


@pytest.fixture
def one_thread():
    """In-process runs with one intra-op thread too, as the subprocesses (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save_iaunet_folder(tmp_path_factory.mktemp("retrieval") / "model")


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """120 small noise images in two sub-folders."""
    folder = tmp_path_factory.mktemp("images") / "camera_photos"
    rng = np.random.default_rng(0)
    for i in range(120):
        path = folder / f"part{i % 2}" / f"{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (64, 32, 3), dtype=np.uint8)).save(path)
    return folder


def rows_by_key(uri):
    with open_gallery(uri) as gallery:
        batches = list(gallery.batches())
    keys = np.concatenate([b["key"] for b in batches])
    vectors = np.concatenate([b["vector"] for b in batches])
    return {key: vector for key, vector in zip(keys, vectors)}


def test_embed_killed_and_resumed_equals_an_uninterrupted_run(
    model, image_folder, tmp_path, capsys, one_thread
):
    resumed, reference = tmp_path / "resumed", tmp_path / "reference"
    argv = ["--model", model, "--images", image_folder, "--batch-size", "4"]
    process = subprocess.Popen([*EMBED, *map(str, argv), "--gallery", str(resumed)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)  # fmt: skip
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if (resumed / "gallery.lance").exists() and open_gallery(str(resumed)).count() >= 8:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    assert process.wait() == -signal.SIGKILL, "iaunet-embed finished before it could be killed"
    count = open_gallery(str(resumed)).count()
    assert (
        8 <= count < 120 and count % 4 == 0
    )  # whole batches only: the batch in flight is lost, nothing else

    assert (
        embed_cli.main(
            [*map(str, argv), "--gallery", str(resumed), "--parquet-dir", str(tmp_path / "parquet")]
        )
        == 0
    )
    assert (
        f"added {120 - count} rows" in capsys.readouterr().out
    )  # only what the killed run had not committed
    assert embed_cli.main([*map(str, argv), "--gallery", str(reference)]) == 0  # uninterrupted (in-process)
    got, expected = rows_by_key(str(resumed)), rows_by_key(str(reference))
    assert sorted(got) == sorted(expected) and len(got) == 120
    np.testing.assert_allclose(
        np.stack([got[k] for k in expected]), np.stack(list(expected.values())), atol=1e-5
    )

    datasets = pytest.importorskip("datasets")
    shards = datasets.load_dataset("parquet", data_dir=str(tmp_path / "parquet"), split="train")
    assert len(shards) == 120 and shards[0]["key"] == min(expected)
    np.testing.assert_allclose(shards[0]["vector"], expected[min(expected)], atol=1e-6)


@pytest.mark.multiprocess
def test_embed_shards_across_processes(model, image_folder, tmp_path):
    """Two CPU processes (torchrun, as accelerate launches them) embed disjoint halves into one gallery."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", str(_free_port()), "-m", "iaunet_hf.retrieval.embed_cli", "--cpu", "--model",
               str(model), "--gallery", str(tmp_path / "sharded"), "--images", str(image_folder / "part0"),
               "--batch-size", "10"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "60 rows of part0" in result.stdout and result.stdout.count("added 30 rows (this process)") == 1
    with open_gallery(str(tmp_path / "sharded")) as gallery:
        assert gallery.count() == len(gallery.keys()) == 60  # every image once, no duplicates


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_embed_a_split_then_search_with_filters_and_rank_strips(
    model, tiny_synthetic_dirs, tmp_path, one_thread
):
    data_dir, cache_dir = tiny_synthetic_dirs
    gallery = tmp_path / "gallery"
    assert embed_cli.main(["--model", str(model), "--gallery", str(gallery), "--dataset", "synthetic",
                           "--data-dir", str(data_dir), "--cache-dir", str(cache_dir), "--index", "flat"]) == 0  # fmt: skip
    search = run(SEARCH, "--model", model, "--gallery", gallery, "--dataset", "synthetic", "--data-dir", data_dir,
                 "--cache-dir", cache_dir, "--k", "3", "--where", "camid != {camid}", "--output", tmp_path / "strips")  # fmt: skip
    assert search.returncode == 0, search.stderr[-3000:]
    blocks = search.stdout.split("query ")[1:]
    assert len(blocks) == 6 and len(sorted((tmp_path / "strips").glob("rank_*.png"))) == 6
    for block in blocks:
        query_camera = int(block.split("_c")[1][0]) - 1  # Market names: pid_c<camera>s...
        ranked = [line for line in block.splitlines()[1:] if "similarity" in line]
        assert len(ranked) == 3 and all(not line.endswith(f"camid {query_camera}") for line in ranked)
    with Image.open(tmp_path / "strips" / "rank_0000.png") as strip:
        assert strip.width > 2 * strip.height  # the query and three neighbours side by side

    evaluate = run(EVAL, "--model", model, "--gallery", gallery, "--dataset", "synthetic", "--data-dir", data_dir,
                   "--cache-dir", cache_dir, "--device", "cpu", "--output", tmp_path / "results.json",
                   "--gallery-search", "refine_factor=3", "nprobes=4")  # fmt: skip
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    # exact search through the filter ranks as the all-pairs evaluation of the same features does
    cost = next(line for line in evaluate.stdout.splitlines() if line.startswith("gallery: mAP"))
    assert cost.endswith("(ANN costs 0.00 mAP)") and cost.split()[2] == cost.split()[8]
    (entry,) = read_results(tmp_path / "results.json")["results"]
    assert entry["settings"]["gallery"] == str(gallery) and round(entry["metrics"]["mAP"], 2) == float(
        cost.split()[2]
    )
    assert entry["settings"]["gallery_search"] == {"refine_factor": 3, "nprobes": 4}
    refused = run(EVAL, "--model", model, "--gallery", gallery, "--gallery-search", "ef=lots")
    assert (
        refused.returncode == 2 and "expected NAME=NUMBER (e.g. ef=4000), found 'ef=lots'" in refused.stderr
    )


def test_embed_a_mot_video_and_search_a_time_window(model, tmp_path, capsys, one_thread):
    sequence = write_mot_sequence(
        tmp_path, render_synthetic_video(num_frames=6, height=96, width=160, num_people=3)
    )
    gallery = tmp_path / "video_gallery"
    assert (
        embed_cli.main(
            ["--model", str(model), "--gallery", str(gallery), "--mot", str(sequence), "--camid", "2"]
        )
        == 0
    )
    with open_gallery(str(gallery)) as opened:
        rows = [
            row
            for batch in opened.batches()
            for row in zip(batch["frame"], batch["track_id"], batch["timestamp"])
        ]
        assert len(rows) == opened.count("camid = 2 AND source = 'SYNTH-01'") > 6
    query = tmp_path / "query.png"
    Image.new("RGB", (32, 64), (200, 40, 40)).save(query)
    capsys.readouterr()
    assert search_cli.main(["--model", str(model), "--gallery", str(gallery), "--images", str(query), "--k", "4",
                            "--where", "frame BETWEEN 2 AND 3", "--output", str(tmp_path / "strips")]) == 0  # fmt: skip
    keys = [line.split()[1] for line in capsys.readouterr().out.splitlines() if "similarity" in line]
    assert len(keys) == 4 and all(key.split("/")[1] in ("000002", "000003") for key in keys)
    assert (tmp_path / "strips" / "rank_0000.png").is_file()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--where", "colour = 'red'"], "where: unknown column 'colour'"),
        (["--where", "camid != {pid}"], "--where: the queries have no ['pid']"),
        (["--k", "0"], "--k: expected a positive integer"),
    ],
)
def test_search_errors_are_one_line(model, image_folder, tmp_path, capsys, one_thread, argv, message):
    with open_gallery(f"memory://{tmp_path / 'g'}") as gallery:
        gallery.add(np.eye(4, 8, dtype=np.float32))
    query = image_folder / "part0" / "0000.png"
    assert (
        search_cli.main(
            ["--model", str(model), "--gallery", f"memory://{tmp_path / 'g'}", "--images", str(query), *argv]
        )
        == 2
    )
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert message in lines[-1] and lines[-1].startswith("iaunet-search: error:")
