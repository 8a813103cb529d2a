"""Push -> download into an empty cache -> offline load with transformers and timm -> identical embeddings.

The push runs the `iaunet-push` entry point in a subprocess with `HF_ENDPOINT`/`HF_TOKEN` set, the offline
load runs in another subprocess with `HF_HUB_OFFLINE=1` after the server is stopped, because
`huggingface_hub` reads these variables when it is imported.
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import torch
from hub_server import TEST_TOKEN
from huggingface_hub import snapshot_download
from safetensors.torch import load, load_file, save_file

from iaunet_hf.hub.model_card import validate_model_card

REPO_ID = "iaunet-org/iaunet-r18-market"

PUSH = """
import sys
from iaunet_hf.hub.cli import push_main
status = push_main(sys.argv[1:])
if status == 0:  # transformers' own push_to_hub, through the same endpoint and token
    from iaunet_hf import IAUnetModel
    IAUnetModel.from_pretrained(sys.argv[2]).push_to_hub(
        "iaunet-org/pushed-by-transformers", commit_message="push_to_hub from transformers"
    )
raise SystemExit(status)
"""

OFFLINE_LOAD = """
import sys, timm, torch, iaunet_hf
from safetensors.torch import load, load_file, save_file
from transformers import AutoModel
inputs = load_file(sys.argv[1])["pixel_values"]
model = AutoModel.from_pretrained(sys.argv[3]).eval()
network = timm.create_model("hf-hub:" + sys.argv[3], pretrained=True, num_classes=0).eval()
original = AutoModel.from_pretrained(sys.argv[4]).eval()  # the folder that was pushed
original_network = timm.create_model("local-dir:" + sys.argv[4], pretrained=True, num_classes=0).eval()
with torch.no_grad():
    save_file({"transformers": model(pixel_values=inputs).pooler_output.contiguous(),
               "timm": network(inputs).contiguous(),
               "transformers_original": original(pixel_values=inputs).pooler_output.contiguous(),
               "timm_original": original_network(inputs).contiguous()}, sys.argv[2])
"""


def client_env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env.update(HF_HOME=str(tmp_path / "hf_home"), HF_HUB_DISABLE_TELEMETRY="1", **extra)
    return env


def test_push_download_offline_load_bit_identical(hub_server, image_model_dir, results_json, tmp_path):
    # The weights travel by the basic LFS transfer, as the server has no Xet storage.
    env = client_env(tmp_path, HF_ENDPOINT=hub_server.url, HF_TOKEN=TEST_TOKEN, HF_HUB_DISABLE_XET="1")
    push = subprocess.run(
        [sys.executable, "-c", PUSH, "--model", str(image_model_dir), "--repo-id", REPO_ID, "--private", "--dataset-results", str(results_json)],
        env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert push.returncode == 0, push.stderr
    assert hub_server.url in push.stdout

    files = hub_server.files(REPO_ID)
    assert {"model.safetensors", "config.json", "preprocessor_config.json", "README.md"} <= set(files)
    weights = (image_model_dir / "model.safetensors").read_bytes()
    assert files["model.safetensors"] == weights
    assert hub_server.state.lfs_objects == {hashlib.sha256(weights).hexdigest(): weights}  # the LFS path
    assert hub_server.state.repos[("model", REPO_ID)].private
    assert hub_server.commit_messages(REPO_ID)[0].startswith("Upload IAUnet checkpoint")
    assert len(hub_server.commit_messages(REPO_ID)) == 2  # the repo's first commit + one push commit
    commits = [
        auth for _, path, auth in hub_server.state.requests if path == f"/api/models/{REPO_ID}/commit/main"
    ]
    assert commits == [f"Bearer {TEST_TOKEN}"]
    pushed_by_transformers = hub_server.files("iaunet-org/pushed-by-transformers")
    assert load(pushed_by_transformers["model.safetensors"]).keys() == load(weights).keys()
    assert all(
        torch.equal(t, load(weights)[k]) for k, t in load(pushed_by_transformers["model.safetensors"]).items()
    )

    card = validate_model_card(files["README.md"].decode())
    assert {r.metric_type: r.metric_value for r in card.data.eval_results}["rank-1"] == 93.02

    cache = tmp_path / "hub_cache"
    snapshot = snapshot_download(REPO_ID, cache_dir=cache, endpoint=hub_server.url, token=TEST_TOKEN)
    for name in ("model.safetensors", "config.json", "preprocessor_config.json"):
        assert (Path(snapshot) / name).read_bytes() == (image_model_dir / name).read_bytes()
    hub_server.stop()  # from here on there is no Hub: everything must come from the cache

    inputs = torch.randn(3, 3, 64, 32, generator=torch.Generator().manual_seed(1))
    save_file({"pixel_values": inputs}, tmp_path / "inputs.safetensors")
    out = tmp_path / "embeddings.safetensors"
    offline = subprocess.run(
        [sys.executable, "-c", OFFLINE_LOAD, str(tmp_path / "inputs.safetensors"), str(out), REPO_ID, str(image_model_dir)],
        env=client_env(tmp_path, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(cache), HF_ENDPOINT=hub_server.url),
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert offline.returncode == 0, offline.stderr
    embeddings = load_file(out)
    # Same process, same library: the Hub copy gives the pushed folder's embedding bit for bit.
    assert torch.equal(embeddings["transformers"], embeddings["transformers_original"])
    assert torch.equal(embeddings["timm"], embeddings["timm_original"])
    assert embeddings["timm"].shape == (3, 512) and embeddings["timm"].abs().sum() > 0
    # One checkpoint, both libraries: identical embeddings.
    assert torch.equal(embeddings["transformers"], embeddings["timm"])
