"""The app's checks on uploads and its threshold choice, without a server: each refusal names the file and what
was expected, before anything large is decoded."""

from __future__ import annotations

import numpy as np
import pytest
from app_inputs import write_video_and_detections
from PIL import Image

from iaunet_hf.app.compare import choose_threshold
from iaunet_hf.app.uploads import UploadError, Video, open_image, read_mot_boxes, read_video


def test_open_image_accepts_a_picture_and_refuses_the_rest(tmp_path):
    good = tmp_path / "person.png"
    Image.new("RGB", (32, 64), (200, 10, 10)).save(good)
    assert open_image(good).size == (32, 64)
    huge = tmp_path / "huge.png"
    Image.new("1", (5000, 4000)).save(huge)
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(good.read_bytes()[:60])
    text = tmp_path / "notes.jpg"
    text.write_text("hello")
    expected = {huge: "huge.png: 5000x4000 pixels is too large", truncated: "cut.png: the image is corrupt",
                text: "notes.jpg: not an image file", None: "no file"}  # fmt: skip
    for path, message in expected.items():
        with pytest.raises(UploadError, match=message):
            open_image(path)


def test_read_video_refuses_large_frames_and_corrupt_files(tmp_path):
    gif, _, _ = write_video_and_detections(tmp_path)
    video = read_video(gif)
    # 12 frames at 10 fps, whatever frames the GIF encoder merged
    assert video.frames.shape == (12, 96, 128, 3) and video.frame_rate == 10
    large = tmp_path / "large.gif"
    Image.new("P", (2000, 1200)).save(large)
    with pytest.raises(UploadError, match="large.gif: frames of 2000x1200 are too large"):
        read_video(large)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(300))
    pytest.importorskip("cv2")
    with pytest.raises(UploadError, match="broken.mp4: cannot be opened as a video"):
        read_video(broken)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("0,1,10,10,20,40,1", "frame numbers 1..5"),
        ("2,1,10,10,-3,40,1", "positive width and height"),
        ("2,1,-50,10,20,40,1", "inside the 128x96 frame"),
        ("2,1,10,10", "at least 6 finite values"),
        ("2,a,10,10,20,40", "is not numbers"),
    ],
)
def test_detections_are_checked_against_the_video(tmp_path, row, message):
    video = Video(np.zeros((5, 96, 128, 3), dtype=np.uint8), 10)
    detections = tmp_path / "det.txt"
    detections.write_text(f"1,1,10,10,20,40,1\n{row}\n")
    with pytest.raises(UploadError, match=message):
        read_mot_boxes(detections, video)
    detections.write_text("1,1,10,10,20,40,1\n5,2,100,50,40,60,0.5\n")
    assert read_mot_boxes(detections, video).shape == (2, 7)


def test_threshold_separates_separable_pairs_and_needs_both_kinds():
    same, different = np.array([0.8, 0.9, 0.95]), np.array([0.1, 0.3, 0.5, 0.6])
    choice = choose_threshold(same, different, "pairs")
    assert 0.6 < choice.threshold <= 0.8 and choice.balanced_accuracy == 1.0
    overlapping = choose_threshold(np.array([0.5, 0.7]), np.array([0.6, 0.2]), "pairs")
    assert overlapping.balanced_accuracy == 0.75
    with pytest.raises(ValueError, match="0 same-person"):
        choose_threshold(np.array([]), different, "a split of one identity")
