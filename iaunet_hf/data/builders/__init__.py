"""One ``datasets.GeneratorBasedBuilder`` per dataset; each file documents its on-disk layout."""

from .cifar100 import Cifar100
from .dukemtmc_reid import DukemtmcReid
from .dukemtmc_videoreid import DukemtmcVideoreid
from .folder import Folder, FolderConfig
from .market1501 import Market1501, Market1501Config
from .mars import Mars, MarsConfig
from .msmt17 import Msmt17, Msmt17Config

__all__ = [
    "Cifar100",
    "DukemtmcReid",
    "DukemtmcVideoreid",
    "Folder",
    "FolderConfig",
    "Market1501",
    "Market1501Config",
    "Mars",
    "MarsConfig",
    "Msmt17",
    "Msmt17Config",
]
