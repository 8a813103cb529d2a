"""Deprecated path of the network: ``iaunet_hf.model`` (``IAUnet``, ``IAUnetOutput``, ``IAUnetOptions``)."""

from ._deprecation import warn_moved
from .model.head import IAUnetOutput, make_identity_classifier
from .model.network import IAUnet

warn_moved("iaunet_hf.network", "iaunet_hf.model")

__all__ = ["IAUnet", "IAUnetOutput", "make_identity_classifier"]
