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
import json
import sys
from pathlib import Path

import numpy as np

from iaunet_hf.tracking.mot import (
    TRACKERS,
    clear_and_identity,
    jittered_detections,
    make_tracker,
    run_tracker,
    summarise_mot,
    write_gif,
)


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
