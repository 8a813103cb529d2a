"""Evaluation and retrieval: exact reID metrics, chunked evaluation from features, re-ranking,
feature extraction, a searchable gallery index and the ``evaluate`` metric module.

``METRIC_PATH`` is the folder of the ``evaluate`` module: ``evaluate.load(METRIC_PATH)``.
"""

from pathlib import Path

from ..inference.embedding import embed, model_input_config
from .distances import evaluate_reid_features, pairwise_distance
from .extraction import evaluate_model, extract_features
from .index import GalleryIndex, SearchResult, faiss_available
from .metrics import evaluate_reid
from .rerank import k_reciprocal_rerank

METRIC_PATH = str(Path(__file__).resolve().parent / "reid_metric")

__all__ = [
    "METRIC_PATH",
    "GalleryIndex",
    "SearchResult",
    "embed",
    "evaluate_model",
    "evaluate_reid",
    "evaluate_reid_features",
    "extract_features",
    "faiss_available",
    "k_reciprocal_rerank",
    "model_input_config",
    "pairwise_distance",
]
