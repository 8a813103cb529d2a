"""The IAUnet model in plain torch: its options, blocks, comparison blocks, backbones and the network.

``IAUnetOptions`` is the one definition of what can be built; the timm and transformers faces
(``iaunet_hf.timm_models``, ``iaunet_hf.modeling_iaunet``) wrap ``IAUnet``.
"""

from .comparison_blocks import ComparisonBlock
from .head import IAUnetOutput, make_identity_classifier
from .iau_block import ChannelInteraction, IAUBlock, SpatialTemporalInteraction
from .network import IAUnet
from .options import IAUBlockOptions, IAUnetOptions

__all__ = [
    "ChannelInteraction",
    "ComparisonBlock",
    "IAUBlock",
    "IAUBlockOptions",
    "IAUnet",
    "IAUnetOptions",
    "IAUnetOutput",
    "SpatialTemporalInteraction",
    "make_identity_classifier",
]
