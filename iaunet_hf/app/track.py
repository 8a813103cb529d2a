"""The Track view: a short video and its detections (or the synthetic stop-and-turn sequence) tracked by
BoT-SORT twice, with the IAUnet encoder and on motion alone, as annotated GIFs side by side, with IDF1 when
ground truth is given. The runs, scores and GIFs are ``iaunet_hf.tracking.mot``'s, as in the tracking demo."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.synthetic_video import render_synthetic_video
from ..tracking import IAUnetEncoder, mot
from .engine import ReidEngine
from .uploads import Video

TRACKER_PAIR = ("botsort+iaunet", "botsort (motion only)")  # same settings, appearance on and off
SYNTHETIC_SIZE = (192, 320)  # (height, width) of the synthetic frames, as in the tracking demo
DETECTION_JITTER, DETECTION_DROP = 0.04, 0.15


@dataclass(frozen=True)
class MotSequence:
    """A video, its detections per frame ((N, 6) x1, y1, x2, y2, conf, cls) and optional MOT ground truth."""

    video: Video
    detections: list[np.ndarray]
    ground_truth: np.ndarray | None


@dataclass(frozen=True)
class TrackRun:
    tracker: str
    gif: Path
    idf1: float | None
    num_tracks: int


def synthetic_sequence(num_frames: int, num_people: int, seed: int) -> MotSequence:
    """The seeded stop-and-turn video; its detections are the true boxes jittered and dropped, as in the demo."""
    height, width = SYNTHETIC_SIZE
    video = render_synthetic_video(num_frames, height, width, num_people, seed=seed, motion="stop-and-turn")
    rng = np.random.default_rng(seed + 1)
    detections = [
        mot.jittered_detections(video.ground_truth, frame, rng, DETECTION_JITTER, DETECTION_DROP)
        for frame in range(1, num_frames + 1)
    ]
    return MotSequence(Video(video.frames, video.frame_rate), detections, video.ground_truth)


def detections_per_frame(rows: np.ndarray, num_frames: int) -> list[np.ndarray]:
    """MOT rows (frame, id, left, top, width, height, conf) -> per frame (N, 6) x1, y1, x2, y2, conf, cls 0."""
    per_frame = []
    for frame in range(1, num_frames + 1):
        rows_of_frame = rows[rows[:, 0] == frame]
        left, top, width, height, conf = (rows_of_frame[:, column] for column in range(2, 7))
        boxes = np.stack([left, top, left + width, top + height, conf, np.zeros_like(conf)], axis=1)
        per_frame.append(boxes.astype(np.float32).reshape(-1, 6))
    return per_frame


def require_boxmot() -> None:
    """boxmot and trackeval are installed apart from the package (docs/tracking.md): say how when missing."""
    try:
        import boxmot  # noqa: F401
        import trackeval  # noqa: F401
    except ImportError as error:
        raise ValueError(
            f"Track needs boxmot and trackeval ({error}); install them with "
            "pip install --no-deps boxmot==25.0.0 trackeval==1.3.0"
        ) from error


def track_sequence(engine: ReidEngine, sequence: MotSequence, output_dir: Path) -> list[TrackRun]:
    """Run TRACKER_PAIR on the sequence; each run's annotated GIF is written under ``output_dir``."""
    require_boxmot()
    encoder = IAUnetEncoder(engine.model, engine.image_processor, device=engine.device)
    num_frames = len(sequence.video.frames)
    runs = []
    for name in TRACKER_PAIR:
        tracker = mot.make_tracker(name, encoder, sequence.video.frame_rate)
        tracks = mot.run_tracker(tracker, sequence.video, sequence.detections)
        gif = output_dir / f"{name.split()[0].replace('+', '_')}{'' if '+' in name else '_motion_only'}.gif"
        mot.write_gif(gif, sequence.video, tracks, frame_ms=round(1000 / sequence.video.frame_rate))
        idf1 = None
        if sequence.ground_truth is not None:
            idf1 = mot.summarise_mot([mot.clear_and_identity(sequence.ground_truth, tracks, num_frames)])[
                "IDF1"
            ]
        runs.append(TrackRun(name, gif, idf1, len(np.unique(tracks[:, 1])) if len(tracks) else 0))
    return runs
