"""DukeMTMC-reID builder.

Layout (``data_dir`` is this folder or its parent)::

    DukeMTMC-reID/
        bounding_box_train/   0001_c2_f0046182.jpg ...  (702 identities)
        query/
        bounding_box_test/    gallery (includes 408 distractor identities)

File names match ``([-\\d]+)_c(\\d)``: pid, then camera 1..8 (stored 0-based).
"""

from __future__ import annotations

from .market_style import MarketStyleBuilder


class DukemtmcReid(MarketStyleBuilder):
    """DukeMTMC-reID (Zheng et al., ICCV 2017): 1,404 + 408 identities, 8 cameras."""

    DATASET_TITLE = "DukeMTMC-reID"
    NUM_CAMERAS = 8
