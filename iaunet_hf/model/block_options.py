"""The options of the block placed after each chosen stage: CIAU/STIAU (or the paper's comparison blocks) and how
they relate; part of ``IAUnetOptions`` (its ``iau`` field), validated once, when made."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

IAU_MODULE_NAMES = ("ciau", "stiau")
COMPARISON_MODULE_NAMES = ("nl", "se", "sia", "cia")
IAU_ARRANGEMENTS = ("sequential", "parallel")
# The context a STIAU part node gathers: every part of every frame, the parts of its own frame, or its own part in
# the other frames. ("Relations" are only the maps the blocks return.)
STIAU_CONTEXTS = ("both", "spatial", "temporal")
PART_DIVISIONS = ("attention", "patches")
# How a relation map's entries are scored (paper Table IX): CIAU's Gram "dot" or "l2", STIAU's "subnet" or "l2".
CHANNEL_AFFINITIES = ("dot", "l2")
PART_AFFINITIES = ("subnet", "l2")


def one_of(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def check_comparison_modules(modules: tuple[str, ...] | list[str]) -> None:
    """Raise a ValueError unless ``modules`` is an ordered, repeat-free choice of comparison blocks."""
    modules = tuple(modules)
    unknown = [name for name in modules if name not in COMPARISON_MODULE_NAMES]
    if not modules or unknown or len(set(modules)) != len(modules):
        raise ValueError(
            f"comparison modules must be a non-empty ordered subset of {COMPARISON_MODULE_NAMES} without "
            f"repeats, got {modules!r}"
        )
    if "nl" in modules and "sia" in modules:
        raise ValueError(f"'nl' and 'sia' both relate positions; use one of them, got {modules!r}")


def is_comparison(modules: tuple[str, ...]) -> bool:
    """True when the block after a stage is one of the paper's comparison blocks rather than an IAU block."""
    return bool(modules) and all(name in COMPARISON_MODULE_NAMES for name in modules)


@dataclass(frozen=True)
class IAUBlockOptions:
    """The block placed after each chosen stage: CIAU/STIAU (or comparison blocks) and how they relate."""

    modules: tuple[str, ...] = field(default=IAU_MODULE_NAMES, metadata={"keyword": "iau_modules"})
    arrangement: str = field(default="sequential", metadata={"keyword": "iau_arrangement"})
    # STIAU's node pairs: "both", "spatial" or "temporal" (formerly ``relations``)
    stiau_context: str = field(default="both", metadata={"formerly": "relations"})
    num_parts: int = 4  # body parts N
    part_division: str = "attention"  # learned part attention, or "patches" (a fixed 2x2 grid)
    # how CIAU's and STIAU's relation entries are scored (Table IX; formerly ``channel_relation``/``part_relation``)
    channel_affinity: str = field(default="dot", metadata={"formerly": "channel_relation"})
    part_affinity: str = field(default="subnet", metadata={"formerly": "part_relation"})

    def __post_init__(self) -> None:
        object.__setattr__(self, "modules", tuple(self.modules))
        if is_comparison(self.modules):
            check_comparison_modules(self.modules)
            if self.arrangement != "sequential":
                raise ValueError(
                    f"iau_arrangement={self.arrangement!r} applies to CIAU and STIAU only; comparison blocks "
                    f"{self.modules!r} run in sequence"
                )
            return
        self._check_iau()

    def _check_iau(self) -> None:
        modules = self.modules
        if any(name in COMPARISON_MODULE_NAMES for name in modules):
            raise ValueError(
                f"iau_modules mixes IAU sub-modules {IAU_MODULE_NAMES} and comparison blocks "
                f"{COMPARISON_MODULE_NAMES}; choose from one of them, got {modules!r}"
            )
        unknown = [name for name in modules if name not in IAU_MODULE_NAMES]
        if not modules or unknown or len(set(modules)) != len(modules):
            raise ValueError(
                f"iau_modules must be a non-empty ordered subset of {IAU_MODULE_NAMES} without repeats, got "
                f"{modules!r}"
            )
        one_of("iau_arrangement", self.arrangement, IAU_ARRANGEMENTS)
        one_of("stiau_context", self.stiau_context, STIAU_CONTEXTS)
        one_of("part_division", self.part_division, PART_DIVISIONS)
        one_of("channel_affinity", self.channel_affinity, CHANNEL_AFFINITIES)
        one_of("part_affinity", self.part_affinity, PART_AFFINITIES)
        if self.num_parts < 1:
            raise ValueError(f"num_parts must be >= 1, got {self.num_parts}")
        if self.part_division == "patches" and self.num_parts != 4:
            raise ValueError(
                "part_division='patches' splits the map into a 2x2 grid, so num_parts must be 4, got "
                f"{self.num_parts}"
            )

    @property
    def is_comparison(self) -> bool:
        return is_comparison(self.modules)
