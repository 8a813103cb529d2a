"""``load_reid_dataset``: the one entry point from a dataset name and folder to a ``DatasetDict``.

``datasets`` 5 no longer runs loading scripts, so the package's builders are instantiated
directly here, with a cache hash covering the package version and every option.
"""

from __future__ import annotations

from pathlib import Path

import datasets

from .registry import DATASET_BUILDERS, DATASET_NAMES, builder_name, builder_options
from .synthetic import SYNTHETIC_MASK_DIR, SYNTHETIC_VIDEO_DIR, SYNTHETIC_VIDEO_MASK_DIR, write_synthetic_reid

__all__ = [
    "DATASET_BUILDERS",
    "DATASET_NAMES",
    "TRAIN_ONLY_COLUMNS",
    "build_reid_builder",
    "load_reid_dataset",
]
TRAIN_ONLY_COLUMNS = ("label", "part_masks")


def build_reid_builder(name: str, data_dir: str | Path, *, cache_dir: str | Path | None = None, **options):
    """The configured builder for ``name`` (not yet prepared); options are its config fields."""
    if name not in DATASET_BUILDERS:  # "synthetic" is a folder for another builder: see load_reid_dataset
        raise ValueError(f"unknown dataset name {name!r}; expected one of {list(DATASET_NAMES)}")
    builder_cls = DATASET_BUILDERS[name]
    known = set(builder_options(name))
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(
            f"{name}: unknown option(s) {unknown}; expected some of {sorted(known - {'data_files'})}"
        )
    return builder_cls(
        data_dir=str(data_dir), cache_dir=None if cache_dir is None else str(cache_dir), **options
    )


def load_reid_dataset(
    name: str,
    data_dir: str | Path,
    *,
    cache_dir: str | Path | None = None,
    video: bool = False,
    **options,
) -> datasets.DatasetDict:
    """Prepare (or reuse from cache) and return the ``DatasetDict`` of a dataset on disk.

    Args:
        name: one of ``DATASET_NAMES``: images ``market1501``, ``dukemtmc_reid``, ``msmt17``,
            ``cuhk03``, ``viper``, ``grid``, ``ilids``, ``prid``, ``occluded_duke``, ``folder``; tracklets
            ``mars``, ``dukemtmc_videoreid``, ``ilidsvid``, ``prid2011``; ``cifar100``; ``synthetic``.
        data_dir: the dataset's top-level folder as distributed, or its parent. For ``synthetic`` the
            set is generated there with default settings when the folder holds none yet.
        cache_dir: Arrow cache root (default: the ``datasets`` cache).
        video: ``synthetic`` only: return the tracklet version (DukeMTMC-VideoReID layout).
        **options: builder config fields, e.g. ``embed_images=False``, ``mask_dir=...``,
            ``with_distractors=True`` (Market-1501), ``combine_train_val=True`` (MSMT17),
            ``gallery_protocol="torchreid"`` (MARS), ``skip_corrupt=True``, ``split_id=3`` (multi-split
            sets), ``cuhk03_labeled=True``, ``combineall=True``, ``num_proc=8``.

    Returns:
        reID sets: ``train``/``query``/``gallery`` splits with ``image`` (or ``frames``), ``pid``,
        ``camid`` (0-based; -1 = camera unknown), ``path``; train also has ``label`` and, with masks, ``part_masks``.
        CIFAR-100: ``train``/``test`` with ``image``, ``fine_label``, ``coarse_label``.
    """
    if name == "synthetic":
        name, data_dir, options = _synthetic_source(Path(data_dir), video, options)
    elif video:
        raise ValueError(
            f"{name}: video=True applies to 'synthetic' only; use 'mars' or 'dukemtmc_videoreid'"
        )
    builder = build_reid_builder(name, data_dir, cache_dir=cache_dir, **options)
    try:
        builder.download_and_prepare(num_proc=builder.config.num_proc)
    except datasets.exceptions.DatasetGenerationError as error:
        # Surface our own file errors (which name the file) rather than datasets' generic wrapper.
        if isinstance(error.__cause__, (ValueError, OSError)):
            raise error.__cause__ from error
        raise
    dataset_dict = builder.as_dataset()
    for split in list(dataset_dict):
        if split != "train":
            drop = [column for column in TRAIN_ONLY_COLUMNS if column in dataset_dict[split].column_names]
            dataset_dict[split] = dataset_dict[split].remove_columns(drop)
    return dataset_dict


def _synthetic_source(data_dir: Path, video: bool, options: dict) -> tuple[str, Path, dict]:
    """Generate the synthetic set when absent; return the builder name, folder and options to load it."""
    if not (data_dir / "bounding_box_train").is_dir():
        write_synthetic_reid(data_dir, tracklets=video)
    elif video and not (data_dir / SYNTHETIC_VIDEO_DIR).is_dir():
        raise FileNotFoundError(
            f"synthetic: {data_dir} holds an image set without tracklets; expected {data_dir / SYNTHETIC_VIDEO_DIR} "
            "(write it with write_synthetic_reid(..., tracklets=True) into an empty folder)"
        )
    folder, mask_dir = (
        (data_dir / SYNTHETIC_VIDEO_DIR, SYNTHETIC_VIDEO_MASK_DIR)
        if video
        else (data_dir, SYNTHETIC_MASK_DIR)
    )
    return builder_name("synthetic", video), folder, {"mask_dir": str(data_dir / mask_dir), **options}
