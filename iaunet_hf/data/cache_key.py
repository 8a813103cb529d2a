"""The prepared cache's key: package version, builder, options and the files the builder reads.

A prepared Arrow cache is reused only while everything that decides its content is unchanged:
the package version, the builder, every option, and the data itself. Every path option
(``data_dir``, ``mask_dir``, ``split_file``) enters the key as its absolute path with symlinks
resolved, plus a fingerprint of what lies there: one ``os.scandir`` pass over the whole tree
(symlinked folders followed, each folder once) hashing every entry's relative path, kind, size
and modification time, and the bytes of the small protocol files near the top (CSV, list, split,
``.json`` and ``.mat`` files up to 1 MiB in the folder and two levels below it, and a
``split_file`` up to 1 MiB). No image is opened: a changed, added, removed or moved file changes the key, so a change
of data means a new cache, never a stale one. The cost is one ``stat`` per file: about 2 s per
500k files on a 2-core VM's ext4 (``scripts/benchmark_cache_key.py``, numbers in docs/data.md).
The Arrow cache folder is left out of the walk when it lies inside the data.

A cache therefore cannot be reused once its source files are gone: preparing again then fails
with the builder's own error (``data_dir ... does not exist``). A prepared set that has to outlive
its images is kept with ``DatasetDict.save_to_disk`` or exported as Parquet.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import os
from pathlib import Path

import datasets

PROTOCOL_SUFFIXES = (".csv", ".txt", ".list", ".mat", ".json")
_PROTOCOL_SUFFIXES_BYTES = tuple(suffix.encode() for suffix in PROTOCOL_SUFFIXES)
_CONTENT_LIMIT = 1 << 20  # protocol files up to 1 MiB are hashed by content, larger ones by (size, mtime)
#: protocol files at most this many folders below a path option are hashed by content
#: (data_dir may be the dataset's folder or its parent: MARS's info/*.txt are then two below)
_CONTENT_DEPTH = 2
#: config fields that do not change the prepared data
UNHASHED_OPTIONS = frozenset({"num_proc"})
#: config fields naming a file or folder the builder reads: resolved and fingerprinted
PATH_OPTIONS = ("data_dir", "mask_dir", "split_file")


def package_version() -> str:
    """The installed iaunet-hf version, part of every cache hash so a new release re-prepares."""
    try:
        return importlib.metadata.version("iaunet-hf")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def _is_protocol_file(name: bytes, size: int) -> bool:
    return size <= _CONTENT_LIMIT and name.lower().endswith(_PROTOCOL_SUFFIXES_BYTES)


def _entry_record(entry: os.DirEntry) -> tuple[bytes, bytes, int, int]:
    """(name, kind, size, mtime_ns) of one listed entry, following symlinks; b"x" for a broken one."""
    try:
        stat = entry.stat()
    except OSError:  # a broken symlink, or removed while listing
        return entry.name, b"x", 0, 0
    if entry.is_dir():
        return entry.name, b"d", 0, 0  # a folder's content is hashed entry by entry instead
    kind = b"f" if entry.is_file() else b"o"
    return entry.name, kind, stat.st_size, stat.st_mtime_ns


def _listing(folder: bytes) -> list[tuple[bytes, bytes, int, int]] | None:
    """The sorted records of ``folder``'s entries, or None when it cannot be listed."""
    try:
        with os.scandir(folder) as entries:
            return sorted(_entry_record(entry) for entry in entries)
    except OSError:
        return None


def _hash_tree(digest, top: bytes, skip: bytes | None) -> None:
    """Update ``digest`` with every entry under ``top`` but ``skip``: depth first, each folder's entries in name order."""
    seen: set[tuple[int, int]] = set()
    stack = [(b"", top, 0)]  # (path relative to top, path, depth)
    while stack:
        relative, folder, depth = stack.pop()
        try:
            stat = os.stat(folder)
        except OSError:  # removed while listing
            digest.update(b"U%s\0" % relative)
            continue
        if (stat.st_dev, stat.st_ino) in seen:  # a symlink back up (a loop) or a second link to a folder
            digest.update(b"L%s\0" % relative)
            continue
        seen.add((stat.st_dev, stat.st_ino))
        records = _listing(folder)
        if records is None:
            digest.update(b"U%s\0" % relative)
            continue
        digest.update(b"D%s\0" % relative)
        below = []
        for name, kind, size, mtime in records:
            path = os.path.join(folder, name)
            if path == skip:
                continue
            digest.update(b"%s\0%s\0%d\0%d\0" % (name, kind, size, mtime))
            if kind == b"d":
                below.append((os.path.join(relative, name), path, depth + 1))
            elif kind == b"f" and depth <= _CONTENT_DEPTH and _is_protocol_file(name, size):
                digest.update(_content_hash(path))
        stack.extend(reversed(below))


def _content_hash(path: bytes | Path) -> bytes:
    try:
        return hashlib.blake2b(Path(os.fsdecode(path)).read_bytes(), digest_size=16).digest()
    except OSError:
        return b"unreadable"


def path_fingerprint(value: str | Path, *, skip: str | Path | None = None) -> tuple[str, str]:
    """(absolute path with symlinks resolved, hex digest of the file or tree found there).

    A folder: the listing of its whole tree (see the module docstring), leaving out the folder
    ``skip`` (the Arrow cache, when it lies inside the data). A file: its size, time and, up to
    1 MiB, its bytes. Nothing there: a digest of its own, so a cache prepared from the data is
    never reused without it.
    """
    path = Path(value).expanduser().resolve()
    digest = hashlib.blake2b(digest_size=16)
    if path.is_dir():
        digest.update(b"tree\0")
        skipped = os.fsencode(Path(skip).expanduser().resolve()) if skip else None
        _hash_tree(digest, os.fsencode(path), skipped)
    elif path.is_file():
        stat = path.stat()
        digest.update(b"file\0%d\0%d\0" % (stat.st_size, stat.st_mtime_ns))
        if stat.st_size <= _CONTENT_LIMIT:
            digest.update(_content_hash(path))
    else:
        digest.update(b"missing\0")
    return str(path), digest.hexdigest()


def resolve_path_options(options: dict) -> dict:
    """``options`` with every path option absolute and its symlinks resolved (against today's cwd)."""
    return {
        key: str(Path(value).expanduser().resolve()) if key in PATH_OPTIONS and value else value
        for key, value in options.items()
    }


def default_cache_hash(builder_cls: type, config_kwargs: dict, cache_dir: str | Path | None = None) -> str:
    """Hash of (package version, builder, options, path options' fingerprints): a change in any re-prepares.

    ``cache_dir`` (default: the ``datasets`` cache) is left out of the fingerprinted trees: a cache
    kept inside its own data folder would otherwise change the key each time it is written.
    """
    skip = cache_dir or datasets.config.HF_DATASETS_CACHE
    field_names = {field.name for field in dataclasses.fields(builder_cls.BUILDER_CONFIG_CLASS)}
    options = sorted(
        (key, str(value))
        for key, value in config_kwargs.items()
        if key in field_names and key not in UNHASHED_OPTIONS and key not in PATH_OPTIONS
    )
    paths = [
        (key, *path_fingerprint(config_kwargs[key], skip=skip))
        for key in PATH_OPTIONS
        if key in field_names and config_kwargs.get(key)
    ]
    return datasets.fingerprint.Hasher.hash([package_version(), builder_cls.__name__, options, paths])
