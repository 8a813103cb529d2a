"""The synthetic tracking video (MOTChallenge layout) and the tracking demo through boxmot's real BoT-SORT."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from iaunet_hf.data.synthetic_video import read_mot_file, render_synthetic_video, write_mot_sequence

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def video():
    return render_synthetic_video(num_frames=24, height=96, width=160, num_people=4, seed=3)


def box_iou(a, b):
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, x2 - x1) * max(0, y2 - y1)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def test_ground_truth_is_seeded_and_inside_the_frame(video):
    again = render_synthetic_video(num_frames=24, height=96, width=160, num_people=4, seed=3)
    np.testing.assert_array_equal(again.frames, video.frames)
    np.testing.assert_array_equal(again.ground_truth, video.ground_truth)
    assert not np.array_equal(render_synthetic_video(24, 96, 160, 4, seed=4).frames, video.frames)
    gt = video.ground_truth
    assert video.frames.shape == (24, 96, 160, 3) and video.frames.dtype == np.uint8
    assert set(gt[:, 0].astype(int)) <= set(range(1, 25)) and len(np.unique(gt[:, 1])) == 4
    assert (gt[:, 2] >= 0).all() and (gt[:, 3] >= 0).all() and (gt[:, 4] > 0).all() and (gt[:, 5] > 0).all()
    assert (gt[:, 2] + gt[:, 4] <= 160).all() and (gt[:, 3] + gt[:, 5] <= 96).all()
    assert ((gt[:, 8] >= 0) & (gt[:, 8] <= 1)).all()
    assert len({tuple(r) for r in gt[:, :2]}) == len(gt)  # one row per (frame, id)


def test_people_cross_and_occlude(video):
    gt = video.ground_truth
    overlaps = [
        box_iou(a[2:6], b[2:6])
        for frame in np.unique(gt[:, 0])
        for i, a in enumerate(gt[gt[:, 0] == frame])
        for b in gt[gt[:, 0] == frame][i + 1 :]
    ]
    assert max(overlaps) > 0.1  # some paths cross
    assert gt[:, 8].min() < 0.7  # someone is partly hidden (by another person or the pillar)
    directions = []
    for track_id in np.unique(gt[:, 1]):
        rows = gt[gt[:, 1] == track_id]
        directions.append(np.sign(rows[-1, 2] - rows[0, 2]))
    assert {-1.0, 1.0} <= set(directions)  # walking both ways


def test_stop_and_turn_people_stop_and_walk_back():
    video = render_synthetic_video(
        num_frames=60, height=96, width=160, num_people=4, seed=5, motion="stop-and-turn"
    )
    again = render_synthetic_video(
        num_frames=60, height=96, width=160, num_people=4, seed=5, motion="stop-and-turn"
    )
    np.testing.assert_array_equal(again.ground_truth, video.ground_truth)
    gt = video.ground_truth
    stopped, turned = 0, 0
    for track_id in np.unique(gt[:, 1]):
        rows = gt[gt[:, 1] == track_id]
        rows = rows[
            (rows[:, 2] > 0) & (rows[:, 2] + rows[:, 4] < 160)
        ]  # fully in view: the box moves with the body
        steps = np.sign(np.round(np.diff(rows[:, 2] + rows[:, 4] / 2), 1))
        stopped += int((steps == 0).sum() >= 3)
        moving = steps[steps != 0]
        turned += int(len(moving) > 1 and (moving[1:] != moving[:-1]).any())
    assert stopped >= 2 and turned >= 1
    constant = render_synthetic_video(num_frames=60, height=96, width=160, num_people=4, seed=5)
    assert not np.array_equal(constant.ground_truth, gt)
    with pytest.raises(ValueError, match="motion"):
        render_synthetic_video(num_frames=8, height=96, width=160, num_people=2, motion="teleport")


def test_mot_sequence_layout(video, tmp_path):
    sequence = write_mot_sequence(tmp_path, video, name="SYNTH-02")
    assert len(list((sequence / "img1").glob("*.jpg"))) == 24 and (sequence / "img1" / "000001.jpg").is_file()
    np.testing.assert_allclose(read_mot_file(sequence / "gt" / "gt.txt"), video.ground_truth, atol=0.01)
    info = (sequence / "seqinfo.ini").read_text()
    assert "seqLength=24" in info and "imWidth=160" in info and "imHeight=96" in info


def test_track_demo_runs_boxmot_botsort_end_to_end(tmp_path, tracking_model_dir):
    pytest.importorskip("boxmot")
    pytest.importorskip("trackeval")
    output = tmp_path / "demo"
    command = [sys.executable, str(ROOT / "scripts" / "track_demo.py"), "--output", str(output)]
    command += ["--model", str(tracking_model_dir), "--frames", "12", "--people", "3", "--height", "96"]
    command += ["--width", "160", "--sequences", "2"]
    completed = subprocess.run(command, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "| botsort+iaunet |" in completed.stdout
    metrics = json.loads((output / "metrics.json").read_text())["results"]
    pairs = ("botsort", "hybridsort", "boosttrack")
    assert set(metrics) == {f"{name}+iaunet" for name in pairs} | {f"{name} (motion only)" for name in pairs}
    for result in metrics.values():
        assert 0 <= result["IDF1"] <= 1 and result["MOTA"] <= 1 and result["IDSW"] >= 0
        assert result["num_tracks"] >= 1
    for sequence in ("SYNTH-01", "SYNTH-02"):
        assert (output / sequence / "gt" / "gt.txt").is_file()
        tracks = read_mot_file(output / "tracks" / sequence / "botsort_iaunet.txt")
        assert tracks.shape[1] == 10 and set(tracks[:, 0].astype(int)) <= set(range(1, 13))
    for name in pairs:  # a GIF of the first sequence for each appearance tracker, and both runs' tracks
        assert (output / f"{name}_iaunet.gif").stat().st_size > 0
        assert (output / "tracks" / "SYNTH-02" / f"{name}.txt").is_file()
