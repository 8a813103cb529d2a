"""Synthetic tracking video: pedestrians of the synthetic reID set walking across a scene, MOTChallenge layout.

People walk left or right along lanes at different depths (nearer is larger and drawn later), so paths cross
and people occlude one another; a pillar in the foreground hides everyone passing behind it. With
``motion="stop-and-turn"`` people also stop for a while and then walk on or turn back, often while hidden, which
is what a constant-velocity motion model cannot follow and appearance can. Ground truth is
MOTChallenge `gt.txt` (`frame, id, left, top, width, height, 1, 1, visibility`, frames from 1), with every person
whose box is inside the frame, occluded or not. People are drawn with `synthetic.render_person`, so their
appearances are those of the reID set's identities.
"""

from __future__ import annotations

import configparser
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .synthetic_people import SyntheticIdentity
from .synthetic_render import render_person

MOT_GT_COLUMNS = ("frame", "id", "left", "top", "width", "height", "conf", "class", "visibility")
MOTIONS = ("constant", "stop-and-turn")
_NO_CAST = np.array([[1, 1, 1], [0, 0, 0]], dtype=np.float32)  # one camera: colours stay put


@dataclass(frozen=True)
class Walker:
    """One pedestrian: appearance, lane (foot row), height, entry frame, start x and speed (pixels per frame)."""

    track_id: int
    identity: SyntheticIdentity
    foot_y: float
    height: int
    start_frame: int
    start_x: float
    speed: float
    # "stop-and-turn": frames after entry at which the walker stops, how long, and whether it then turns back
    stops: tuple[tuple[int, int, bool], ...] = ()

    def positions(self, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
        """Centre x and walked distance (for the leg swing) per frame; NaN before the walker enters."""
        centre = np.full(num_frames, np.nan)
        walked = np.zeros(num_frames)
        x, velocity, distance = self.start_x, self.speed, 0.0
        stop_at = {frame: (length, turn) for frame, length, turn in self.stops}
        paused = 0
        for t in range(self.start_frame, num_frames):
            centre[t], walked[t] = x, distance
            step = t - self.start_frame
            if step in stop_at:
                paused, turn = stop_at[step]
                velocity = -velocity if turn else velocity
            if paused > 0:
                paused -= 1
                continue
            x += velocity
            distance += abs(velocity)
        return centre, walked


@dataclass
class SyntheticVideo:
    """Frames (T, H, W, 3) uint8 RGB and ground truth rows in `MOT_GT_COLUMNS` order (float, frames from 1)."""

    frames: np.ndarray
    ground_truth: np.ndarray
    frame_rate: int = 10


def _distinct_identities(rng: np.random.Generator, count: int) -> list[SyntheticIdentity]:
    """Identities that differ in upper and lower colour (the most visible parts at tracking scale)."""
    pairs = list(itertools.product(range(4), range(4)))
    chosen = rng.choice(len(pairs), size=count, replace=False)
    return [
        SyntheticIdentity(
            pid=index + 1,
            upper=pairs[pick][0],
            lower=pairs[pick][1],
            shoes=int(rng.integers(4)),
            hair=int(rng.integers(4)),
            emblem=int(rng.integers(4)),
            lower_style=int(rng.integers(2)),
        )
        for index, pick in enumerate(chosen)
    ]


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A static street: sky-to-ground gradient, building blocks, noise."""
    rows = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    scene = (1 - rows) * np.array([150, 170, 190], np.float32) + rows * np.array([90, 85, 80], np.float32)
    scene = np.repeat(scene, width, axis=1)
    for _ in range(8):
        x0, w = int(rng.integers(0, width)), int(rng.integers(width // 12, width // 4))
        h = int(rng.integers(height // 5, height // 2))
        scene[height // 2 - h : height // 2, x0 : x0 + w] = rng.uniform(60, 200, size=3)
    return np.clip(scene + rng.normal(0, 4, size=scene.shape), 0, 255).astype(np.float32)


def make_walkers(
    rng: np.random.Generator,
    num_people: int,
    num_frames: int,
    height: int,
    width: int,
    motion: str = "constant",
) -> list[Walker]:
    """Alternate directions on two or three lanes, entries spread over the first half, speeds that cross.

    ``"stop-and-turn"`` gives each walker one or two stops of 4-14 frames while it is in view, after each of
    which it turns back with probability 0.6.
    """
    if motion not in MOTIONS:
        raise ValueError(f"motion: expected one of {MOTIONS}, found {motion!r}")
    identities = _distinct_identities(rng, num_people)
    lanes = np.linspace(0.72, 0.95, 3) * height
    walkers = []
    for index, identity in enumerate(identities):
        foot_y = float(lanes[index % 3] + rng.uniform(-3, 3))
        person_h = int(round(foot_y * 0.55))
        speed = float(rng.uniform(0.8, 1.3) * width / num_frames * 1.4) * (1 if index % 2 == 0 else -1)
        start_x = -0.2 * person_h if speed > 0 else width + 0.2 * person_h
        start_frame = int(rng.integers(0, max(1, num_frames // 2)))
        stops: tuple[tuple[int, int, bool], ...] = ()
        if motion == "stop-and-turn":
            crossing = max(2, int((width + 0.4 * person_h) / abs(speed)))  # frames to cross the view
            count = int(rng.integers(1, 3))
            frames = np.sort(rng.choice(np.arange(crossing // 5, crossing), size=count, replace=False))
            stops = tuple((int(f), int(rng.integers(4, 15)), bool(rng.random() < 0.6)) for f in frames)
        walkers.append(Walker(index + 1, identity, foot_y, person_h, start_frame, start_x, speed, stops))
    return walkers


def _draw_walker(
    rng: np.random.Generator, frame: np.ndarray, owner: np.ndarray, walker: Walker, cx: float, walked: float
) -> tuple | None:
    """Paint ``walker`` at ``cx`` into ``frame`` (and its id into ``owner``); its full box and area, or None
    when it is out of view."""
    height, width = owner.shape
    person_w = max(8, walker.height // 2)
    left, top = int(round(cx - person_w / 2)), int(round(walker.foot_y - walker.height))
    if left + person_w <= 0 or left >= width:
        return None
    pose = {
        "person_h": walker.height * 0.97,
        "cx": person_w / 2,
        "top": walker.height * 0.02,
        "swing": float(np.sin(0.6 * walked / abs(walker.speed) + walker.track_id)),
        "emblem_dx": 0.0,
        "occluder": None,
        "occluder_colour": np.zeros(3, np.float32),
    }
    pixels, labels = render_person(rng, walker.identity, _NO_CAST, walker.height, person_w, pose=pose)
    ys, xs = np.nonzero(labels)
    ys, xs = ys + top, xs + left
    inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
    frame[ys[inside], xs[inside]] = pixels[ys[inside] - top, xs[inside] - left]
    owner[ys[inside], xs[inside]] = walker.track_id
    box_ys, box_xs = np.nonzero(labels)
    return (
        left + box_xs.min(),
        top + box_ys.min(),
        left + box_xs.max() + 1,
        top + box_ys.max() + 1,
        int(labels.astype(bool).sum()),
    )


def _ground_truth_rows(t: int, boxes: dict, owner: np.ndarray) -> list[list]:
    """MOT rows of frame ``t`` (0-based): each box clipped to the frame, with its visible fraction."""
    height, width = owner.shape
    rows = []
    for track_id, (x1, y1, x2, y2, area) in boxes.items():
        cx1, cy1, cx2, cy2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
        if cx2 <= cx1 or cy2 <= cy1:
            continue
        visibility = float((owner == track_id).sum()) / max(area, 1)
        rows.append([t + 1, track_id, cx1, cy1, cx2 - cx1, cy2 - cy1, 1, 1, round(min(visibility, 1.0), 3)])
    return rows


def render_synthetic_video(
    num_frames: int = 60,
    height: int = 192,
    width: int = 320,
    num_people: int = 6,
    seed: int = 0,
    pillar: bool = True,
    motion: str = "constant",
) -> SyntheticVideo:
    """Render the seeded video; see the module docstring for what it contains (``motion``: one of MOTIONS)."""
    if num_people < 1 or num_people > 16:
        raise ValueError(f"num_people: expected 1..16 (distinct upper/lower colours), found {num_people}")
    if num_frames < 1 or height < 64 or width < 64:
        raise ValueError(
            f"video: expected num_frames >= 1 and a frame of at least 64x64, found {num_frames} frames of {height}x{width}"
        )
    rng = np.random.default_rng(seed)
    background = _background(rng, height, width)
    walkers = make_walkers(rng, num_people, num_frames, height, width, motion)
    paths = {walker.track_id: walker.positions(num_frames) for walker in walkers}
    pillar_x = (int(width * 0.55), int(width * 0.55) + max(6, width // 20))
    frames, rows = [], []
    for t in range(num_frames):
        frame = background.copy()
        owner = np.zeros((height, width), dtype=np.int32)  # which walker is visible at each pixel
        boxes = {}
        for walker in sorted(walkers, key=lambda w: w.foot_y):  # far first: nearer people occlude them
            if t < walker.start_frame:
                continue
            centres, walked = paths[walker.track_id]
            box = _draw_walker(rng, frame, owner, walker, centres[t], walked[t])
            if box is not None:
                boxes[walker.track_id] = box
        if pillar:
            frame[:, pillar_x[0] : pillar_x[1]] = (70, 60, 55)
            owner[:, pillar_x[0] : pillar_x[1]] = 0
        rows.extend(_ground_truth_rows(t, boxes, owner))
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return SyntheticVideo(np.stack(frames), np.array(rows, dtype=np.float64).reshape(-1, len(MOT_GT_COLUMNS)))


def write_mot_file(path: str | Path, rows: np.ndarray) -> Path:
    """MOTChallenge text rows: integer frame/id, box to 2 decimals, the remaining columns as given."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for row in rows:
        frame, track_id, *box = row[:6]
        rest = ",".join(f"{value:g}" for value in row[6:])
        lines.append(f"{int(frame)},{int(track_id)}," + ",".join(f"{v:.2f}" for v in box) + f",{rest}")
    path.write_text("\n".join(lines) + ("\n" if lines else ""))
    return path


def read_mot_file(path: str | Path) -> np.ndarray:
    """(N, columns) float rows of a MOTChallenge gt.txt / tracker result file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: expected a MOTChallenge text file (frame,id,left,top,width,height,...)"
        )
    text = path.read_text().strip()
    if not text:
        return np.zeros((0, 6))
    return np.array([[float(v) for v in line.split(",")] for line in text.splitlines()])


def write_mot_sequence(root: str | Path, video: SyntheticVideo, name: str = "SYNTH-01") -> Path:
    """Write `root/name/{img1/000001.jpg..., gt/gt.txt, seqinfo.ini}` (the MOTChallenge sequence layout)."""
    sequence = Path(root) / name
    (sequence / "img1").mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(video.frames, start=1):
        Image.fromarray(frame).save(sequence / "img1" / f"{index:06d}.jpg", quality=95)
    write_mot_file(sequence / "gt" / "gt.txt", video.ground_truth)
    info = configparser.ConfigParser()
    info.optionxform = str  # MOTChallenge keys are camel case
    info["Sequence"] = {
        "name": name,
        "imDir": "img1",
        "frameRate": str(video.frame_rate),
        "seqLength": str(len(video.frames)),
        "imWidth": str(video.frames.shape[2]),
        "imHeight": str(video.frames.shape[1]),
        "imExt": ".jpg",
    }
    with open(sequence / "seqinfo.ini", "w") as handle:
        info.write(handle, space_around_delimiters=False)
    return sequence
