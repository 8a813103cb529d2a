"""Shared machinery of every reID builder: root discovery, junk dropping, labels, image checks, masks.

Concrete builders (one file per dataset under ``builders/``) only parse their folder layout into
``ImageRecord``/``TrackletRecord`` lists; this module turns those into Arrow rows the same way for
all of them, so the protocol rules (junk pid -1 dropped, distractors pid 0 kept, contiguous
``label`` in sorted pid order) cannot drift between datasets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import datasets

from .cache_key import default_cache_hash, resolve_path_options
from .image_files import VERIFY_MODES, embeddable_bytes
from .mask_attachment import encoded_masks_of, find_mask_sources, report_empty_masks
from .record_checks import check_containment, drop_or_reject_corrupt, record_paths
from .records import ImageRecord, TrackletRecord

REID_SPLITS: tuple[str, ...] = ("train", "query", "gallery")
JUNK_PID = -1
DISTRACTOR_PID = 0
UNKNOWN_CAMID = -1  # camera unknown: evaluation then filters no same-camera gallery entries


@dataclasses.dataclass
class ReIDConfig(datasets.BuilderConfig):
    """Options shared by all reID builders.

    Attributes:
        embed_images: store image bytes in the Arrow cache (self-contained, pushable); False keeps
            absolute path references, for sets too large to copy.
        mask_dir: folder of part masks (``official`` or ``compact`` layout, see ``part_masks``)
            attached to the train split as a ``part_masks`` column.
        allow_missing_masks: train images without masks get ``part_masks=None`` instead of an error.
        verify_images: check every image once while preparing, so corrupt files fail early.
        verify_mode: ``header`` (default: open and verify each file's header and structure, cheap)
            or ``decode`` (decode every image fully).
        skip_corrupt: with ``verify_images``, skip corrupt files with one warning listing them all
            instead of raising.
        combineall: train on train + query + gallery (torchreid's ``combineall``; distractors pid 0
            left out, an image listed twice taken once); query and gallery stay as they are.
        num_proc: processes for the image check and for writing the Arrow shards (not part of the
            cache hash: it changes how, not what, is prepared).
    """

    embed_images: bool = True
    mask_dir: str | None = None
    allow_missing_masks: bool = False
    verify_images: bool = True
    verify_mode: str = "header"
    skip_corrupt: bool = False
    combineall: bool = False
    num_proc: int | None = None


def combined_train_records(records_by_split: dict[str, list]) -> list:
    """torchreid's ``combineall``: train + query + gallery, distractors (pid 0) out, duplicates once."""
    seen, combined = set(), []
    for split in ("train", "query", "gallery"):
        for record in records_by_split.get(split, []):
            key = getattr(record, "path", None) or getattr(record, "frame_paths", None)
            if (split != "train" and record.pid == DISTRACTOR_PID) or key in seen:
                continue
            seen.add(key)
            combined.append(record)
    return combined


class ReIDBuilderBase(datasets.GeneratorBasedBuilder):
    """Base of the image and video reID builders; subclasses set the class attributes and ``_collect``."""

    BUILDER_CONFIG_CLASS = ReIDConfig
    VERSION = datasets.Version("1.0.0")
    #: human-readable dataset name used in every error message
    DATASET_TITLE = "reID dataset"
    #: sub-folders (or files) that identify the dataset's top-level folder
    ROOT_MARKERS: tuple[str, ...] = ()
    SPLITS: tuple[str, ...] = REID_SPLITS

    def __init_subclass__(cls, config: type[ReIDConfig] | None = None, **kwargs):
        """``class X(ReIDImageBuilder, config=XConfig)`` sets X's options class (``BUILDER_CONFIG_CLASS``,
        inherited when not given) and its one config, ``default`` at version 1.0.0 (``BUILDER_CONFIGS``,
        unless the class lists its own)."""
        super().__init_subclass__(**kwargs)
        if config is not None:
            cls.BUILDER_CONFIG_CLASS = config
        if "BUILDER_CONFIGS" not in cls.__dict__:
            cls.BUILDER_CONFIGS = [
                cls.BUILDER_CONFIG_CLASS(name="default", version=datasets.Version("1.0.0"))
            ]

    def __init__(self, *args, hash: str | None = None, **kwargs):
        kwargs = resolve_path_options(kwargs)  # the folders fingerprinted in the key are the ones read
        config_kwargs = {key: value for key, value in kwargs.items() if key not in {"cache_dir", "info"}}
        hash = hash or default_cache_hash(type(self), config_kwargs, kwargs.get("cache_dir"))
        super().__init__(*args, hash=hash, **kwargs)

    # -- to implement ---------------------------------------------------------------------------
    def _collect(self, root: Path) -> dict[str, list]:
        """Parse the layout under ``root`` into {split: [ImageRecord | TrackletRecord]} (junk included)."""
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------------
    def locate_root(self) -> Path:
        """The dataset's top-level folder: ``data_dir`` itself or, as a kindness, one child of it."""
        if not self.config.data_dir:
            raise ValueError(f"{self.DATASET_TITLE}: data_dir is required, got {self.config.data_dir!r}")
        data_dir = Path(self.config.data_dir).expanduser().resolve()
        if not data_dir.is_dir():
            raise FileNotFoundError(
                f"{self.DATASET_TITLE}: data_dir {data_dir} does not exist or is not a folder"
            )
        if self._is_root(data_dir):
            return data_dir
        for child in sorted(data_dir.iterdir()):
            if child.is_dir() and self._is_root(child):
                return child
        missing = [marker for marker in self.ROOT_MARKERS if not (data_dir / marker).exists()]
        raise FileNotFoundError(
            f"{self.DATASET_TITLE}: {data_dir} is missing {missing}; expected the dataset folder holding "
            f"{list(self.ROOT_MARKERS)} (or its parent)"
        )

    def _is_root(self, folder: Path) -> bool:
        """Whether ``folder`` is the dataset's top-level folder (all ``ROOT_MARKERS`` present)."""
        return all((folder / marker).exists() for marker in self.ROOT_MARKERS)

    def collect_records(self) -> tuple[Path, dict[str, list]]:
        """The dataset root and its records by split, junk (pid -1) dropped, images not yet checked."""
        root = self.locate_root()
        records_by_split = {
            split: [record for record in records if record.pid != JUNK_PID]
            for split, records in self._collect(root).items()
        }
        check_containment(self.DATASET_TITLE, root, records_by_split)
        if self.config.combineall:
            records_by_split["train"] = combined_train_records(records_by_split)
        return root, records_by_split

    def _split_generators(self, dl_manager) -> list[datasets.SplitGenerator]:
        root, records_by_split = self.collect_records()
        if self.config.verify_mode not in VERIFY_MODES:
            raise ValueError(
                f"{self.DATASET_TITLE}: verify_mode is {self.config.verify_mode!r}; expected one of {VERIFY_MODES}"
            )
        if self.config.verify_images:
            records_by_split = drop_or_reject_corrupt(
                self.DATASET_TITLE,
                root,
                records_by_split,
                mode=self.config.verify_mode,
                num_proc=self.config.num_proc,
                skip_corrupt=self.config.skip_corrupt,
            )
        for split, records in records_by_split.items():
            if not records:
                raise ValueError(
                    f"{self.DATASET_TITLE}: split {split!r} under {root} is empty after dropping junk; "
                    "expected at least one image with a valid name"
                )
        train_pids = sorted({record.pid for record in records_by_split.get("train", [])})
        label_of_pid = {pid: label for label, pid in enumerate(train_pids)}
        mask_sources = self._find_masks(root, records_by_split.get("train", []))
        return [
            datasets.SplitGenerator(
                name=split,
                gen_kwargs={
                    "root": root,
                    "records": records,
                    "label_of_pid": label_of_pid if split == "train" else {},
                    "mask_sources": mask_sources if split == "train" else {},
                },
            )
            for split, records in records_by_split.items()
        ]

    def _find_masks(self, root: Path, train_records: list) -> dict[Path, Path | None]:
        if not self.config.mask_dir:
            return {}
        paths = [path for record in train_records for path in record_paths(record)]
        return find_mask_sources(
            self.DATASET_TITLE,
            root,
            self.config.mask_dir,
            paths,
            allow_missing=self.config.allow_missing_masks,
        )

    def _image_value(self, root: Path, path: Path) -> dict | str:
        # Yielding {"bytes", "path"} embeds the file; yielding a path string keeps a reference.
        if self.config.embed_images:
            return {"bytes": embeddable_bytes(path), "path": path.relative_to(root).as_posix()}
        return str(path)

    def _mask_value(self, mask_sources: dict[Path, Path | None], path: Path, empty: list) -> dict | None:
        source = mask_sources.get(path)
        return None if source is None else encoded_masks_of(self.DATASET_TITLE, source, path, empty)

    def _report_empty_masks(self, empty: list) -> None:
        report_empty_masks(self.DATASET_TITLE, empty)

    def _media(self, root: Path, record) -> dict:
        """The row's pixels: ``image`` for an image record, ``frames`` and ``frame_paths`` for a tracklet."""
        raise NotImplementedError

    def _record_path(self, root: Path, record) -> str:
        """The row's ``path`` column, relative to ``root``."""
        raise NotImplementedError

    def _masks(self, mask_sources: dict, record, empty: list):
        """The row's ``part_masks`` value (None where missing); empty masks are added to ``empty``."""
        raise NotImplementedError

    def _generate_examples(
        self, root: Path, records: list, label_of_pid: dict, mask_sources: dict
    ) -> Iterator[tuple[int, dict]]:
        empty: list[Path] = []
        for index, record in enumerate(records):
            example = {
                **self._media(root, record),
                "pid": record.pid,
                "camid": record.camid,
                "path": self._record_path(root, record),
                "label": label_of_pid.get(record.pid, -1),
            }
            if self.config.mask_dir:
                example["part_masks"] = self._masks(mask_sources, record, empty)
            yield index, example
        self._report_empty_masks(empty)

    def _base_features(self) -> dict:
        return {
            "pid": datasets.Value("int32"),
            "camid": datasets.Value("int32"),
            "path": datasets.Value("string"),
            "label": datasets.Value("int32"),
        }


class ReIDImageBuilder(ReIDBuilderBase):
    """Image reID builder: rows of ``image``, ``pid``, ``camid``, ``path``, ``label`` (-1 outside train)."""

    def _info(self) -> datasets.DatasetInfo:
        features = {"image": datasets.Image(), **self._base_features()}
        if self.config.mask_dir:
            features["part_masks"] = datasets.Image()
        return datasets.DatasetInfo(description=self.__doc__, features=datasets.Features(features))

    def _media(self, root: Path, record: ImageRecord) -> dict:
        return {"image": self._image_value(root, record.path)}

    def _record_path(self, root: Path, record: ImageRecord) -> str:
        return record.path.relative_to(root).as_posix()

    def _masks(self, mask_sources: dict, record: ImageRecord, empty: list) -> dict | None:
        return self._mask_value(mask_sources, record.path, empty)


class ReIDVideoBuilder(ReIDBuilderBase):
    """Video reID builder: rows of ``frames`` (list of Image, temporal order), ``frame_paths`` and the ids."""

    DEFAULT_WRITER_BATCH_SIZE = 64  # a row holds a whole tracklet

    def _info(self) -> datasets.DatasetInfo:
        features = {
            "frames": datasets.List(datasets.Image()),
            "frame_paths": datasets.List(datasets.Value("string")),
            **self._base_features(),
        }
        if self.config.mask_dir:
            features["part_masks"] = datasets.List(datasets.Image())
        return datasets.DatasetInfo(description=self.__doc__, features=datasets.Features(features))

    def _tracklet_path(self, root: Path, record: TrackletRecord) -> str:
        """A name for the tracklet relative to ``root``: its folder by default."""
        return record.frame_paths[0].parent.relative_to(root).as_posix()

    def _media(self, root: Path, record: TrackletRecord) -> dict:
        return {
            "frames": [self._image_value(root, path) for path in record.frame_paths],
            "frame_paths": [path.relative_to(root).as_posix() for path in record.frame_paths],
        }

    def _record_path(self, root: Path, record: TrackletRecord) -> str:
        return self._tracklet_path(root, record)

    def _masks(self, mask_sources: dict, record: TrackletRecord, empty: list) -> list | None:
        masks = [self._mask_value(mask_sources, path, empty) for path in record.frame_paths]
        return masks if all(m is not None for m in masks) else None
