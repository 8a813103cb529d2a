"""Fixtures of the tracking tests: a small saved IAUnet folder and a synthetic frame with people on it."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hub"))
from hub_fixtures import save_iaunet_folder  # noqa: E402  (the Hub tests' saved-folder helper)


@pytest.fixture(scope="session")
def tracking_model_dir(tmp_path_factory) -> Path:
    return save_iaunet_folder(tmp_path_factory.mktemp("tracking_model") / "model", seed=2)


@pytest.fixture(scope="session")
def encoder(tracking_model_dir):
    from iaunet_hf.tracking import IAUnetEncoder

    return IAUnetEncoder.from_pretrained(tracking_model_dir, batch_size=4)


@pytest.fixture(scope="session")
def frame_bgr() -> np.ndarray:
    """A 120x160 BGR frame: a textured background with three people drawn by the synthetic generator."""
    from iaunet_hf.data.synthetic import SyntheticIdentity, render_person

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
    cast = np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    for index, x0 in enumerate((10, 60, 110)):
        identity = SyntheticIdentity(index, index, index, index, index, index, index % 2)
        person, _ = render_person(rng, identity, cast, 80, 40)
        frame[20:100, x0 : x0 + 40] = person[..., ::-1]  # RGB -> BGR
    return frame
