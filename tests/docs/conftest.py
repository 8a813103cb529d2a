"""The world the docs' examples assume, built once: the README's data folder (tiny synthetic sets in the
Market-1501 and DukeMTMC-reID layouts, with part masks), a trained model at the path the docs use, own-data
folders, and a loopback Hub holding timm's ImageNet ResNet weights. ``iaunet-train`` is shrunk to seconds by a
wrapper on PATH that adds the tiny settings a command does not give itself (the commands run as written)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import huggingface_hub
import pytest
import timm
from docs_world import TINY_TRAINING, user_env
from hub_server import TEST_TOKEN, HubServer  # noqa: E402  (on the path through docs_world)
from huggingface_hub import HfApi
from reid_folder_set import write_custom_named_folder_set, write_flat_crops
from timm.models import save_for_hf

from iaunet_hf.data import write_synthetic_reid

TINY_SET = dict(num_train_ids=4, num_test_ids=3, num_cameras=2, images_per_camera=2, num_distractors=2,
                num_junk=1, height=64, width=32)  # fmt: skip
SHIM = '''#!{python}
"""iaunet-train with the docs tests' tiny settings for the options the command line leaves out."""
import sys
from iaunet_hf.training.cli import main
TINY = {tiny!r}
given = {{token[2:].split("=")[0].replace("-", "_") for token in sys.argv[1:] if token.startswith("--")}}
# a resume takes the run's own saved settings (tiny already): adding any would be a change the resume refuses
extra = [] if "resume" in given else [
    item for key, value in TINY.items() if not {{key, key.split(".")[-1]}} & given for item in ("--" + key, value)
]
sys.exit(main([*sys.argv[1:], *extra]))
'''
IMAGENET_WEIGHTS = ("resnet50.tv_in1k", "resnet18.tv_in1k")


@pytest.fixture(scope="session")
def docs_hub() -> Iterator[HubServer]:
    """A loopback Hub with timm's ImageNet ResNet repositories (random weights in timm's own Hub format)."""
    with HubServer(token=TEST_TOKEN, lifetime_s=3600) as hub, pytest.MonkeyPatch.context() as patch:
        api = HfApi(endpoint=hub.url, token=TEST_TOKEN)
        patch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)  # LFS uploads: no Xet here
        for name in IMAGENET_WEIGHTS:
            folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"iaunet-docs-{os.getpid()}-{name}"
            save_for_hf(timm.create_model(name.split(".")[0]), folder, safe_serialization="both")
            api.create_repo(f"timm/{name}")
            api.upload_folder(repo_id=f"timm/{name}", folder_path=folder)
            shutil.rmtree(folder)
        yield hub


@pytest.fixture(scope="session")
def docs_world(tmp_path_factory, docs_hub) -> Path:
    """The folder every markdown file's examples start from (copied per file)."""
    world = tmp_path_factory.mktemp("docs_world")
    (world / ".bin").mkdir()
    (world / "scripts").symlink_to(
        Path(__file__).parents[2] / "scripts"
    )  # `python scripts/...` from the checkout
    shim = world / ".bin" / "iaunet-train"
    shim.write_text(SHIM.format(python=sys.executable, tiny=TINY_TRAINING))
    shim.chmod(0o755)
    market = write_synthetic_reid(world / "data" / "Market-1501-v15.09.15", **TINY_SET, seed=0)
    shutil.copytree(market / "part_masks", world / "data" / "market1501_masks")
    write_synthetic_reid(world / "data" / "DukeMTMC-reID", **TINY_SET, seed=1)
    write_flat_crops(market, world / "my_crops")
    write_custom_named_folder_set(market, world / "my_reid_set")
    train = [
        "iaunet-train",
        "--recipe",
        "market1501",
        "--data-dir",
        "data/",
        "--output-dir",
        "outputs/iaunet-market1501",
    ]
    subprocess.run(
        train, cwd=world, env=user_env(world, docs_hub), check=True, capture_output=True, timeout=600
    )
    shutil.rmtree(world / "outputs" / "iaunet-market1501" / "checkpoints", ignore_errors=True)
    shutil.rmtree(world / ".hf_home", ignore_errors=True)
    return world


@pytest.fixture(scope="module")
def workspaces(docs_world, tmp_path_factory) -> Iterator[dict[str, Path]]:
    """One copy of the world per markdown file (its examples chain within it); removed at the end."""
    made: dict[str, Path] = {}

    def workspace(file: str) -> Path:
        if file not in made:
            made[file] = tmp_path_factory.mktemp("docs_" + re.sub(r"\W", "_", file)) / "work"
            shutil.copytree(docs_world, made[file], symlinks=True, copy_function=os.link)
        return made[file]

    yield workspace
    for folder in made.values():
        shutil.rmtree(folder.parent, ignore_errors=True)
