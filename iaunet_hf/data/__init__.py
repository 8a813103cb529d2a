"""The data layer: reID/CIFAR builders on ``datasets``, part masks, the synthetic set, transforms, samplers.

Importing this package does no work; builders run only when ``load_reid_dataset`` is called.
"""

from .builders import (
    Cifar100,
    Cuhk03,
    DukemtmcReid,
    DukemtmcVideoreid,
    Folder,
    Grid,
    Ilids,
    Ilidsvid,
    Market1501,
    Mars,
    Msmt17,
    OccludedDuke,
    Prid,
    Prid2011,
    Viper,
)
from .clip_sampling import sample_train_clip, test_clip_indices
from .collate import collate_reid, tracklet_to_clips
from .combine import combine_reid_datasets
from .loading import build_reid_builder, load_reid_dataset
from .registry import DATASET_BUILDERS, DATASET_NAMES, BuilderOption, builder_name, builder_options
from .samplers import IdentityBatchSampler
from .splits import evaluate_splits, format_split_summary, split_identities
from .synthetic import write_synthetic_reid
from .transforms import build_eval_transform, build_train_transform, lazy_frame_decoding

__all__ = [
    "DATASET_BUILDERS",
    "DATASET_NAMES",
    "BuilderOption",
    "Cifar100",
    "Cuhk03",
    "DukemtmcReid",
    "DukemtmcVideoreid",
    "Folder",
    "Grid",
    "IdentityBatchSampler",
    "Ilids",
    "Ilidsvid",
    "Market1501",
    "Mars",
    "Msmt17",
    "OccludedDuke",
    "Prid",
    "Prid2011",
    "Viper",
    "build_eval_transform",
    "build_reid_builder",
    "builder_name",
    "builder_options",
    "build_train_transform",
    "collate_reid",
    "combine_reid_datasets",
    "evaluate_splits",
    "format_split_summary",
    "lazy_frame_decoding",
    "load_reid_dataset",
    "sample_train_clip",
    "split_identities",
    "test_clip_indices",
    "tracklet_to_clips",
    "write_synthetic_reid",
]
