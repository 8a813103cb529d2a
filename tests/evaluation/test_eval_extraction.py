"""Feature extraction: order, batching, flip, tracklet clips, both model faces, evaluate_model, and
two `accelerate` CPU processes (gloo) giving the same features as one process."""

import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from safetensors.torch import save_file

from iaunet_hf import IAUnetConfig, IAUnetForReID, IAUnetModel
from iaunet_hf.data import build_eval_transform, load_reid_dataset
from iaunet_hf.data.clip_sampling import test_clip_indices as clip_indices
from iaunet_hf.evaluation import (
    evaluate_model,
    evaluate_reid,
    evaluate_reid_features,
    extract_features,
    k_reciprocal_rerank,
)
from iaunet_hf.evaluation.extraction import embed

SIZE = (64, 32)


@pytest.fixture(scope="module")
def image_set(tiny_synthetic_dirs):
    data_dir, cache_dir = tiny_synthetic_dirs
    return data_dir, cache_dir, load_reid_dataset("synthetic", data_dir, cache_dir=cache_dir)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    network = timm.create_model("iaunet_resnet18", num_classes=0)
    # non-trivial BN statistics so that the embedding depends on the input in every channel
    with torch.no_grad():
        network.bnneck.running_mean.normal_()
        network.bnneck.running_var.uniform_(0.5, 2.0)
    return network.eval()


def reference_embeddings(model, data_dir, paths, flip=False):
    """Embeddings computed by hand: decode the JPEG, apply the evaluation transform, forward."""
    transform = build_eval_transform(*SIZE)
    pixels = torch.stack(
        [transform({"image": [Image.open(data_dir / path)]})["pixel_values"][0] for path in paths]
    )
    with torch.no_grad():
        embedding = model.forward_head(model.forward_features(pixels), pre_logits=True)
        if flip:
            embedding = (
                embedding + model.forward_head(model.forward_features(pixels.flip(-1)), pre_logits=True)
            ) / 2
    return embedding


def test_image_features_follow_dataset_order_for_any_batch_size(image_set, model):
    data_dir, _, dataset_dict = image_set
    gallery = dataset_dict["gallery"]
    expected = reference_embeddings(model, data_dir, gallery["path"])
    for batch_size in (3, 16):
        features = extract_features(model, gallery, batch_size=batch_size, image_size=SIZE, progress=False)
        assert features.shape == (len(gallery), 512)
        torch.testing.assert_close(features, expected, atol=1e-4, rtol=1e-4)


def test_flip_averages_with_the_mirrored_image(image_set, model):
    query = image_set[2]["query"].select(range(3))
    features = extract_features(model, query, batch_size=2, flip=True, image_size=SIZE, progress=False)
    torch.testing.assert_close(
        features, reference_embeddings(model, image_set[0], query["path"], flip=True), atol=1e-4, rtol=1e-4
    )


def test_bfloat16_autocast_stays_close_to_float32(image_set, model):
    query = image_set[2]["query"].select(range(2))
    full = extract_features(model, query, batch_size=2, image_size=SIZE, progress=False)
    autocast = extract_features(
        model, query, batch_size=2, image_size=SIZE, autocast_dtype=torch.bfloat16, progress=False
    )
    assert autocast.dtype == torch.float32
    assert not torch.equal(autocast, full)  # the forward really ran in bfloat16
    assert torch.nn.functional.cosine_similarity(autocast, full).min() > 0.98


def test_transformers_face_gives_the_timm_features(image_set, model):
    query = image_set[2]["query"].select(range(3))
    expected = extract_features(model, query, batch_size=4, image_size=SIZE, progress=False)
    config = IAUnetConfig(depth=18, image_size=list(SIZE), num_labels=5)
    base = IAUnetModel.from_timm(model, config)
    with_classifier = IAUnetForReID(config)
    with_classifier.iaunet.load_state_dict(base.state_dict())
    for hf_model in (base, with_classifier):
        torch.testing.assert_close(extract_features(hf_model, query, batch_size=4, progress=False), expected)


def test_evaluate_model_matches_metrics_of_extracted_features(image_set, model):
    dataset_dict = image_set[2]
    results = evaluate_model(model, dataset_dict, batch_size=16, image_size=SIZE, progress=False)
    query = extract_features(model, dataset_dict["query"], batch_size=16, image_size=SIZE, progress=False)
    gallery = extract_features(model, dataset_dict["gallery"], batch_size=16, image_size=SIZE, progress=False)
    expected = evaluate_reid_features(
        query,
        gallery,
        dataset_dict["query"]["pid"],
        dataset_dict["gallery"]["pid"],
        dataset_dict["query"]["camid"],
        dataset_dict["gallery"]["camid"],
    )
    assert results["mAP"] == pytest.approx(expected["mAP"], abs=1e-6)
    assert results["num_valid_queries"] == len(dataset_dict["query"])
    reranked = evaluate_model(
        model,
        dataset_dict,
        batch_size=16,
        image_size=SIZE,
        rerank=True,
        rerank_options={"k1": 4, "k2": 2},
        progress=False,
    )
    assert 0.0 < reranked["mAP"] <= 1.0 and reranked["num_valid_queries"] == len(dataset_dict["query"])
    # the streamed re-ranking equals the dense re-ranked matrix of the L2-normalised embeddings
    dense = k_reciprocal_rerank(
        torch.nn.functional.normalize(query, dim=1),
        torch.nn.functional.normalize(gallery, dim=1),
        k1=4,
        k2=2,
        progress=False,
    )
    labels = {
        f"{prefix}_{column}s": dataset_dict[split][column]
        for prefix, split in (("q", "query"), ("g", "gallery"))
        for column in ("pid", "camid")
    }
    dense_results = evaluate_reid(dense, **labels)
    assert reranked["mAP"] == pytest.approx(dense_results["mAP"], abs=1e-6)
    np.testing.assert_allclose(reranked["cmc"], dense_results["cmc"], atol=1e-6)


