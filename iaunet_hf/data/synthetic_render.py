"""Drawing one synthetic person: a cluttered background, the body from a label map, and a camera cast.

Every pixel of the person is painted together with its part label, so the part masks are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .synthetic_people import ContextIdentity, SyntheticIdentity

# Label map values: 0 background, then the four parts in PART_NAMES order.
_HEAD, _UPPER_LABEL, _LOWER_LABEL, _SHOES_LABEL = 1, 2, 3, 4
_SKIN = np.array([224, 172, 140], dtype=np.float32)


def camera_casts(rng: np.random.Generator, num_cameras: int) -> np.ndarray:
    """(num_cameras, 2, 3): per-camera RGB gain and offset."""
    gains = rng.uniform(0.75, 1.2, size=(num_cameras, 3))
    offsets = rng.uniform(-25, 25, size=(num_cameras, 3))
    return np.stack([gains, offsets], axis=1).astype(np.float32)


def random_pose(rng: np.random.Generator, height: int, width: int) -> dict:
    """Scale, position, leg swing and an optional occluder for one image."""
    person_h = height * rng.uniform(0.72, 0.95)
    occluder = None
    if rng.random() < 0.25:
        occ_h = rng.uniform(0.15, 0.35) * height
        oy0 = rng.uniform(0.3 * height, height - occ_h)
        ox0 = rng.uniform(-0.3 * width, 0.7 * width)
        occluder = (oy0, oy0 + occ_h, ox0, ox0 + rng.uniform(0.3, 0.6) * width)
    return {
        "person_h": person_h,
        "cx": width / 2 + rng.uniform(-0.1, 0.1) * width,
        "top": rng.uniform(0, height - person_h),
        "swing": rng.uniform(-1, 1),
        "emblem_dx": rng.uniform(-0.2, 0.2),
        "occluder": occluder,
        "occluder_colour": rng.uniform(0, 255, size=3).astype(np.float32),
    }


def _cluttered_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """(H, W, 3) float32: one random colour with six random rectangles on it."""
    pixels = np.empty((height, width, 3), dtype=np.float32)
    pixels[:] = rng.uniform(60, 200, size=3)
    for _ in range(6):  # clutter
        y0, x0 = rng.integers(0, height), rng.integers(0, width)
        pixels[y0 : y0 + rng.integers(5, height // 2), x0 : x0 + rng.integers(5, width // 2)] = rng.uniform(
            0, 255, 3
        )
    return pixels


@dataclass
class _PersonCanvas:
    """Pixels and label map painted together, in a pose's body coordinates (fractions of the person height)."""

    pixels: np.ndarray
    labels: np.ndarray
    ys: np.ndarray
    xs: np.ndarray
    pose: dict

    def paint(self, region: np.ndarray, colour: np.ndarray, label: int) -> None:
        self.pixels[region] = colour
        self.labels[region] = label

    def box(self, y0: float, y1: float, x0: float, x1: float) -> np.ndarray:
        top, person_h = self.pose["top"], self.pose["person_h"]
        return (
            (self.ys >= top + y0 * person_h)
            & (self.ys < top + y1 * person_h)
            & (self.xs >= x0)
            & (self.xs < x1)
        )

    def draw(self, colours: dict) -> None:
        """Legs and shoes, skirt, arms, torso, emblem, head and hair, then the occluder, in that order."""
        person_h, cx, swing = self.pose["person_h"], self.pose["cx"], self.pose["swing"]
        body_w = 0.3 * person_h
        leg_w = 0.4 * body_w
        for side in (-1, 1):
            leg_x = cx + side * (0.25 * body_w + swing * 0.15 * body_w)
            self.paint(
                self.box(0.52, 0.92, leg_x - leg_w / 2, leg_x + leg_w / 2), colours["lower"], _LOWER_LABEL
            )
            shoe = self.box(0.92, 1.0, leg_x - leg_w * 0.6, leg_x + leg_w * 0.7)
            self.paint(shoe, colours["shoes"], _SHOES_LABEL)
        if colours["lower_style"] == "skirt":
            spread = (self.ys - (self.pose["top"] + 0.5 * person_h)) * 0.35
            skirt = self.box(0.5, 0.72, -1e9, 1e9) & (np.abs(self.xs - cx) < body_w / 2 + spread)
            self.paint(skirt, colours["lower"], _LOWER_LABEL)
        self._draw_upper_body(colours, body_w)
        self._draw_head(colours, body_w)
        if self.pose["occluder"] is not None:  # an occluder hides part of the person: masks lose it too
            oy0, oy1, ox0, ox1 = self.pose["occluder"]
            occluder = (self.ys >= oy0) & (self.ys < oy1) & (self.xs >= ox0) & (self.xs < ox1)
            self.paint(occluder, self.pose["occluder_colour"], 0)

    def _draw_upper_body(self, colours: dict, body_w: float) -> None:
        cx, swing = self.pose["cx"], self.pose["swing"]
        arm_w = 0.22 * body_w
        for side in (-1, 1):
            arm_x = cx + side * (body_w / 2 + arm_w / 2) - side * swing * 0.1 * body_w
            arm = self.box(0.17, 0.5, arm_x - arm_w / 2, arm_x + arm_w / 2)
            self.paint(arm, colours["upper"] * 0.85, _UPPER_LABEL)
        self.paint(self.box(0.16, 0.54, cx - body_w / 2, cx + body_w / 2), colours["upper"], _UPPER_LABEL)
        if colours["emblem"] is not None:
            emblem_x = cx + self.pose["emblem_dx"] * body_w
            emblem = self.box(0.24, 0.33, emblem_x - 0.15 * body_w, emblem_x + 0.15 * body_w)
            self.paint(emblem, colours["emblem"], _UPPER_LABEL)

    def _draw_head(self, colours: dict, body_w: float) -> None:
        top, person_h, cx = self.pose["top"], self.pose["person_h"], self.pose["cx"]
        head_cy, head_ry, head_rx = top + 0.08 * person_h, 0.08 * person_h, 0.2 * body_w + 0.02 * person_h
        head = ((self.ys - head_cy) / head_ry) ** 2 + ((self.xs - cx) / head_rx) ** 2 <= 1.0
        self.paint(head, _SKIN, _HEAD)
        self.paint(head & (self.ys < head_cy - 0.2 * head_ry), colours["hair"], _HEAD)


def render_person(
    rng: np.random.Generator,
    identity: SyntheticIdentity | ContextIdentity | None,
    cast: np.ndarray,
    height: int,
    width: int,
    *,
    pose: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one image; returns (H, W, 3) uint8 pixels and the (H, W) part label map (0..4).

    ``identity=None`` draws background only (a junk detection). ``pose`` fixes the geometry
    (used for smooth tracklets); otherwise it is drawn from ``rng``.
    """
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    pixels = _cluttered_background(rng, height, width)
    labels = np.zeros((height, width), dtype=np.uint8)
    if identity is not None:
        pose = pose or random_pose(rng, height, width)
        _PersonCanvas(pixels, labels, ys, xs, pose).draw(identity.colours())
    pixels = pixels * cast[0] + cast[1] + rng.normal(0, 6, size=pixels.shape).astype(np.float32)
    return np.clip(pixels, 0, 255).astype(np.uint8), labels
