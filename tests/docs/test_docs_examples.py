"""Every shell and Python block of README.md and docs/*.md runs here, as the reader would run it, or is
excluded in docs_examples.py with its reason.

Blocks of one markdown file share a workspace (and, for Python, one namespace: mktestdocs' ``memory``), in
document order, so a file's train -> evaluate -> push commands chain as written. Shell blocks run with
mktestdocs' bash executor (``bash -e -u``) in a user's environment: the package's console scripts on PATH,
the Hub at a loopback server. Python blocks run in this process with the same Hub and caches.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import datasets
import huggingface_hub
import pytest
from docs_examples import EXAMPLES, Excluded, Run
from docs_world import user_env
from markdown_blocks import Block, all_blocks
from mktestdocs import check_md_file

BLOCKS = all_blocks()
NAMESPACES: dict[str, dict] = {}


def test_every_block_has_one_entry_and_every_entry_a_block():
    keys = [block.key for block in BLOCKS]
    assert len(keys) == len(set(keys)), "two blocks of one file start with the same line: tell them apart"
    unknown = [f"{block} {block.first_line!r}" for block in BLOCKS if block.key not in EXAMPLES]
    stale = [key for key in EXAMPLES if key not in set(keys)]
    assert not unknown, (
        f"blocks neither run nor excluded (add them to tests/docs/docs_examples.py): {unknown}"
    )
    assert not stale, f"entries in tests/docs/docs_examples.py that match no block any more: {stale}"


def test_only_shell_and_python_blocks_run():
    """console blocks are transcripts (a command and its output): they can only be excluded."""
    transcripts = [block for block in BLOCKS if block.language == "console"]
    assert all(isinstance(EXAMPLES.get(block.key), Excluded) for block in transcripts)


def point_at_hub(monkeypatch: pytest.MonkeyPatch, workspace: Path, env: dict[str, str]) -> None:
    """This process as a user's shell in ``workspace`` would be: cwd, environment, Hub endpoint and caches
    (huggingface_hub and datasets read some of these at import, so their constants are set too)."""
    monkeypatch.chdir(workspace)
    for key in [key for key in os.environ if key.startswith(("HF_", "HUGGINGFACE_"))]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    hub_url, home = env["HF_ENDPOINT"], Path(env["HF_HOME"])
    monkeypatch.setattr(datasets.config, "HF_ENDPOINT", hub_url)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", home / "datasets")
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", hub_url)
    monkeypatch.setattr(huggingface_hub.constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        hub_url + "/{repo_id}/resolve/{revision}/{filename}")  # fmt: skip
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)


@pytest.mark.parametrize("block", BLOCKS, ids=str)
def test_docs_example(block: Block, workspaces, docs_hub, monkeypatch, tmp_path):
    entry = EXAMPLES.get(block.key)
    if entry is None:
        pytest.fail(f"{block} is neither run nor excluded: add it to tests/docs/docs_examples.py")
    if isinstance(entry, Excluded):
        pytest.skip(f"excluded: {entry.reason}")
    assert isinstance(entry, Run) and block.language in ("bash", "python")
    for module in entry.needs:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"needs {module} (an optional extra)")
    workspace = workspaces(block.file)
    env = user_env(workspace, docs_hub)
    if entry.setup:
        subprocess.run(
            ["bash", "-e", "-u", "-c", entry.setup], cwd=workspace, env=env, check=True, timeout=300
        )
    point_at_hub(monkeypatch, workspace, env)
    source = entry.source(block.source)
    if block.language == "bash":
        markdown = tmp_path / "block.md"  # mktestdocs reads markdown files
        markdown.write_text(f"```bash\n{source}\n```\n")
        check_md_file(markdown, lang="bash")
    else:
        namespace = NAMESPACES.setdefault(block.file, {"__name__": "__main__"})
        if entry.prelude:
            exec(compile(entry.prelude, f"<prelude of {block}>", "exec"), namespace)
        exec(compile(source, str(block), "exec"), namespace)
