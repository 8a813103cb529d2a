"""``open_gallery(uri)``: one string chooses the backend, so every command takes a ``--gallery URI``.

* ``memory://`` an empty in-memory gallery; ``memory://FOLDER`` one kept in FOLDER between sessions;
* ``http://host:19530`` / ``https://...`` a Milvus server or cluster; ``milvus://host:port`` is the same over http;
  ``FILE.db`` (or ``milvus-lite://FILE.db``) a local milvus-lite file;
* anything else (``FOLDER``, ``lancedb://FOLDER``, ``s3://bucket/path``, ...) a LanceDB gallery, the default.
"""

from __future__ import annotations

import argparse
from typing import Any

from .gallery import Gallery
from .lance import LanceGallery
from .memory import MemoryGallery
from .milvus import MilvusGallery

GALLERY_URIS = "gallery URI: FOLDER (LanceDB), memory://FOLDER, FILE.db, http://host:19530"


def add_gallery_argument(parser: argparse.ArgumentParser) -> None:
    """The required ``--gallery URI`` of the commands that write or read a gallery."""
    parser.add_argument("--gallery", required=True, help=GALLERY_URIS)


def backend_of(uri: str) -> str:
    """``memory``, ``milvus`` or ``lancedb``: which backend a URI names."""
    if uri.startswith("memory:"):
        return "memory"
    if uri.startswith(("http://", "https://", "milvus://", "milvus-lite://")) or uri.endswith(".db"):
        return "milvus"
    return "lancedb"


def open_gallery(uri: str, dim: int | None = None, **options: Any) -> Gallery:
    """Open (or create on the first add) the gallery at ``uri``; ``options`` go to the backend's constructor."""
    if not uri:
        raise ValueError(
            "gallery: expected a URI (a folder, memory://, FILE.db or http://host:19530), found ''"
        )
    backend = backend_of(uri)
    if backend == "memory":
        folder = uri.removeprefix("memory:").removeprefix("//")
        return MemoryGallery(dim, folder or None)
    if backend == "milvus":
        address = uri.removeprefix("milvus-lite://")
        address = (
            "http://" + address.removeprefix("milvus://") if address.startswith("milvus://") else address
        )
        return MilvusGallery(address, dim, **options)
    return LanceGallery(uri.removeprefix("lancedb://"), dim, **options)
