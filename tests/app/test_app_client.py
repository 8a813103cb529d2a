"""Every endpoint of a running ``iaunet-app`` driven through Gradio's own Python client (the fast path)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from app_inputs import write_video_and_detections
from gradio_client import Client, handle_file
from PIL import Image


@pytest.fixture(scope="module")
def client(app_server) -> Client:
    return Client(app_server.url, verbose=False)


def gallery_image(app_server, index: int = 3):
    return sorted((app_server.data_dir / "bounding_box_test").glob("*.jpg"))[index]


def test_search_upload_ranks_the_identical_gallery_image_first(client, app_server, tmp_path):
    target = gallery_image(app_server)
    upload = shutil.copy(target, tmp_path / "my_query.jpg")
    query, tiles, strip, table = client.predict(None, handle_file(str(upload)), 5, api_name="/search")
    rows = table["data"]
    assert rows[0][5] == target.name and rows[0][1] == pytest.approx(1.0, abs=1e-3)
    assert [row[0] for row in rows] == [1, 2, 3, 4, 5] and len(tiles) == 5
    assert all(row[4] == "-" for row in rows) and strip is None  # an upload's identity is unknown


def test_search_pick_marks_right_and_wrong_and_draws_the_rank_strip(client):
    _, tiles, strip, table = client.predict("0: id 9 cam 1", None, 4, api_name="/search")
    rows = table["data"]
    assert {row[4] for row in rows} <= {"right", "wrong"}
    assert all((row[4] == "right") == (row[2] == "9") for row in rows)
    assert Image.open(strip).width > Image.open(tiles[0]["image"]).width


def test_attention_draws_overlays_and_relation_heat_maps(client, app_server):
    overlays, relations, note = client.predict(
        None, handle_file(str(gallery_image(app_server))), api_name="/attention"
    )
    pixels = np.asarray(Image.open(overlays).convert("RGB"), dtype=np.float32)
    assert pixels.std() > 10  # drawn, not blank
    captions = [item["caption"] for item in relations]
    assert any("STIAU part relations" in c for c in captions) and any("CIAU channel" in c for c in captions)
    assert "part-attention maps" in note


def test_compare_and_the_threshold_chosen_on_the_validation_split(client, app_server):
    image = handle_file(str(gallery_image(app_server)))
    _, _, verdict, figure, description = client.predict(image, image, "", api_name="/compare")
    assert "similarity **1.000**: the same person" in verdict and "chosen on the validation split" in verdict
    assert "synthetic train split" in description and Image.open(figure).width > 100
    _, _, verdict, _, _ = client.predict(
        image, handle_file(str(gallery_image(app_server, 0))), 1.0, api_name="/compare"
    )
    assert "different people at threshold 1.000 (set by you)" in verdict


def test_track_synthetic_returns_both_gifs_with_idf1(client):
    pytest.importorskip("boxmot")
    appearance, motion, scores = client.predict(12, 3, 0, api_name="/track_synthetic")
    for gif in (appearance, motion):
        with Image.open(gif) as image:
            assert image.format == "GIF" and image.n_frames > 6  # Pillow merges identical frames
    assert "| botsort+iaunet | 0." in scores and "| botsort (motion only) | 0." in scores


def test_track_upload_with_ground_truth(client, tmp_path):
    pytest.importorskip("boxmot")
    gif, detections, truth = write_video_and_detections(tmp_path)
    appearance, motion, scores = client.predict(
        handle_file(str(gif)), handle_file(str(detections)), handle_file(str(truth)), api_name="/track_upload"
    )
    assert (
        Image.open(appearance).n_frames > 1 and Image.open(motion).n_frames > 1
    )  # Pillow merges equal frames
    assert "no ground truth" not in scores and "| botsort+iaunet | " in scores


def refusal(client, *inputs, api_name: str) -> str:
    with pytest.raises(Exception) as raised:  # gradio_client raises its AppError with the server's message
        client.predict(*inputs, api_name=api_name)
    return str(raised.value)


def test_bad_uploads_get_messages_and_the_server_keeps_serving(client, app_server, tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    huge = tmp_path / "huge.png"
    Image.new("1", (5000, 5000)).save(huge)  # 25 Mpixel of zeros: a small file, a large decode
    broken_video = tmp_path / "broken.mp4"
    broken_video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    gif, outside, _ = write_video_and_detections(tmp_path, outside=True)

    assert "notes.jpg: not an image file" in refusal(
        client, None, handle_file(str(text)), 5, api_name="/search"
    )
    assert "huge.png: 5000x5000 pixels is too large" in refusal(
        client, None, handle_file(str(huge)), api_name="/attention"
    )
    assert "broken.mp4: cannot be opened as a video" in refusal(
        client, handle_file(str(broken_video)), handle_file(str(outside)), None, api_name="/track_upload"
    )
    message = refusal(
        client, handle_file(str(gif)), handle_file(str(outside)), None, api_name="/track_upload"
    )
    assert "det.txt: row 3" in message and "inside the 128x96 frame" in message
    assert client.predict("0: id 9 cam 1", None, 2, api_name="/search")[3]["data"]  # still serving
    assert app_server.process.poll() is None
