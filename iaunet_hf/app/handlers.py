"""The views' request handlers: inputs as the UI sends them (file paths, dropdown labels, numbers) -> outputs
as it shows them. Bad input raises ``UploadError``/``ValueError`` with a message for the user (``ui`` turns it
into a message in the browser)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from PIL import Image

from .attention import attention_pictures
from .compare import compare_images, threshold_figure
from .context import AppContext
from .search import QueryLabel, search_image
from .track import MotSequence, detections_per_frame, synthetic_sequence, track_sequence
from .uploads import UploadError, open_image, read_mot_boxes, read_video

MAX_TOP_K = 50
MAX_SYNTHETIC_FRAMES, MAX_SYNTHETIC_PEOPLE = 120, 10


def query_image(
    context: AppContext, pick: str | None, upload: str | None
) -> tuple[Image.Image, QueryLabel | None]:
    """The uploaded image (identity unknown), else the picked query-split image (identity known)."""
    if upload:
        return open_image(upload, "query image"), None
    if not pick or context.queries is None:
        raise UploadError("query: expected an uploaded image or a query picked from the dataset")
    index = int(str(pick).split(":")[0])
    if not 0 <= index < len(context.queries):
        raise UploadError(f"query: expected a row in [0, {len(context.queries)}), found {index}")
    row = context.queries[index]
    return row["image"], QueryLabel(int(row["pid"]), int(row["camid"]))


def search(context: AppContext, pick: str | None, upload: str | None, top_k: float):
    """-> query image, [(match image, caption)], rank strip (labelled queries) or None, table rows."""
    k = int(top_k or context.settings.top_k)
    if not 1 <= k <= MAX_TOP_K:
        raise UploadError(f"top-k: expected 1..{MAX_TOP_K}, found {k}")
    image, label = query_image(context, pick, upload)
    result = search_image(context.engine, context.gallery(), image, k, label)
    return image, result.tiles, result.strip, result.rows


def attention(context: AppContext, pick: str | None, upload: str | None):
    """-> part-attention overlays (or None), [(relation heat map, caption)], a note."""
    image, _ = query_image(context, pick, upload)
    pictures = attention_pictures(context.engine, image)
    note = (
        "Rows: IAU stages; columns: the input, then the four part-attention maps (head, upper body, lower body, "
        "shoes) over it. Below: each stage's STIAU part relations and CIAU channel relations."
    )
    if pictures.overlays is None:
        note = "This model has no learned part attention (no STIAU, or patch parts); relations only."
    return pictures.overlays, pictures.relations, note


def threshold_choice(context: AppContext):
    """-> the figure of how the threshold was chosen, its description."""
    choice = context.threshold()
    return threshold_figure(choice), choice.description


def own_threshold(text: str | float | None) -> float | None:
    """The threshold typed in (None when left empty), a cosine similarity in [-1, 1]."""
    if text is None or not str(text).strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise UploadError(f"threshold: expected a number in [-1, 1] or nothing, found {text!r}") from None
    if not -1.0 <= value <= 1.0:
        raise UploadError(f"threshold: expected a cosine similarity in [-1, 1], found {value}")
    return value


def compare(context: AppContext, first: str | None, second: str | None, threshold: str | float | None):
    """-> the two images, the verdict (similarity, decision, threshold used), the threshold figure and text."""
    first_image = open_image(first, "first image")
    second_image = open_image(second, "second image")
    own = own_threshold(threshold)
    figure, description = threshold_choice(context)
    used = context.threshold().threshold if own is None else own
    similarity = compare_images(context.engine, first_image, second_image)
    decision = "the same person" if similarity >= used else "different people"
    origin = "chosen on the validation split" if own is None else "set by you"
    verdict = f"Cosine similarity **{similarity:.3f}**: {decision} at threshold {used:.3f} ({origin})."
    return first_image, second_image, verdict, figure, description


def _track(context: AppContext, sequence: MotSequence):
    output_dir = Path(tempfile.mkdtemp(prefix="iaunet-app-track-"))
    runs = track_sequence(context.engine, sequence, output_dir)
    lines = ["| tracker | IDF1 | tracks |", "| --- | --- | --- |"]
    for run in runs:
        idf1 = "no ground truth" if run.idf1 is None else f"{run.idf1:.3f}"
        lines.append(f"| {run.tracker} | {idf1} | {run.num_tracks} |")
    return str(runs[0].gif), str(runs[1].gif), "\n".join(lines)


def track_synthetic(context: AppContext, num_frames: float, num_people: float, seed: float):
    """-> GIF with appearance, GIF on motion only, a Markdown table of IDF1 per tracker."""
    frames, people = int(num_frames), int(num_people)
    if not 10 <= frames <= MAX_SYNTHETIC_FRAMES or not 1 <= people <= MAX_SYNTHETIC_PEOPLE:
        raise UploadError(
            f"synthetic sequence: expected 10..{MAX_SYNTHETIC_FRAMES} frames and 1..{MAX_SYNTHETIC_PEOPLE} "
            f"people, found {frames} and {people}"
        )
    return _track(context, synthetic_sequence(frames, people, int(seed)))


def track_upload(
    context: AppContext, video_file: str | None, detections_file: str | None, truth_file: str | None
):
    """The uploaded video with its MOT detections (and optional MOT ground truth) -> as ``track_synthetic``."""
    video = read_video(video_file)
    rows = read_mot_boxes(detections_file, video, "detections")
    truth = read_mot_boxes(truth_file, video, "ground truth")[:, :6] if truth_file else None
    detections = detections_per_frame(rows, len(video.frames))
    return _track(context, MotSequence(video, detections, truth))
