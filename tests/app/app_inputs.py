"""Uploads for the app tests: a short GIF clip of the synthetic tracking video with its MOT detections and
ground truth (a module of its own, so test modules can import it by a unique name)."""

from __future__ import annotations

from PIL import Image

from iaunet_hf.data.synthetic_video import render_synthetic_video, write_mot_file


def write_video_and_detections(tmp_path, outside: bool = False):
    video = render_synthetic_video(12, 96, 128, 2, seed=3)
    frames = [Image.fromarray(frame) for frame in video.frames]
    gif = tmp_path / "clip.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    rows = video.ground_truth[:, :7].copy()
    rows[:, 6] = 0.9
    if outside:
        rows[2, 2] = 500  # left edge beyond the 128-pixel frame
    detections = write_mot_file(tmp_path / "det.txt", rows)
    truth = write_mot_file(tmp_path / "gt.txt", video.ground_truth)
    return gif, detections, truth
