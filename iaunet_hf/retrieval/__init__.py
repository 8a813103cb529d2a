"""Retrieval: persistent vector galleries (memory, LanceDB, Milvus) behind one interface, and the
``iaunet-embed`` / ``iaunet-search`` commands that fill and query them through ``iaunet_hf.inference``.

The database clients are optional (the ``[gallery]`` extra) and imported only when a backend is opened.
"""

from .filters import parse_where
from .gallery import Gallery, SearchHits
from .memory import MemoryGallery
from .schema import COLUMNS
from .uri import backend_of, open_gallery

__all__ = ["COLUMNS", "Gallery", "MemoryGallery", "SearchHits", "backend_of", "open_gallery", "parse_where"]
