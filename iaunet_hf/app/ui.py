"""The Gradio face: four tabs (Search, Attention, Compare, Track) over ``handlers``, one named API endpoint
per action (``gradio_client`` calls them by name). Any error becomes a message in the browser (``gr.Error``);
the server keeps serving."""

from __future__ import annotations

import logging
from collections.abc import Callable

import gradio as gr

from . import handlers
from .context import AppContext
from .search import TABLE_HEADERS
from .uploads import UploadError

logger = logging.getLogger(__name__)
IMAGE_TYPES = ["image"]
VIDEO_TYPES = [".mp4", ".avi", ".mov", ".mkv", ".webm", ".gif"]


def shown_errors(handler: Callable, context: AppContext) -> Callable:
    """``handler(context, *inputs)`` with refusals shown as they are and anything else as a short message."""

    def run(*inputs, progress=gr.Progress(track_tqdm=True)):  # noqa: B008 - Gradio's own idiom
        try:
            return handler(context, *inputs)
        except (UploadError, ValueError, FileNotFoundError) as error:
            raise gr.Error(str(error), print_exception=False) from error
        except Exception as error:  # never let one request take the server down; log it for the operator
            logger.exception("%s failed", handler.__name__)
            raise gr.Error(f"{handler.__name__} failed: {type(error).__name__}: {error}") from error

    # not functools.wraps: Gradio reads the signature (through __wrapped__) to find the Progress parameter
    run.__name__ = run.__qualname__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


def query_inputs(context: AppContext, tab: str) -> tuple[gr.Dropdown, gr.File]:
    choices = context.query_choices()
    pick = gr.Dropdown(
        choices=choices, value=choices[0] if choices else None, label="Pick a query from the dataset",
        elem_id=f"{tab}-pick", visible=bool(choices),
    )  # fmt: skip
    upload = gr.File(label="... or upload a person image (wins over the pick)", file_types=IMAGE_TYPES,
                     type="filepath", elem_id=f"{tab}-upload")  # fmt: skip
    return pick, upload


def search_tab(context: AppContext) -> None:
    with gr.Row():
        with gr.Column(scale=1):
            pick, upload = query_inputs(context, "search")
            top_k = gr.Slider(1, handlers.MAX_TOP_K, value=context.settings.top_k, step=1, label="top-k")
            button = gr.Button("Search", variant="primary", elem_id="search-button")
        with gr.Column(scale=3):
            query = gr.Image(label="Query", type="pil", height=256, elem_id="search-query")
            matches = gr.Gallery(label="Top matches: rank, similarity, identity, camera", columns=5,
                                 height="auto", elem_id="search-matches")  # fmt: skip
            strip = gr.Image(label="Rank strip (green right, red wrong)", type="pil", elem_id="search-strip")
            table = gr.Dataframe(headers=TABLE_HEADERS, label="Matches", elem_id="search-table")
    button.click(shown_errors(handlers.search, context), [pick, upload, top_k], [query, matches, strip, table],
                 api_name="search")  # fmt: skip


def attention_tab(context: AppContext) -> None:
    with gr.Row():
        with gr.Column(scale=1):
            pick, upload = query_inputs(context, "attention")
            button = gr.Button("Show attention", variant="primary", elem_id="attention-button")
        with gr.Column(scale=3):
            note = gr.Markdown(elem_id="attention-note")
            overlays = gr.Image(
                label="Part attention per IAU stage", type="pil", elem_id="attention-overlays"
            )
            relations = gr.Gallery(label="Part and channel relations", columns=2, height="auto",
                                   elem_id="attention-relations")  # fmt: skip
    button.click(shown_errors(handlers.attention, context), [pick, upload], [overlays, relations, note],
                 api_name="attention")  # fmt: skip


