"""The data layer: reID/CIFAR builders on ``datasets``, part masks, the synthetic set, transforms, samplers.

Importing this package does no work; builders run only when ``load_reid_dataset`` is called.
"""

from .builders import Cifar100, DukemtmcReid, DukemtmcVideoreid, Folder, Market1501, Mars, Msmt17
from .clip_sampling import sample_train_clip, test_clip_indices
from .collate import collate_reid, tracklet_to_clips
from .loading import DATASET_BUILDERS, DATASET_NAMES, build_reid_builder, load_reid_dataset
from .samplers import IdentityBatchSampler
from .synthetic import write_synthetic_reid
from .transforms import build_eval_transform, build_train_transform, lazy_frame_decoding

__all__ = [
    "DATASET_BUILDERS",
    "DATASET_NAMES",
    "Cifar100",
    "DukemtmcReid",
    "DukemtmcVideoreid",
    "Folder",
    "IdentityBatchSampler",
    "Market1501",
    "Mars",
    "Msmt17",
    "build_eval_transform",
    "build_reid_builder",
    "build_train_transform",
    "collate_reid",
    "lazy_frame_decoding",
    "load_reid_dataset",
    "sample_train_clip",
    "test_clip_indices",
    "tracklet_to_clips",
    "write_synthetic_reid",
]
