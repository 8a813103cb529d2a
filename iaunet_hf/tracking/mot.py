"""Tracking runs of boxmot trackers on a sequence: detections, the tracker loop, trackeval scores, annotated GIFs.

Shared by ``scripts/track_demo.py`` and the web app's Track view, so both run and score trackers one way.
boxmot and trackeval are optional (installed with --no-deps, see docs/tracking.md) and imported when used.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def jittered_detections(ground_truth: np.ndarray, frame: int, rng, jitter: float, drop: float) -> np.ndarray:
    """(N, 6) x1, y1, x2, y2, conf, cls: the frame's true boxes with Gaussian jitter (fraction of the box size)
    on every side, each dropped with probability `drop`."""
    rows = ground_truth[ground_truth[:, 0] == frame]
    rows = rows[rng.random(len(rows)) >= drop]
    left, top, width, height = rows[:, 2], rows[:, 3], rows[:, 4], rows[:, 5]
    noise = rng.normal(0, jitter, size=(len(rows), 4)) * np.stack([width, height, width, height], 1)
    boxes = np.stack([left, top, left + width, top + height], 1) + noise
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 2)
    conf = rng.uniform(0.7, 0.95, size=(len(rows), 1))
    return np.concatenate([boxes, conf, np.zeros((len(rows), 1))], 1).astype(np.float32)


# name -> (boxmot class name, its settings, uses appearance): each tracker with IAUnet and in its own motion-only
# mode, with the same settings. Lost tracks are kept for 60 frames (6 s at the video's 10 fps). BoT-SORT's
# proximity_thresh is raised from 0.5 to 0.9: by default it ignores appearance for any track whose predicted box
# overlaps a detection by IoU < 0.5, which is exactly the track a stop or a turn has thrown off its prediction.
BOTSORT = {"use_cmc": False, "track_buffer": 60, "proximity_thresh": 0.9}
TRACKERS: dict[str, tuple[str, dict, bool]] = {
    "botsort+iaunet": ("BotSort", BOTSORT, True),
    "botsort (motion only)": ("BotSort", dict(BOTSORT, use_embeddings=False), False),
    "hybridsort+iaunet": ("HybridSort", {"max_age": 60}, True),
    "hybridsort (motion only)": ("HybridSort", {"max_age": 60, "use_embeddings": False}, False),
    "boosttrack+iaunet": ("BoostTrack", {"max_age": 60, "use_cmc": False, "use_embeddings": True}, True),
    "boosttrack (motion only)": ("BoostTrack", {"max_age": 60, "use_cmc": False}, False),
}
TAKES_FRAME_RATE = ("BotSort", "ByteTrack")  # the others count lost frames, not seconds


def make_tracker(name: str, encoder, frame_rate: int):
    """A fresh boxmot tracker of TRACKERS[name] (``min_hits=1``: every confirmed detection is reported)."""
    import boxmot

    class_name, settings, uses_appearance = TRACKERS[name]
    extra = {"reid_model": encoder} if uses_appearance else {}
    if class_name in TAKES_FRAME_RATE:
        extra["frame_rate"] = frame_rate
    return getattr(boxmot, class_name)(min_hits=1, **settings, **extra)


def run_tracker(tracker, video, detections: list[np.ndarray]) -> np.ndarray:
    """MOT rows (frame, id, left, top, width, height, conf, -1, -1, -1) of a boxmot tracker over the video."""
    rows = []
    for index, (frame, dets) in enumerate(zip(video.frames, detections), start=1):
        tracks = tracker.update(dets, np.ascontiguousarray(frame[..., ::-1]))  # boxmot takes BGR frames
        for x1, y1, x2, y2, track_id, conf, *_ in np.asarray(tracks).reshape(-1, 8):
            rows.append([index, track_id, x1, y1, x2 - x1, y2 - y1, conf, -1, -1, -1])
    return np.array(rows, dtype=np.float64).reshape(-1, 10)


def clear_and_identity(ground_truth: np.ndarray, tracks: np.ndarray, num_frames: int) -> dict[str, dict]:
    """trackeval's CLEAR and Identity results of one sequence (IoU >= 0.5 matching), to combine or summarise."""
    with contextlib.redirect_stdout(io.StringIO()):  # trackeval prints about its optional dataset readers
        from trackeval.datasets._base_dataset import _BaseDataset
        from trackeval.metrics import CLEAR, Identity

    gt_ids = {v: i for i, v in enumerate(np.unique(ground_truth[:, 1]))}
    tracker_ids = {v: i for i, v in enumerate(np.unique(tracks[:, 1]))} if len(tracks) else {}
    data = {"num_timesteps": num_frames, "num_gt_ids": len(gt_ids), "num_tracker_ids": len(tracker_ids)}
    data.update(gt_ids=[], tracker_ids=[], similarity_scores=[], num_gt_dets=0, num_tracker_dets=0)
    for frame in range(1, num_frames + 1):
        gt, tr = ground_truth[ground_truth[:, 0] == frame], tracks[tracks[:, 0] == frame]
        data["gt_ids"].append(np.array([gt_ids[v] for v in gt[:, 1]], dtype=int))
        data["tracker_ids"].append(np.array([tracker_ids[v] for v in tr[:, 1]], dtype=int))
        data["similarity_scores"].append(
            _BaseDataset._calculate_box_ious(gt[:, 2:6], tr[:, 2:6], box_format="xywh")
        )
        data["num_gt_dets"] += len(gt)
        data["num_tracker_dets"] += len(tr)
    quiet = {"PRINT_CONFIG": False}
    result = {"CLEAR": CLEAR(quiet).eval_sequence(data), "Identity": Identity(quiet).eval_sequence(data)}
    return dict(result, num_tracks=len(tracker_ids))


def summarise_mot(per_sequence: list[dict[str, dict]]) -> dict[str, float]:
    """IDF1, MOTA, ID switches and track count over sequences (trackeval's own combination: summed counts)."""
    from trackeval.metrics import CLEAR, Identity

    quiet = {"PRINT_CONFIG": False}
    clear = CLEAR(quiet).combine_sequences({i: r["CLEAR"] for i, r in enumerate(per_sequence)})
    identity = Identity(quiet).combine_sequences({i: r["Identity"] for i, r in enumerate(per_sequence)})
    return {
        "IDF1": float(identity["IDF1"]),
        "MOTA": float(clear["MOTA"]),
        "IDSW": int(clear["IDSW"]),
        "num_tracks": int(sum(r["num_tracks"] for r in per_sequence)),
    }


def write_gif(path: Path, video, tracks: np.ndarray, frame_ms: int = 100) -> None:
    """The frames with each track's box and id drawn in a colour of its own."""
    palette = np.random.default_rng(1).integers(64, 256, size=(4096, 3))
    images = []
    for index, frame in enumerate(video.frames, start=1):
        image = Image.fromarray(frame)
        draw = ImageDraw.Draw(image)
        for _, track_id, left, top, width, height, *_ in tracks[tracks[:, 0] == index]:
            colour = tuple(int(c) for c in palette[int(track_id) % len(palette)])
            draw.rectangle([left, top, left + width, top + height], outline=colour, width=2)
            draw.text((left + 2, top + 1), str(int(track_id)), fill=colour)
        images.append(image)
    images[0].save(path, save_all=True, append_images=images[1:], duration=frame_ms, loop=0)
