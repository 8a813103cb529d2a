"""Checks on a builder's records before anything is prepared: every file lies inside the data folder, and
every image decodes (or, on request, corrupt ones are skipped with one warning)."""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

from datasets.utils.py_utils import map_nested

from .image_files import image_problem, link_problem
from .records import ImageRecord, TrackletRecord


def record_paths(record: ImageRecord | TrackletRecord) -> Sequence[Path]:
    """The files of a record: its image, or a tracklet's frames."""
    return record.frame_paths if isinstance(record, TrackletRecord) else (record.path,)


def check_containment(title: str, root: Path, records_by_split: dict[str, list]) -> None:
    """Refuse files outside the data folder, by name or through a symlinked file."""
    problems = []
    for records in records_by_split.values():
        for record in records:
            for path in record_paths(record):
                if root not in Path(os.path.normpath(path)).parents:
                    problems.append(f"  {path}: lies outside the data folder {root}")
                elif (problem := link_problem(root, path)) is not None:
                    problems.append(f"  {path.relative_to(root)}: {problem}")
    if problems:
        raise ValueError(
            f"{title}: {len(problems)} file(s) point outside {root}; expected every image "
            "inside the data folder:\n" + "\n".join(problems[:20])
        )


def drop_or_reject_corrupt(
    title: str,
    root: Path,
    records_by_split: dict[str, list],
    *,
    mode: str,
    num_proc: int | None,
    skip_corrupt: bool,
) -> dict[str, list]:
    """Check every image (``mode``: header or decode); corrupt ones are an error, or with ``skip_corrupt``
    dropped (their records with them) with one warning listing them all."""
    paths = list(
        dict.fromkeys(p for records in records_by_split.values() for r in records for p in record_paths(r))
    )
    # datasets' own multiprocessing helper: a pool of num_proc workers over batches of paths
    found = map_nested(
        functools.partial(image_problem, mode=mode),
        paths,
        num_proc=num_proc,
        disable_tqdm=False,
        desc=f"{title}: checking images ({mode})",
    )
    problems = {path: problem for path, problem in zip(paths, found) if problem is not None}
    if not problems:
        return records_by_split
    listing = "\n".join(f"  {path.relative_to(root)}: {problem}" for path, problem in problems.items())
    if not skip_corrupt:
        raise ValueError(
            f"{title}: {len(problems)} corrupt image(s) under {root}, expected decodable "
            f"images (pass skip_corrupt=True to skip them):\n{listing}"
        )
    warnings.warn(
        f"{title}: skipped {len(problems)} corrupt image(s) under {root}:\n{listing}",
        stacklevel=2,
    )
    return {
        split: [r for r in records if not any(p in problems for p in record_paths(r))]
        for split, records in records_by_split.items()
    }
