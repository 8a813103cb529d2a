"""The real `huggingface_hub` client against the loopback Hub server, with plain files."""

import time
import urllib.error
import urllib.request
from pathlib import Path

import huggingface_hub
import pytest
from hub_server import TEST_TOKEN, HubServer
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError


@pytest.fixture
def plain_folder(tmp_path):
    folder = tmp_path / "upload"
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("identity 0001 camera 2\n")
    (folder / "sub" / "table.csv").write_text("pid,camid\n1,2\n3,4\n")
    (folder / "blob.bin").write_bytes(bytes(range(256)) * 40)
    return folder


def test_create_upload_download_snapshot(hub_server, plain_folder, tmp_path, monkeypatch):
    # The legacy single-commit upload path is taken when Xet is disabled (no Xet storage on the server).
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)
    api = HfApi(endpoint=hub_server.url, token=TEST_TOKEN)
    repo_url = api.create_repo("org/plain", private=True)
    assert repo_url.repo_id == "org/plain"
    api.create_repo("org/plain", exist_ok=True)  # 409 from the server, accepted by the client
    with pytest.raises(HfHubHTTPError):
        api.create_repo("org/plain")

    info = api.upload_folder(repo_id="org/plain", folder_path=plain_folder, commit_message="add plain files")
    assert hub_server.commit_messages("org/plain")[0] == "add plain files"
    assert info.oid == api.repo_info("org/plain").sha
    assert sorted(api.list_repo_files("org/plain")) == [
        ".gitattributes",
        "blob.bin",
        "notes.txt",
        "sub/table.csv",
    ]

    cache = tmp_path / "cache"
    path = hf_hub_download(
        "org/plain", "sub/table.csv", cache_dir=cache, endpoint=hub_server.url, token=TEST_TOKEN
    )
    assert Path(path).read_text() == (plain_folder / "sub" / "table.csv").read_text()
    assert f"snapshots/{info.oid}/sub/table.csv" in path

    snapshot = snapshot_download("org/plain", cache_dir=cache, endpoint=hub_server.url, token=TEST_TOKEN)
    for name in ("notes.txt", "sub/table.csv", "blob.bin"):
        with open(f"{snapshot}/{name}", "rb") as downloaded:
            assert downloaded.read() == (plain_folder / name).read_bytes()

    # A second identical upload is a no-op on the client side (unchanged oids from preupload).
    api.upload_folder(repo_id="org/plain", folder_path=plain_folder, commit_message="again")
    assert hub_server.commit_messages("org/plain")[0] == "add plain files"


def test_private_repo_and_missing_entries(hub_server, tmp_path):
    api = HfApi(endpoint=hub_server.url, token=TEST_TOKEN)
    api.create_repo("org/secret", private=True)
    anonymous = HfApi(endpoint=hub_server.url, token=False)
    with pytest.raises(RepositoryNotFoundError):
        anonymous.repo_info("org/secret")
    with pytest.raises(HfHubHTTPError):
        anonymous.create_repo("org/other")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(
            "org/secret", "missing.txt", cache_dir=tmp_path, endpoint=hub_server.url, token=TEST_TOKEN
        )
    assert all(auth in (None, f"Bearer {TEST_TOKEN}") for _, _, auth in hub_server.state.requests)


def test_server_stops_by_itself():
    hub = HubServer(token=TEST_TOKEN, lifetime_s=0.3).start()
    try:
        HfApi(endpoint=hub.url, token=TEST_TOKEN).create_repo("org/short-lived")
        deadline = time.monotonic() + 10
        while hub._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not hub._thread.is_alive()
    finally:
        hub.stop()
    with pytest.raises(urllib.error.URLError):  # connection refused: nobody listens any more
        urllib.request.urlopen(hub.url + "/api/models/org/short-lived", timeout=2)
