"""Stand-in for transformers' utils/fetch_hub_objects_for_ci.py (not in the sdist): ``url_to_local_path``.

Upstream's CI pre-fetches the test images its common tests name by URL and maps each URL to that copy. With no
network, each URL maps to a photo-like stand-in written once beside this file: a smooth 640x480 RGB scene with
edges (the size of upstream's COCO test image), the same pixels on every run.
"""

from pathlib import Path

import numpy as np
from PIL import Image


def _scene(seed: int, height: int = 480, width: int = 640) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    channels = []
    for _ in range(3):
        fx, fy, phase = rng.uniform(1, 6, 2).tolist() + [rng.uniform(0, np.pi)]
        channels.append(0.5 + 0.35 * np.sin(2 * np.pi * (fx * x + fy * y) + phase))
    image = np.stack(channels, axis=-1)
    for _ in range(6):  # a few flat rectangles give the resize something sharp to handle
        top, left = rng.integers(0, height - 60), rng.integers(0, width - 60)
        image[top : top + rng.integers(30, 200), left : left + rng.integers(30, 200)] = rng.uniform(0, 1, 3)
    return Image.fromarray((image.clip(0, 1) * 255).astype(np.uint8))


def url_to_local_path(url: str) -> str:
    name = url.rstrip("/").rsplit("/", 1)[-1] or "image"
    path = Path(__file__).parent / "test_images" / f"{Path(name).stem}.png"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        _scene(sum(url.encode())).save(path)
    return str(path)
