"""The running app driven in headless Chromium (the system browser, through Playwright) as a person uses it:
upload a query and see the expected top-1, see attention drawn, track the synthetic sequence, and read the
message a bad upload gets. Screenshots are saved (see conftest's ``screenshot_dirs``)."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from app_inputs import write_video_and_detections
from PIL import Image

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.is_file():
    pytest.skip(
        "no system Chromium (Debian: apt-get install chromium chromium-driver)", allow_module_level=True
    )

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
TIMEOUT_MS = 90_000  # generous: the first search embeds the gallery, on shared CPUs


@pytest.fixture(scope="module")
def page(app_server, tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium_profile")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1280, "height": 900},
        )  # fmt: skip
        page = browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(app_server.url)
        page.get_by_role("tab", name="Search").wait_for()
        yield page
        browser.close()


def save_screenshot(target, name: str, folders: list[Path], full_page: bool = True) -> bytes:
    """A PNG of the page (whole, or what the window shows), into every screenshot folder."""
    png = target.screenshot(full_page=full_page)
    for folder in folders:
        (folder / name).write_bytes(png)
    return png


def upload(page, elem_id: str, path: Path) -> None:
    page.locator(f"#{elem_id} input[type=file]").set_input_files(str(path))
    page.locator(f"#{elem_id}").get_by_text(path.name).first.wait_for()


def test_search_upload_shows_the_expected_top1(page, app_server, screenshot_dirs, tmp_path):
    target = sorted((app_server.data_dir / "bounding_box_test").glob("*.jpg"))[3]
    query = shutil.copy(target, tmp_path / "query.jpg")
    page.get_by_role("tab", name="Search").click()
    upload(page, "search-upload", Path(query))
    page.locator("#search-button").click()
    first_row = page.locator("#search-table tbody tr").first
    sync_api.expect(first_row).to_contain_text(target.name, timeout=TIMEOUT_MS)
    sync_api.expect(first_row).to_contain_text("1", timeout=TIMEOUT_MS)  # rank 1
    page.locator("#search-matches img").first.wait_for()
    save_screenshot(page, "search.png", screenshot_dirs)


def test_bad_uploads_get_messages_in_the_browser(page, screenshot_dirs, tmp_path):
    page.get_by_role("tab", name="Search").click()
    text = tmp_path / "holiday.jpg"
    text.write_text("this is not an image")
    page.locator("#search-upload button[aria-label='Clear']").first.click()
    upload(page, "search-upload", text)
    page.locator("#search-button").click()
    message = page.get_by_text("holiday.jpg: not an image file").first
    sync_api.expect(message).to_be_visible(timeout=TIMEOUT_MS)
    page.wait_for_timeout(500)  # the message slides in
    save_screenshot(
        page, "bad_upload.png", screenshot_dirs, full_page=False
    )  # the message floats on the window
    page.reload()  # the next views start clean
    page.get_by_role("tab", name="Attention").click()
    huge = tmp_path / "panorama.png"
    Image.new("1", (5000, 5000)).save(huge)  # 25 Mpixel of zeros: a small file, a large decode
    upload(page, "attention-upload", huge)
    page.locator("#attention-button").click()
    sync_api.expect(page.get_by_text("panorama.png: 5000x5000 pixels is too large").first).to_be_visible(
        timeout=TIMEOUT_MS
    )
    page.get_by_role("tab", name="Track").click()
    page.get_by_text("... or upload a video and its detections").click()
    clip, outside, _ = write_video_and_detections(tmp_path, outside=True)
    upload(page, "track-video", clip)
    upload(page, "track-detections", outside)
    page.locator("#track-upload-button").click()
    sync_api.expect(page.get_by_text("det.txt: row 3").first).to_be_visible(timeout=TIMEOUT_MS)
    page.reload()
    page.get_by_role("tab", name="Search").wait_for()


def test_attention_view_draws_non_blank_images(page, screenshot_dirs):
    page.get_by_role("tab", name="Attention").click()
    page.locator("#attention-button").click()
    overlays = page.locator("#attention-overlays img")
    overlays.wait_for()
    page.locator("#attention-relations img").first.wait_for()
    pixels = np.asarray(Image.open(io.BytesIO(overlays.screenshot())).convert("RGB"), dtype=np.float32)
    assert pixels.std() > 10 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50
    rendered = overlays.evaluate("image => [image.complete, image.naturalWidth]")
    assert rendered[0] and rendered[1] > 100
    save_screenshot(page, "attention.png", screenshot_dirs)


def test_compare_view_shows_the_verdict_and_the_threshold_choice(page, app_server, screenshot_dirs):
    images = sorted((app_server.data_dir / "bounding_box_test").glob("*.jpg"))
    page.get_by_role("tab", name="Compare").click()
    upload(page, "compare-first", images[3])
    upload(page, "compare-second", images[4])
    page.locator("#compare-button").click()
    verdict = page.locator("#compare-verdict")
    sync_api.expect(verdict).to_contain_text("chosen on the validation split", timeout=TIMEOUT_MS)
    page.locator("#compare-threshold-figure img").wait_for()
    save_screenshot(page, "compare.png", screenshot_dirs)


def test_track_view_returns_gifs_of_the_synthetic_sequence(page, app_server, screenshot_dirs):
    pytest.importorskip("boxmot")
    # a fresh page, as a user opening the app for tracking; the sequence at its default length and crowd
    page.goto(app_server.url)
    page.get_by_role("tab", name="Track").click()
    page.locator("#track-synthetic-button").click()
    for elem_id in ("track-appearance", "track-motion"):
        gif = re.compile(r"\.gif(\?.*)?$")
        sync_api.expect(page.locator(f"#{elem_id} img")).to_have_attribute("src", gif, timeout=TIMEOUT_MS)
    sync_api.expect(page.locator("#track-scores")).to_contain_text("botsort+iaunet", timeout=TIMEOUT_MS)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1500)  # the GIFs play a few frames, with their boxes
    save_screenshot(page, "track.png", screenshot_dirs)
