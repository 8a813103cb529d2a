"""A Hugging Face Space serving ``iaunet-app`` for a model on the Hub: ``app.py``, ``requirements.txt`` pinned
to this package's version, and a README whose front matter (``SpaceCardData``) says ``sdk: gradio``.

The Space loads the model from the Hub when it starts (``--model org/name``), so one Space follows the
model repository's newest weights. Like a model push, the files land in one ``create_commit``.
"""

from __future__ import annotations

import logging
from importlib import metadata
from pathlib import Path

from huggingface_hub import CommitInfo, CommitOperationAdd, HfApi, SpaceCardData

from ..version import __version__

logger = logging.getLogger(__name__)

# the Gradio release the app is tested with; a Space without sdk_version would take whatever is newest
TESTED_GRADIO = "6.31.0"
APP_FILE = "app.py"

APP_SOURCE = '''"""IAUnet person re-identification: the iaunet-app views of {model_id}, loaded from the Hub at start.

Extra command-line arguments are passed on (python app.py --help lists them).
"""

import os
import sys

from iaunet_hf.app.cli import main

os.environ.setdefault("GRADIO_SERVER_NAME", "0.0.0.0")  # a Space serves its container's port 7860
sys.exit(main(["--model", {model_id!r}, *sys.argv[1:]]))
'''


def gradio_version() -> str:
    """The installed Gradio's version (what the app was run with here), else the tested one."""
    try:
        return metadata.version("gradio")
    except metadata.PackageNotFoundError:
        return TESTED_GRADIO


def space_files(model_id: str, title: str | None = None) -> dict[str, str]:
    """File name -> text of the Space repository serving ``model_id``."""
    if model_id.count("/") != 1 or Path(model_id).exists():
        raise ValueError(
            f"--model: a Space loads its model from the Hub; expected a Hub id 'org/name', found {model_id!r}"
        )
    data = SpaceCardData(
        title=title or f"IAUnet reID: {model_id.split('/')[1]}"[:30],
        emoji="🚶",
        colorFrom="blue",
        colorTo="green",
        sdk="gradio",
        sdk_version=gradio_version(),
        app_file=APP_FILE,
        models=[model_id],
        tags=["person-re-identification", "iaunet"],
        pinned=False,
    )
    readme = (
        f"---\n{data.to_yaml()}\n---\n\n# IAUnet person re-identification\n\n"
        f"Search a gallery, see the IAU blocks' part attention and relations, compare two people and track "
        f"people with [{model_id}](https://huggingface.co/{model_id}), served by `iaunet-app`.\n"
    )
    return {
        APP_FILE: APP_SOURCE.format(model_id=model_id),
        "requirements.txt": f"iaunet-hf[app,tracking]=={__version__}\n",
        "README.md": readme,
    }


def push_space(
    space_id: str,
    model_id: str,
    *,
    private: bool | None = None,
    token: str | None = None,
    endpoint: str | None = None,
) -> CommitInfo:
    """Create (or update) the Gradio Space ``space_id`` serving ``model_id``, in one commit."""
    files = space_files(model_id)
    api = HfApi(endpoint=endpoint, token=token)
    repo_url = api.create_repo(
        space_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True
    )
    logger.info("writing the Space %s for %s", repo_url, model_id)
    operations = [
        CommitOperationAdd(path_in_repo=name, path_or_fileobj=text.encode("utf-8"))
        for name, text in files.items()
    ]
    return api.create_commit(
        repo_url.repo_id, operations, repo_type="space", commit_message=f"iaunet-app Space for {model_id}"
    )
