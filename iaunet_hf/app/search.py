"""The Search view: a query image -> its top-k gallery matches with scores, camera and, when the query's
identity is known, right or wrong marked (the rank strip of ``evaluation.visualization``)."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from ..evaluation.visualization import rank_strip
from .engine import ReidEngine
from .gallery import Gallery, Match

TABLE_HEADERS = ["rank", "similarity", "identity", "camera", "correct", "file"]


@dataclass(frozen=True)
class QueryLabel:
    """The identity and camera of a query picked from a labelled split."""

    pid: int
    camid: int


@dataclass
class SearchResult:
    matches: list[Match]
    tiles: list[tuple[Image.Image, str]]  # (image, caption) per match, best first
    rows: list[list]  # TABLE_HEADERS per match
    strip: Image.Image | None  # the rank strip, when right/wrong is known


def _camera(match: Match) -> str:
    return "unknown" if match.camid is None or match.camid < 0 else str(match.camid + 1)  # 1-based, as named


def search_image(
    engine: ReidEngine, gallery: Gallery, image: Image.Image, k: int, label: QueryLabel | None = None
) -> SearchResult:
    """Embed the query, rank the gallery by cosine similarity and describe the top ``k``."""
    query = engine.embed_images([image])[0]
    same_view = (label.pid, label.camid) if label else None
    matches = gallery.search(query, k, same_view=same_view)
    correct = [label is not None and match.pid == label.pid for match in matches]
    images = [gallery.image(match.index) for match in matches]
    tiles, rows = [], []
    for rank, (match, picture, is_correct) in enumerate(zip(matches, images, correct), start=1):
        mark = ("right" if is_correct else "wrong") if label else "-"
        identity = "-" if match.pid is None else str(match.pid)
        caption = f"#{rank} {match.score:.3f} id {identity} cam {_camera(match)}" + (
            f" {mark}" if label else ""
        )
        tiles.append((picture, caption))
        rows.append([rank, round(match.score, 4), identity, _camera(match), mark, match.name])
    strip = rank_strip(image, images, correct) if label and matches else None
    return SearchResult(matches, tiles, rows, strip)