def compare_tab(context: AppContext) -> None:
    with gr.Row():
        first = gr.File(label="First image", file_types=IMAGE_TYPES, type="filepath", elem_id="compare-first")
        second = gr.File(
            label="Second image", file_types=IMAGE_TYPES, type="filepath", elem_id="compare-second"
        )
        with gr.Column():
            # a text box: a Number field cannot be empty in the browser (it sends 0)
            threshold = gr.Textbox(
                label="Threshold (empty: chosen on the validation split)", elem_id="compare-threshold"
            )
            button = gr.Button("Compare", variant="primary", elem_id="compare-button")
    with gr.Row():
        first_image = gr.Image(label="First", type="pil", height=256)
        second_image = gr.Image(label="Second", type="pil", height=256)
    verdict = gr.Markdown(elem_id="compare-verdict")
    with gr.Accordion("How the threshold was chosen", open=True):
        figure = gr.Image(label="Validation pairs", type="pil", elem_id="compare-threshold-figure")
        description = gr.Markdown()
        explain = gr.Button("Choose the threshold on the validation split")
    explain.click(
        shown_errors(handlers.threshold_choice, context), [], [figure, description], api_name="threshold"
    )
    button.click(shown_errors(handlers.compare, context), [first, second, threshold],
                 [first_image, second_image, verdict, figure, description], api_name="compare")  # fmt: skip


def track_tab(context: AppContext) -> None:
    gr.Markdown(
        "BoT-SORT with the IAUnet encoder (left) and on motion alone (right), same detections and settings."
    )
    with gr.Row():
        frames = gr.Slider(
            10, handlers.MAX_SYNTHETIC_FRAMES, value=40, step=1, label="frames", elem_id="track-frames"
        )
        people = gr.Slider(
            1, handlers.MAX_SYNTHETIC_PEOPLE, value=5, step=1, label="people", elem_id="track-people"
        )
        seed = gr.Number(value=0, precision=0, label="seed")
        synthetic = gr.Button("Track the synthetic stop-and-turn sequence", variant="primary",
                              elem_id="track-synthetic-button")  # fmt: skip
    with gr.Accordion("... or upload a video and its detections (MOT text: frame,id,left,top,width,height,conf)",
                      open=False):  # fmt: skip
        with gr.Row():
            video = gr.File(label="Video", file_types=VIDEO_TYPES, type="filepath", elem_id="track-video")
            detections = gr.File(
                label="Detections", file_types=[".txt"], type="filepath", elem_id="track-detections"
            )
            truth = gr.File(label="Ground truth (optional, for IDF1)", file_types=[".txt"], type="filepath",
                            elem_id="track-truth")  # fmt: skip
        upload = gr.Button("Track the upload", elem_id="track-upload-button")
    with gr.Row():
        with_appearance = gr.Image(label="BoT-SORT + IAUnet", type="filepath", elem_id="track-appearance")
        motion_only = gr.Image(label="BoT-SORT, motion only", type="filepath", elem_id="track-motion")
    scores = gr.Markdown(elem_id="track-scores")
    outputs = [with_appearance, motion_only, scores]
    synthetic.click(shown_errors(handlers.track_synthetic, context), [frames, people, seed], outputs,
                    api_name="track_synthetic")  # fmt: skip
    upload.click(shown_errors(handlers.track_upload, context), [video, detections, truth], outputs,
                 api_name="track_upload")  # fmt: skip


def build_app(context: AppContext) -> gr.Blocks:
    """The four views over one loaded model and dataset."""
    settings = context.settings
    with gr.Blocks(title="IAUnet person re-identification") as app:
        gr.Markdown(
            f"## IAUnet person re-identification\nModel `{settings.model}` on {context.engine.device}; "
            f"dataset `{settings.dataset}` at `{settings.data_dir}` (gallery: `{settings.gallery_split}` split)."
        )
        for title, tab in (("Search", search_tab), ("Attention", attention_tab), ("Compare", compare_tab),
                           ("Track", track_tab)):  # fmt: skip
            with gr.Tab(title, id=title.lower()):
                tab(context)
    return app
