"""IAUnetEncoder: frame + boxes -> unit-norm embeddings, equal to the model's own on the same crops."""

import numpy as np
import pytest
import torch

from iaunet_hf.tracking import IAUnetEncoder

PEOPLE = np.array([[10, 20, 50, 100], [60, 20, 100, 100], [110, 20, 150, 100]], dtype=np.float32)


def model_embeddings(model_dir, rgb_crops):
    """The checkpoint's embeddings of RGB crops through its own image processor and transformers model."""
    from transformers import AutoImageProcessor, AutoModel

    processor = AutoImageProcessor.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    with torch.no_grad():
        pixels = processor(images=list(rgb_crops), return_tensors="pt")["pixel_values"]
        embedding = model(pixel_values=pixels).pooler_output
    return torch.nn.functional.normalize(embedding, dim=1).numpy()


def assert_unit_rows(features, rows, dim):
    assert features.shape == (rows, dim) and features.dtype == np.float32
    assert np.isfinite(features).all()
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)


def test_equals_model_embeddings_on_the_same_crops(encoder, tracking_model_dir, frame_bgr):
    rgb = frame_bgr[..., ::-1]
    crops = [np.ascontiguousarray(rgb[y1:y2, x1:x2]) for x1, y1, x2, y2 in PEOPLE.astype(int)]
    expected = model_embeddings(tracking_model_dir, crops)
    features = encoder.get_features(PEOPLE, frame_bgr)
    assert_unit_rows(features, 3, encoder.embedding_dim)
    np.testing.assert_allclose(features, expected, atol=1e-5)
    assert (features @ features.T)[~np.eye(3, dtype=bool)].max() < 0.999  # three people, three embeddings


def test_boxes_at_the_edges_are_clipped_to_the_frame(encoder, frame_bgr):
    height, width = frame_bgr.shape[:2]
    outside = np.array([[-30, -10, 40, 60], [130, 70, width + 50, height + 40]], dtype=np.float32)
    clipped = np.array([[0, 0, 40, 60], [130, 70, width, height]], dtype=np.float32)
    np.testing.assert_allclose(
        encoder.get_features(outside, frame_bgr), encoder.get_features(clipped, frame_bgr)
    )


def test_degenerate_boxes_give_finite_unit_rows(encoder, frame_bgr):
    degenerate = np.array(
        [
            [30, 40, 30, 90],  # zero width
            [30, 40, 70, 40],  # zero height
            [50, 50, 50, 50],  # a point
            [500, 500, 600, 700],  # fully outside, below right
            [-90, -80, -10, -5],  # fully outside, above left
            [70, 90, 20, 30],  # inverted corners: the same box as [20, 30, 70, 90]
        ],
        dtype=np.float32,
    )
    features = encoder.get_features(degenerate, frame_bgr)
    assert_unit_rows(features, len(degenerate), encoder.embedding_dim)
    inverted = encoder.get_features(np.array([[20, 30, 70, 90]]), frame_bgr)[0]
    np.testing.assert_allclose(features[5], inverted, atol=1e-5)  # other batch: float rounding only


def test_no_boxes_give_zero_rows(encoder, frame_bgr):
    for empty in (np.zeros((0, 4), dtype=np.float32), np.array([]), []):
        features = encoder.get_features(empty, frame_bgr)
        assert features.shape == (0, encoder.embedding_dim) and features.dtype == np.float32


def test_frames_are_bgr(encoder, frame_bgr):
    rgb = np.ascontiguousarray(frame_bgr[..., ::-1])
    np.testing.assert_array_equal(encoder.get_features(PEOPLE, frame_bgr), encoder.features_rgb(PEOPLE, rgb))
    swapped = encoder.get_features(PEOPLE, rgb)  # the channels the wrong way round: other embeddings
    assert np.abs(swapped - encoder.get_features(PEOPLE, frame_bgr)).max() > 1e-2


def test_batches_split_without_changing_the_result(tracking_model_dir, frame_bgr):
    boxes = np.concatenate([PEOPLE, PEOPLE + 3, PEOPLE - 2])  # 9 crops: batches of 2 leave a batch of 1
    one_batch = IAUnetEncoder.from_pretrained(tracking_model_dir, batch_size=64).get_features(
        boxes, frame_bgr
    )
    batches_of_two = IAUnetEncoder.from_pretrained(tracking_model_dir, batch_size=2).get_features(
        boxes, frame_bgr
    )
    np.testing.assert_allclose(batches_of_two, one_batch, atol=1e-5)