def test_unknown_cameras_switch_the_camera_filter_off(image_set, model):
    dataset_dict = image_set[2]
    known = evaluate_model(model, dataset_dict, batch_size=16, image_size=SIZE, progress=False)
    assert known["camera_filter"] is True
    unknown = dataset_dict.map(lambda row: {"camid": -1})
    for rerank in (False, True):
        results = evaluate_model(
            model,
            unknown,
            batch_size=16,
            image_size=SIZE,
            rerank=rerank,
            rerank_options={"k1": 4},
            progress=False,
        )
        # every query keeps its same-identity gallery images (all cameras are the same unknown camera)
        assert results["camera_filter"] is False
        assert results["num_valid_queries"] == len(dataset_dict["query"])


def test_embed_is_the_post_bn_embedding_for_every_face(model):
    """The one batch-embedding function: a classifier (timm or transformers) never changes what it returns."""
    x = torch.randn(2, 3, *SIZE)
    with_classifier = timm.create_model("iaunet_resnet18", num_classes=5).eval()
    with_classifier.load_state_dict({**with_classifier.state_dict(), **model.state_dict()})
    config = IAUnetConfig(depth=18, image_size=list(SIZE), num_labels=5)
    with torch.no_grad():
        expected = model(x)  # num_classes=0: forward gives the embedding
        faces = [
            model,
            with_classifier,
            IAUnetModel.from_timm(model, config),
            IAUnetForReID.from_timm(with_classifier),
        ]
        for face in faces:
            assert torch.equal(embed(face, x), expected)


def test_tracklet_features_average_their_clips(tiny_tracklet_dirs, model):
    data_dir, cache_dir = tiny_tracklet_dirs
    query = load_reid_dataset("synthetic", data_dir, cache_dir=cache_dir, video=True)["query"]
    features = extract_features(model, query, batch_size=2, image_size=SIZE, progress=False)
    transform = build_eval_transform(*SIZE)
    for row, item in enumerate(query):
        frames = transform({"frames": [item["frames"]]})["pixel_values"][0]  # (num_frames, 3, H, W)
        clips = frames[torch.tensor(clip_indices(len(frames), 4))]  # (num_clips, 4, 3, H, W)
        with torch.no_grad():
            expected = model.forward_head(model.forward_features(clips), pre_logits=True).mean(0)
        torch.testing.assert_close(features[row], expected, atol=1e-4, rtol=1e-4)


WORKER = textwrap.dedent(
    """
    import sys

    import timm
    import torch
    from accelerate import Accelerator
    from safetensors.torch import load_file

    import iaunet_hf
    from iaunet_hf.data import load_reid_dataset
    from iaunet_hf.evaluation import extract_features

    data_dir, cache_dir, weights, output = sys.argv[1:5]
    accelerator = Accelerator(cpu=True)
    model = timm.create_model("iaunet_resnet18", num_classes=0)
    model.load_state_dict(load_file(weights))
    gallery = load_reid_dataset("synthetic", data_dir, cache_dir=cache_dir)["gallery"]
    features = extract_features(model, gallery, batch_size=3, accelerator=accelerator, image_size=(64, 32), progress=False)
    if accelerator.is_main_process:
        torch.save({"features": features, "world_size": accelerator.num_processes}, output)
    """
)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.multiprocess
def test_two_cpu_processes_give_the_features_of_one(image_set, model, tmp_path):
    data_dir, cache_dir, dataset_dict = image_set
    gallery = dataset_dict["gallery"]
    assert len(gallery) % 2 == 0 and len(gallery) % 3 != 0  # the last batch is padded by accelerate
    save_file(model.state_dict(), str(tmp_path / "weights.safetensors"))
    (tmp_path / "worker.py").write_text(WORKER)
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(free_port()),
        str(tmp_path / "worker.py"),
        str(data_dir),
        str(cache_dir),
        str(tmp_path / "weights.safetensors"),
        str(tmp_path / "out.pt"),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = torch.load(tmp_path / "out.pt", weights_only=True)
    assert result["world_size"] == 2
    single = extract_features(model, gallery, batch_size=3, image_size=SIZE, progress=False)
    assert result["features"].shape == single.shape
    np.testing.assert_allclose(result["features"].numpy(), single.numpy(), atol=1e-4)
