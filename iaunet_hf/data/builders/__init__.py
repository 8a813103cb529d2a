"""One ``datasets.GeneratorBasedBuilder`` per dataset; each file documents its on-disk layout."""

from .cifar100 import Cifar100
from .cuhk03 import Cuhk03, Cuhk03Config
from .dukemtmc_reid import DukemtmcReid
from .dukemtmc_videoreid import DukemtmcVideoreid
from .folder import Folder, FolderConfig
from .grid import Grid, GridConfig
from .ilids import Ilids
from .ilidsvid import Ilidsvid, IlidsvidConfig
from .market1501 import Market1501, Market1501Config
from .mars import Mars, MarsConfig
from .msmt17 import Msmt17, Msmt17Config
from .occluded_duke import OccludedDuke
from .prid import Prid
from .prid2011 import Prid2011
from .viper import Viper

__all__ = [
    "Cifar100",
    "Cuhk03",
    "Cuhk03Config",
    "DukemtmcReid",
    "DukemtmcVideoreid",
    "Folder",
    "FolderConfig",
    "Grid",
    "GridConfig",
    "Ilids",
    "Ilidsvid",
    "IlidsvidConfig",
    "Market1501",
    "Market1501Config",
    "Mars",
    "MarsConfig",
    "Msmt17",
    "Msmt17Config",
    "OccludedDuke",
    "Prid",
    "Prid2011",
    "Viper",
]
