"""``iaunet-push --space`` against the loopback Hub: the Space repository's files, then the app started from a
download of that repository, loading its model from the Hub cache offline."""

from __future__ import annotations

import subprocess
import sys

import huggingface_hub
import yaml
from app_process import app_env, start_app, stop
from gradio_client import Client, handle_file
from hub_server import TEST_TOKEN, HubServer
from huggingface_hub import HfApi, snapshot_download

from iaunet_hf.version import __version__

PUSH = "from iaunet_hf.hub.cli import push_main; raise SystemExit(push_main())"


def test_space_round_trip(app_model_dir, tiny_synthetic_dirs, tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)  # LFS path: no Xet here
    data_dir, cache_dir = tiny_synthetic_dirs
    hf_home = tmp_path / "hf_home"
    with HubServer(token=TEST_TOKEN, lifetime_s=300) as hub:
        online = app_env(HF_ENDPOINT=hub.url, HF_TOKEN=TEST_TOKEN, HF_HOME=str(hf_home), HF_HUB_DISABLE_XET="1",
                         HF_HUB_OFFLINE="0")  # fmt: skip
        HfApi(endpoint=hub.url, token=TEST_TOKEN).create_repo("org/model")
        HfApi(endpoint=hub.url, token=TEST_TOKEN).upload_folder(
            repo_id="org/model", folder_path=app_model_dir
        )
        pushed = subprocess.run([sys.executable, "-c", PUSH, "--space", "org/demo", "--model", "org/model"],
                                env=online, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert pushed.returncode == 0, pushed.stderr[-2000:]
        files = hub.files("org/demo", repo_type="space")
        assert set(files) >= {"app.py", "requirements.txt", "README.md"}
        front_matter = yaml.safe_load(files["README.md"].decode().split("---")[1])
        assert front_matter["sdk"] == "gradio" and front_matter["app_file"] == "app.py"
        assert front_matter["models"] == ["org/model"] and front_matter["sdk_version"].startswith("6.")
        assert files["requirements.txt"].decode().strip() == f"iaunet-hf[app,tracking]=={__version__}"
        # what a Space does at build and start: the repository checked out, the model fetched into the cache
        space = snapshot_download("org/demo", repo_type="space", local_dir=tmp_path / "space",
                                  endpoint=hub.url, token=TEST_TOKEN)  # fmt: skip
        snapshot_download("org/model", cache_dir=hf_home / "hub", endpoint=hub.url, token=TEST_TOKEN)
    # the Hub is gone: the app starts offline from the cache
    command = [sys.executable, "app.py", "--data-dir", str(data_dir), "--cache-dir", str(cache_dir)]
    url, process = start_app(command, tmp_path / "space.log", cwd=tmp_path / "space", HF_HOME=str(hf_home))
    try:
        client = Client(url, verbose=False)
        query = sorted((data_dir / "bounding_box_test").glob("*.jpg"))[2]
        table = client.predict(None, handle_file(str(query)), 3, api_name="/search")[3]
        assert table["data"][0][5] == query.name
    finally:
        stop(process)
    assert "org/model" in (tmp_path / "space" / "app.py").read_text() and space
