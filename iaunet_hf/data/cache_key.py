"""The prepared cache's key: package version, builder, options and the dataset's protocol files.

A prepared Arrow cache is reused only while everything that decides its content is unchanged:
the package version, the builder, every option, and the small files that define a protocol
(CSV and list files, split files, ``.mat`` tables: their bytes; large ones by size and time).
Image folders are not walked: images are the data, their names the layout, and the tests of a
self-contained cache delete them after preparing.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
from pathlib import Path

import datasets

PROTOCOL_SUFFIXES = (".csv", ".txt", ".list", ".mat", ".json")
_CONTENT_LIMIT = 1 << 20  # files up to 1 MiB are hashed by content, larger ones by (size, mtime)
#: config fields that do not change the prepared data
UNHASHED_OPTIONS = frozenset({"num_proc"})


def package_version() -> str:
    """The installed iaunet-hf version, part of every cache hash so a new release re-prepares."""
    try:
        return importlib.metadata.version("iaunet-hf")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def _fingerprint(path: Path) -> tuple:
    stat = path.stat()
    if stat.st_size <= _CONTENT_LIMIT:
        return (path.name, path.read_bytes())
    return (path.name, stat.st_size, stat.st_mtime_ns)


def protocol_files_fingerprint(data_dir: str | Path | None, split_file: str | None = None) -> list:
    """Fingerprints of the protocol files in ``data_dir`` and its sub-folders (two levels), and ``split_file``."""
    found = []
    if data_dir and Path(data_dir).expanduser().is_dir():
        top = Path(data_dir).expanduser()
        folders = [top, *sorted(p for p in top.iterdir() if p.is_dir())]
        for folder in folders:
            for path in sorted(folder.iterdir()):
                if path.suffix.lower() in PROTOCOL_SUFFIXES and path.is_file():
                    found.append((path.relative_to(top).as_posix(), *_fingerprint(path)[1:]))
    if split_file and Path(split_file).expanduser().is_file():
        found.append(("split_file", *_fingerprint(Path(split_file).expanduser())[1:]))
    return found


def default_cache_hash(builder_cls: type, config_kwargs: dict) -> str:
    """Hash of (package version, builder, options, protocol files): the cache changes when any of them does."""
    field_names = {field.name for field in dataclasses.fields(builder_cls.BUILDER_CONFIG_CLASS)}
    options = sorted(
        (key, str(value))
        for key, value in config_kwargs.items()
        if key in field_names and key not in UNHASHED_OPTIONS
    )
    files = protocol_files_fingerprint(config_kwargs.get("data_dir"), config_kwargs.get("split_file"))
    return datasets.fingerprint.Hasher.hash([package_version(), builder_cls.__name__, options, files])
