"""Track synthetic videos with three boxmot trackers, each with IAUnet appearance and on its own motion alone.

Detections are the ground-truth boxes jittered and randomly dropped (a stand-in for a detector). People stop and
turn back (``--motion stop-and-turn``, the default), often behind the pillar or one another, which a
constant-velocity motion model cannot follow. For each of ``--sequences`` seeded sequences the script writes the
sequence (MOTChallenge layout) and every tracker's MOT-format results; it writes an annotated GIF of the first
sequence per appearance tracker and ``metrics.json``, and prints IDF1, MOTA and ID switches over all sequences
(trackeval's Identity and CLEAR metrics, counts summed over sequences as trackeval combines them).

    python scripts/track_demo.py --output runs/track_demo [--model DIR] [--sequences 3] [--frames 80] [--people 6]

Needs boxmot and trackeval: pip install "iaunet-hf[tracking]" && pip install --no-deps boxmot==25.0.0 trackeval==1.3.0
Without ``--model``, an untrained iaunet_resnet18 at 128x64 is used (seeded), so the appearance cue is only as
good as random convolutional features; pass a trained checkpoint folder (e.g. ``iaunet-train --recipe
synthetic``'s ``best_model``) for the real comparison.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
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


def build_encoder(model: str | None, batch_size: int):
    import timm
    import torch

    from iaunet_hf.tracking import IAUnetEncoder

    if model:
        return IAUnetEncoder.from_pretrained(model, batch_size=batch_size)
    import iaunet_hf  # noqa: F401 - registers the timm models

    torch.manual_seed(0)
    network = timm.create_model(
        "iaunet_resnet18", num_classes=0, pretrained_cfg_overlay={"input_size": (3, 128, 64)}
    )
    return IAUnetEncoder(network, batch_size=batch_size)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--output", required=True, help="folder for the sequences, tracks, GIFs and metrics.json"
    )
    parser.add_argument(
        "--model", help="IAUnet checkpoint folder / Hub id (default: untrained resnet18, seeded)"
    )
    parser.add_argument("--sequences", type=int, default=3, help="seeded sequences (seeds seed..seed+N-1)")
    parser.add_argument("--frames", type=int, default=80)
    parser.add_argument("--people", type=int, default=6)
    parser.add_argument("--height", type=int, default=192)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--motion", choices=("stop-and-turn", "constant"), default="stop-and-turn")
    parser.add_argument("--jitter", type=float, default=0.04, help="box jitter, fraction of the box size")
    parser.add_argument("--drop", type=float, default=0.15, help="probability a true box is not detected")
    parser.add_argument(
        "--trackers", nargs="+", choices=list(TRACKERS), default=list(TRACKERS), help="which trackers to run"
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--no-gif", action="store_true")
    return parser


def track_sequences(args: argparse.Namespace, output: Path) -> tuple[dict[str, list[dict]], int]:
    """Write each seeded sequence and every tracker's tracks (and GIFs) under ``output``; return each tracker's
    per-sequence metrics and the number of true boxes."""
    # deferred, as before: torch and the package load only once boxmot is known to be there
    from iaunet_hf.data.synthetic_video import render_synthetic_video, write_mot_file, write_mot_sequence

    encoder = build_encoder(args.model, args.batch_size)
    per_sequence: dict[str, list[dict]] = {name: [] for name in args.trackers}
    num_boxes = 0
    for index in range(args.sequences):
        seed = args.seed + index
        video = render_synthetic_video(
            args.frames, args.height, args.width, args.people, seed=seed, motion=args.motion
        )
        name = f"SYNTH-{index + 1:02d}"
        write_mot_sequence(output, video, name=name)
        num_boxes += len(video.ground_truth)
        rng = np.random.default_rng(seed + 1)
        detections = [
            jittered_detections(video.ground_truth, frame, rng, args.jitter, args.drop)
            for frame in range(1, args.frames + 1)
        ]
        for tracker_name in args.trackers:
            tracks = run_tracker(make_tracker(tracker_name, encoder, video.frame_rate), video, detections)
            file_stem = tracker_name.split()[0].replace("+", "_")
            write_mot_file(output / "tracks" / name / f"{file_stem}.txt", tracks)
            per_sequence[tracker_name].append(clear_and_identity(video.ground_truth, tracks, args.frames))
            if index == 0 and TRACKERS[tracker_name][2] and not args.no_gif:
                write_gif(output / f"{file_stem}.gif", video, tracks)
            print(f"[track_demo] {name} {tracker_name}: done", flush=True)
    return per_sequence, num_boxes


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.sequences < 1:
        parser.error(f"--sequences: expected at least 1, found {args.sequences}")
    try:
        import boxmot  # noqa: F401
    except ImportError:
        print("track_demo: boxmot is not installed; pip install --no-deps boxmot==25.0.0", file=sys.stderr)
        return 2

    output = Path(args.output)
    per_sequence, num_boxes = track_sequences(args, output)
    results = {name: summarise_mot(runs) for name, runs in per_sequence.items()}
    settings_used = {k: v for k, v in vars(args).items() if k != "output"}
    (output / "metrics.json").write_text(
        json.dumps({"settings": settings_used, "results": results}, indent=2)
    )
    print(
        f"{args.sequences} sequences in {output} ({args.frames} frames, {args.people} people, "
        f"motion {args.motion}, {num_boxes} true boxes)"
    )
    print("| tracker | IDF1 | MOTA | ID switches | tracks |\n| --- | --- | --- | --- | --- |")
    for name, metrics in results.items():
        print(
            f"| {name} | {metrics['IDF1']:.3f} | {metrics['MOTA']:.3f} | {metrics['IDSW']} | {metrics['num_tracks']} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
