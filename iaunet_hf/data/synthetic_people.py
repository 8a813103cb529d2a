"""The synthetic set's people: palettes, the two identity kinds, and seeded draws of distinct identities.

``standard`` identities collide on the large upper body so small parts carry the identity; ``context``
identities share every single part colour, so only the combination identifies (see ``synthetic``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

# Few upper-body colours so identities collide on the largest part; the small parts vary more.
_UPPER = np.array([[200, 40, 40], [40, 70, 190], [230, 230, 230], [40, 40, 40]], dtype=np.float32)
_LOWER = np.array(
    [[30, 30, 90], [120, 120, 120], [150, 110, 60], [20, 20, 20], [90, 140, 60], [170, 60, 130]],
    dtype=np.float32,
)
_SHOES = np.array([[15, 15, 15], [240, 240, 240], [180, 30, 30], [200, 170, 40]], dtype=np.float32)
_HAIR = np.array([[25, 20, 15], [120, 70, 30], [220, 190, 110], [150, 150, 150]], dtype=np.float32)
_EMBLEM = np.array(
    [[250, 220, 0], [0, 200, 200], [250, 120, 0], [120, 0, 200], [0, 160, 0], [255, 105, 180]],
    dtype=np.float32,
)
_LOWER_STYLES = ("trousers", "skirt")
# "context" mode: one palette for all four parts (well apart under the camera casts below).
_CONTEXT_PALETTE = np.array([[200, 40, 40], [40, 70, 190], [230, 200, 40], [40, 160, 60]], dtype=np.float32)
SYNTHETIC_MODES = ("standard", "context")


@dataclass(frozen=True)
class SyntheticIdentity:
    """Appearance of one synthetic person: palette indices and the trousers/skirt style."""

    pid: int
    upper: int
    lower: int
    shoes: int
    hair: int
    emblem: int
    lower_style: int

    def colours(self) -> dict:
        """Colours of the painted regions (``emblem`` None: no emblem) and the lower-body style."""
        return {
            "hair": _HAIR[self.hair],
            "upper": _UPPER[self.upper],
            "emblem": _EMBLEM[self.emblem],
            "lower": _LOWER[self.lower],
            "shoes": _SHOES[self.shoes],
            "lower_style": _LOWER_STYLES[self.lower_style],
        }


@dataclass(frozen=True)
class ContextIdentity:
    """A "context" mode person: indices into the one shared palette for hair, upper, lower body and shoes."""

    pid: int
    hair: int
    upper: int
    lower: int
    shoes: int

    def colours(self) -> dict:
        return {
            "hair": _CONTEXT_PALETTE[self.hair],
            "upper": _CONTEXT_PALETTE[self.upper],
            "emblem": None,
            "lower": _CONTEXT_PALETTE[self.lower],
            "shoes": _CONTEXT_PALETTE[self.shoes],
            "lower_style": "trousers",
        }


CONTEXT_PARTS = ("hair", "upper", "lower", "shoes")


def _balanced_combinations(rng: np.random.Generator, count: int, taken: set[tuple[int, ...]]) -> list[tuple]:
    """``count`` distinct palette combinations outside ``taken`` in which every part colour used is used twice+.

    Each part's colours are a shuffled balanced column (each colour at least twice); duplicate people are then
    repaired by swapping one part's colours between two people, which keeps every column's counts.
    """
    num_colours = len(_CONTEXT_PALETTE)
    used = min(num_colours, count // 2)
    columns = np.stack([rng.permutation(np.arange(count) % used) for _ in CONTEXT_PARTS], axis=1)
    for _ in range(20_000):
        seen = set(taken)
        clash = None
        for index, combo in enumerate(map(tuple, columns.tolist())):
            if combo in seen:
                clash = index
                break
            seen.add(combo)
        if clash is None:
            return [tuple(row) for row in columns.tolist()]
        part, other = int(rng.integers(len(CONTEXT_PARTS))), int(rng.integers(count))
        columns[[clash, other], part] = columns[[other, clash], part]
    raise ValueError(f"synthetic: cannot draw {count} more distinct context-mode identities; use fewer")


def make_context_identities(
    rng: np.random.Generator, train_pids: list[int], test_pids: list[int]
) -> list[ContextIdentity]:
    """Distinct palette combinations for all pids; within each split every single part colour is shared."""
    total, available = len(train_pids) + len(test_pids), len(_CONTEXT_PALETTE) ** len(CONTEXT_PARTS)
    if total > available:
        raise ValueError(
            f"synthetic: {total} identities requested, context mode has {available} combinations"
        )
    if min(len(train_pids), len(test_pids)) < 4:
        raise ValueError(
            "synthetic: context mode needs >= 4 train and >= 4 test identities to share part colours"
        )
    train = _balanced_combinations(rng, len(train_pids), set())
    test = _balanced_combinations(rng, len(test_pids), set(train))
    return [ContextIdentity(pid, *combo) for pid, combo in zip(train_pids + test_pids, train + test)]


def make_identities(rng: np.random.Generator, pids: list[int]) -> list[SyntheticIdentity]:
    """Distinct standard identities for ``pids``, drawn without replacement from every palette combination."""
    combos = list(
        itertools.product(
            range(len(_UPPER)),
            range(len(_LOWER)),
            range(len(_SHOES)),
            range(len(_HAIR)),
            range(len(_EMBLEM)),
            range(len(_LOWER_STYLES)),
        )
    )
    if len(pids) > len(combos):
        raise ValueError(f"synthetic: {len(pids)} identities requested, at most {len(combos)} are distinct")
    chosen = rng.choice(len(combos), size=len(pids), replace=False)
    return [SyntheticIdentity(pid, *combos[index]) for pid, index in zip(pids, chosen)]


def context_distractors(
    rng: np.random.Generator, identities: list[ContextIdentity], count: int
) -> list[ContextIdentity]:
    """Pid-0 people wearing palette combinations that no identity wears (so they never match a query)."""
    used = {(i.hair, i.upper, i.lower, i.shoes) for i in identities}
    free = [
        c for c in itertools.product(range(len(_CONTEXT_PALETTE)), repeat=len(CONTEXT_PARTS)) if c not in used
    ]
    if count and not free:
        raise ValueError(
            "synthetic: context mode has no combination left for distractors; use fewer identities"
        )
    chosen = rng.choice(len(free), size=count, replace=count > len(free)) if count else []
    return [ContextIdentity(0, *free[i]) for i in chosen]