def test_cv2_resize_option_matches_cv2_bilinear():
    cv2 = pytest.importorskip("cv2")
    from iaunet_hf.tracking.crops import cv2_bilinear_resize

    rng = np.random.default_rng(1)
    for shape in ((37, 13, 3), (200, 90, 3), (1, 1, 3)):
        crop = rng.integers(0, 256, size=shape, dtype=np.uint8)
        ours = cv2_bilinear_resize(torch.from_numpy(crop).permute(2, 0, 1), (64, 32)).permute(1, 2, 0).numpy()
        theirs = cv2.resize(crop, (32, 64), interpolation=cv2.INTER_LINEAR)
        assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1


def test_cv2_resize_mode_preprocesses_like_boxmot(tracking_model_dir, frame_bgr):
    """resize="cv2": cv2 bilinear resize, RGB, the checkpoint's mean/std (boxmot's own reID preprocessing)."""
    cv2 = pytest.importorskip("cv2")
    from transformers import AutoModel

    encoder = IAUnetEncoder.from_pretrained(tracking_model_dir, resize="cv2")
    crops = [frame_bgr[y1:y2, x1:x2] for x1, y1, x2, y2 in PEOPLE.astype(int)]
    resized = np.stack([cv2.cvtColor(cv2.resize(c, (32, 64)), cv2.COLOR_BGR2RGB) for c in crops])
    pixels = torch.from_numpy(resized).permute(0, 3, 1, 2).float() / 255
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    pixels = (pixels - mean[:, None, None]) / std[:, None, None]
    with torch.no_grad():
        expected = AutoModel.from_pretrained(tracking_model_dir).eval()(pixel_values=pixels).pooler_output
    expected = torch.nn.functional.normalize(expected, dim=1).numpy()
    # cv2's fixed-point interpolation is within one grey level of ours
    np.testing.assert_allclose(encoder.get_features(PEOPLE, frame_bgr), expected, atol=2e-2)


def test_wraps_an_in_memory_timm_model(frame_bgr):
    import timm

    import iaunet_hf  # noqa: F401 - registers the timm models

    model = timm.create_model(
        "iaunet_resnet18", num_classes=0, pretrained_cfg_overlay={"input_size": (3, 64, 32)}
    )
    encoder = IAUnetEncoder(model, batch_size=2)
    assert encoder.image_processor.size.height == 64 and encoder.image_processor.size.width == 32
    assert_unit_rows(encoder.get_features(PEOPLE, frame_bgr), 3, encoder.embedding_dim)


def test_reduced_precision_stays_close(tracking_model_dir, encoder, frame_bgr):
    reference = encoder.get_features(PEOPLE, frame_bgr)
    for precision in ("bf16", "fp16"):
        features = IAUnetEncoder.from_pretrained(tracking_model_dir, precision=precision).get_features(
            PEOPLE, frame_bgr
        )
        assert_unit_rows(features, 3, encoder.embedding_dim)
        assert (features * reference).sum(axis=1).min() > 0.99  # cosine similarity to fp32


@pytest.mark.reliability
def test_bad_input_is_refused(encoder, tracking_model_dir, frame_bgr):
    with pytest.raises(ValueError, match="finite"):
        encoder.get_features(np.array([[0, 0, np.nan, 10]]), frame_bgr)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        encoder.get_features(np.array([[0, 0, 10]]), frame_bgr)
    with pytest.raises(ValueError, match="uint8"):
        encoder.get_features(PEOPLE, frame_bgr.astype(np.float32))
    with pytest.raises(ValueError, match="backend"):
        IAUnetEncoder.from_pretrained(tracking_model_dir, backend="tflite")
    with pytest.raises(ValueError, match="precision"):
        IAUnetEncoder.from_pretrained(tracking_model_dir, precision="int4")
    with pytest.raises(ValueError, match="batch_size"):
        IAUnetEncoder.from_pretrained(tracking_model_dir, batch_size=0)
    with pytest.raises(FileNotFoundError, match="ONNX file"):
        IAUnetEncoder.from_pretrained(tracking_model_dir / "missing.onnx", backend="onnx")
