"""The one loss configuration: which reID losses train and with which weights and settings (spec §3 defaults).

The model config (``IAUnetConfig``) and the training recipes' ``loss:`` section take their fields and defaults
from here. The defaults are the paper's loss: CE with label smoothing + batch-hard triplet + 0.5 x part BCE.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

TRIPLET_DISTANCES = ("cosine", "euclidean")
# "hard": the hardest positive and negative per anchor (Hermans et al. 2017); "weighted": AGW's softmax-weighted
# positives and negatives (Ye et al., TPAMI 2021).
TRIPLET_MININGS = ("hard", "weighted")
CIRCLE_MARGIN_RANGE = (0.0, 0.5)  # beyond 0.5 the positive optimum 1 - m falls below the negative one m


@dataclass
class ReIDLossConfig:
    """L = w_ce CE_ls + w_t triplet + w_p part BCE + w_c circle + w_center center (spec §3 plus BoT/AGW/SBS).

    The center loss holds the identity centers, which are trained weights with their own optimizer step (Wen et
    al. 2016): the trainer adds it (``iaunet_hf.losses.CenterLoss``); ``ReIDLoss`` computes the rest.
    """

    label_smoothing: float = 0.1
    triplet_margin: float = 0.3
    triplet_distance: str = "cosine"
    triplet_weight: float = 1.0
    part_loss_weight: float = 0.5
    cross_entropy_weight: float = 1.0
    triplet_mining: str = "hard"  # "hard" (batch-hard) or "weighted" (AGW's weighted regularized triplet)
    triplet_soft_margin: bool = (
        False  # softplus(d_ap - d_an + margin) instead of the hinge (fast-reid: margin 0)
    )
    circle_weight: float = 0.0  # the pairwise circle loss (Sun et al., CVPR 2020) on the embeddings
    circle_margin: float = 0.25  # its relaxation m
    circle_scale: float = 128.0  # its scale gamma (fast-reid's default)
    center_weight: float = 0.0  # the center loss (Wen et al., ECCV 2016) on the embeddings
    center_lr: float = 0.5  # the centers' own SGD learning rate (BoT's)

    def __post_init__(self) -> None:
        if self.triplet_distance not in TRIPLET_DISTANCES:
            raise ValueError(
                f"triplet_distance must be one of {TRIPLET_DISTANCES}, got {self.triplet_distance!r}"
            )
        if self.triplet_mining not in TRIPLET_MININGS:
            raise ValueError(f"triplet_mining must be one of {TRIPLET_MININGS}, got {self.triplet_mining!r}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        weights = ("triplet_margin", "triplet_weight", "part_loss_weight", "cross_entropy_weight")
        for name in (*weights, "circle_weight", "center_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        low, high = CIRCLE_MARGIN_RANGE
        if not low <= self.circle_margin < high:
            raise ValueError(f"circle_margin must be in [{low}, {high}), got {self.circle_margin}")
        for name in ("circle_scale", "center_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")

    def to_dict(self) -> dict[str, float | str | bool]:
        return asdict(self)
