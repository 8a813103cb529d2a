"""How each code block of README.md and docs/*.md is tested: run in its markdown file's workspace (after a
setup that stands for what the surrounding text says the reader already has), or excluded with the reason.

Keys are (file, first line of the block). A block the table does not know fails the test, as does an entry
that no longer matches a block, so a docs change cannot leave an example untested by accident.
"""

from __future__ import annotations

from dataclasses import dataclass

from docs_world import TINY_TRAINING


@dataclass(frozen=True)
class Run:
    """Run the block. ``setup``: bash run first in the workspace; ``prelude``: Python run first in the file's
    namespace (the inputs a sketch takes as given); ``shrink``: (text, replacement) pairs that make a
    full-size setting tiny; ``needs``: modules whose absence skips the block."""

    setup: str = ""
    prelude: str = ""
    shrink: tuple[tuple[str, str], ...] = ()
    needs: tuple[str, ...] = ()

    def source(self, text: str) -> str:
        for old, new in self.shrink:
            if old not in text:
                raise AssertionError(
                    f"the block no longer contains {old!r}; update tests/docs/docs_examples.py"
                )
            text = text.replace(old, new)
        return text


@dataclass(frozen=True)
class Excluded:
    reason: str


# The wrapper's tiny settings, for the commands that bypass it (`python -m iaunet_hf.train`, torchrun, the Python API).
TINY_ARGS = " ".join(f"--{key} {value}" for key, value in TINY_TRAINING.items())
# The Python API example chooses its own precision; the strings are typed by their fields, as on the command line.
TINY_PYTHON = f"TINY = { ({k: v for k, v in TINY_TRAINING.items() if k != 'train.mixed_precision'})!r}\n"
# The file the OSNet example loads: an osnet_x1_0 state dict in torchreid's layout (``module.`` prefixed keys).
OSNET_TORCHREID_FILE = """
import timm, torch
import iaunet_hf
_state = timm.create_model("osnet_x1_0").state_dict()
torch.save({f"module.{key}": value for key, value in _state.items()}, "osnet_x1_0_imagenet.pth")
"""
QUERY_IMAGES = """
from pathlib import Path
from PIL import Image
images = [Image.open(path).convert("RGB") for path in sorted(Path("data/Market-1501-v15.09.15/query").glob("*.jpg"))]
image = images[0]
"""
REID_FEATURES = """
import numpy as np
rng = np.random.default_rng(0)
q_pids, g_pids = np.repeat(np.arange(4), 2), np.repeat(np.arange(6), 5)
q_camids, g_camids = np.tile([0, 1], 4), np.tile([0, 1, 2, 3, 4], 6)
query_features = rng.normal(size=(8, 64)).astype("float32") + np.eye(6, 64, dtype="float32")[q_pids] * 4
gallery_features = rng.normal(size=(30, 64)).astype("float32") + np.eye(6, 64, dtype="float32")[g_pids] * 4
query_embeddings, gallery_embeddings = query_features, gallery_features
distmat = 1 - (query_features @ gallery_features.T) / np.outer(np.linalg.norm(query_features, axis=1),
                                                              np.linalg.norm(gallery_features, axis=1))
batches = [{"embeddings": np.concatenate([query_features, gallery_features]), "pid": np.concatenate([q_pids, g_pids]),
            "camid": np.concatenate([q_camids, g_camids]), "is_query": np.arange(38) < 8}]
"""
TRAINED_MODEL = """
from transformers import AutoModel
model = AutoModel.from_pretrained("outputs/iaunet-market1501/best_model").eval()
"""
VIDEO_MODEL = """python - <<'PY'
import torch
from iaunet_hf import IAUnetConfig, IAUnetImageProcessor, IAUnetModel
IAUnetModel(IAUnetConfig(depth=18, num_frames=4, image_size=[64, 32])).eval().save_pretrained("iaunet-mars")
IAUnetImageProcessor(size={"height": 64, "width": 32}).save_pretrained("iaunet-mars")
PY
mkdir -p tracklet && cp data/Market-1501-v15.09.15/bounding_box_train/0001_c1*.jpg tracklet/
cp data/Market-1501-v15.09.15/query/0009_c1*.jpg a.jpg && cp data/Market-1501-v15.09.15/query/0009_c2*.jpg b.jpg
ln -s outputs/iaunet-market1501/best_model iaunet-market
"""
TORCHREID_CHECKPOINT = """python - <<'PY'
import timm, torch
state = {f"module.{k}": v for k, v in timm.create_model("resnet50").state_dict().items() if not k.startswith("fc.")}
state["module.classifier.weight"], state["module.classifier.bias"] = torch.randn(751, 2048), torch.zeros(751)
torch.save({"state_dict": state, "epoch": 60}, "resnet50_market.pth.tar")
PY
"""
TRACKING_STREAM = """
import numpy as np
frame_bgr = np.random.default_rng(0).integers(0, 255, size=(240, 320, 3), dtype=np.uint8)
detections = np.array([[10, 20, 60, 140, 0.9, 0], [150, 30, 200, 150, 0.8, 0]], dtype=np.float32)
stream = [(frame_bgr, detections)] * 3
boxes_xyxy = detections[:, :4]
"""
PUSH_TRAINED = "iaunet-push --model outputs/iaunet-market1501/best_model --repo-id your-org/iaunet-market1501"
INSTALLS = (
    "installs packages into the current environment (CI installs the same through the README's commands)"
)

EXAMPLES: dict[tuple[str, str], Run | Excluded] = {
    # README.md
    (
        "README.md",
        "# 1. the main job: install, then run the end-to-end demo on the embedded synthetic dataset (~5 min on 2 CPU cores after the install)",
    ): Excluded(
        "the set-up commands themselves: CI runs the second from a clean clone (.ci/run) and "
        "tests/test_readme_setup.py keeps them in step with it; the demo runs in tests/training/test_train_demo.py"
    ),
    ("README.md", "import timm"): Run(),
    ("README.md", "from transformers import AutoImageProcessor, AutoModel, pipeline"): Run(
        setup="mkdir -p path/or/org && cp -r outputs/iaunet-market1501/best_model path/or/org/iaunet-market1501",
        prelude=QUERY_IMAGES,
    ),
    (
        "README.md",
        "iaunet-train --recipe market1501 --data-dir data/ --data.mask_dir data/market1501_masks  # -> outputs/iaunet-market1501/best_model/",
    ): Run(setup="rm -rf outputs"),
    # docs/data.md
    ("docs/data.md", "from iaunet_hf.data import load_reid_dataset"): Run(),
    (
        "docs/data.md",
        "from iaunet_hf.data import evaluate_splits, format_split_summary, load_reid_dataset",
    ): Excluded(
        "needs the VIPeR images and trains once per split (the splits: tests/data/test_data_viper.py, "
        "evaluate_splits: tests/data/test_data_splits.py)"
    ),
    (
        "docs/data.md",
        'ds = load_reid_dataset("folder", "my_reid_set", name_pattern=r"person([-\\d]+)_cam(\\d)")  # person0007_cam2_x.jpg',
    ): Run(),
    ("docs/data.md", "from iaunet_hf.data import load_reid_dataset, split_identities"): Run(
        setup='for f in my_crops/*.jpg; do n=${f#my_crops/}; mkdir -p crops/${n%%_*}; cp "$f" crops/${n%%_*}/; done'
    ),
    ("docs/data.md", "iaunet-train --recipe market1501 --data.dataset folder --data-dir my_crops \\"): Run(),
    ("docs/data.md", "from iaunet_hf.data import combine_reid_datasets, load_reid_dataset"): Run(),
    (
        "docs/data.md",
        "python scripts/make_part_masks.py --model path/or/hub-id-of-a-LIP-parser --dataset market1501 \\",
    ): Excluded(
        "needs a trained human parser from the Hub (the script runs on a small local parser in "
        "tests/data/test_data_make_part_masks.py)"
    ),
    ("docs/data.md", "from iaunet_hf.data import write_synthetic_reid, load_reid_dataset"): Run(),
    ("docs/data.md", "import torch"): Run(
        shrink=(
            ("batch_size=64", "batch_size=8"),
            ("num_workers=4", "num_workers=0"),
            ("range(60)", "range(1)"),
        )
    ),
    ("docs/data.md", "$ python scripts/benchmark_data.py --num-images 1024 --repeats 3"): Excluded(
        "a measurement and its output (minutes of CPU, machine-specific numbers)"
    ),
    ("docs/data.md", "$ python scripts/benchmark_data.py --prepare --num-images 4000 --repeats 2"): Excluded(
        "a measurement and its output (minutes of CPU, machine-specific numbers)"
    ),
    ("docs/data.md", "$ python scripts/benchmark_cache_key.py"): Excluded(
        "a measurement and its output (500k files, machine-specific numbers)"
    ),
    # docs/demo.md
    (
        "docs/demo.md",
        "python scripts/demo.py                 # after the README's first set-up command; writes everything under demo_output/",
    ): Excluded(
        "the README's main job (~5 min): tests/training/test_train_demo.py runs it with one step an epoch"
    ),
    # docs/evaluation.md
    ("docs/evaluation.md", "from iaunet_hf.evaluation import evaluate_reid"): Run(prelude=REID_FEATURES),
    (
        "docs/evaluation.md",
        "from iaunet_hf.evaluation import evaluate_reid_features, pairwise_distance",
    ): Run(),
    ("docs/evaluation.md", "from iaunet_hf.evaluation import k_reciprocal_rerank"): Run(),
    ("docs/evaluation.md", "from iaunet_hf.evaluation import GalleryIndex"): Run(),
    ("docs/evaluation.md", "import evaluate"): Run(),
    (
        "docs/evaluation.md",
        "from iaunet_hf.evaluation.results import result_entry, results_document, write_results",
    ): Run(),
    ("docs/evaluation.md", "from iaunet_hf.data import load_reid_dataset"): Run(prelude=TRAINED_MODEL),
    (
        "docs/evaluation.md",
        "iaunet-eval --model outputs/iaunet-market1501/best_model --dataset market1501 \\",
    ): Run(),
    (
        "docs/evaluation.md",
        "iaunet-eval --model outputs/my-run/best_model --dataset folder --data-dir my_reid_set \\",
    ): Run(setup="cp -r outputs/iaunet-market1501 outputs/my-run"),
    (
        "docs/evaluation.md",
        "iaunet-eval --model outputs/iaunet-market1501/best_model --dataset market1501,dukemtmc_reid \\",
    ): Run(),
    (
        "docs/evaluation.md",
        "iaunet-train --recipe market1501 --data.dataset folder --data-dir my_crops \\",
    ): Run(),
    (
        "docs/evaluation.md",
        "# query + top-10 gallery strip per query, green border = same identity, red = wrong",
    ): Run(setup=VIDEO_MODEL, shrink=(("--queries 0 10 20", "--queries 0 1 2"),)),
    # docs/retrieval.md
    ("docs/retrieval.md", "from iaunet_hf.retrieval import open_gallery"): Run(
        prelude=REID_FEATURES, needs=("lancedb",)
    ),
    (
        "docs/retrieval.md",
        "iaunet-embed --model outputs/iaunet-market1501/best_model --gallery galleries/market \\",
    ): Run(needs=("lancedb",)),
    (
        "docs/retrieval.md",
        "iaunet-search --model outputs/iaunet-market1501/best_model --gallery galleries/market \\",
    ): Run(
        setup="iaunet-embed --model outputs/iaunet-market1501/best_model --gallery galleries/market "
        "--dataset market1501 --data-dir data/Market-1501-v15.09.15 --split gallery",
        needs=("lancedb",),
    ),
    (
        "docs/retrieval.md",
        "iaunet-eval --model outputs/iaunet-market1501/best_model --dataset market1501 \\",
    ): Run(
        setup="iaunet-embed --model outputs/iaunet-market1501/best_model --gallery galleries/market "
        "--dataset market1501 --data-dir data/Market-1501-v15.09.15 --split gallery",
        needs=("lancedb",),
    ),
    # docs/export.md
    ("docs/export.md", "iaunet-export --model outputs/iaunet-market1501/best_model --format onnx"): Run(
        needs=("onnxruntime",)
    ),
    (
        "docs/export.md",
        "iaunet-export --model outputs/iaunet-market1501/best_model --format onnx-int8 \\",
    ): Run(shrink=(("--calibration-images 256", "--calibration-images 16"),), needs=("onnxruntime",)),
    (
        "docs/export.md",
        "trtexec --onnx=model.onnx --saveEngine=model.engine --fp16 --precisionConstraints=obey \\",
    ): Excluded("TensorRT's trtexec needs an NVIDIA GPU"),
    ("docs/export.md", "python scripts/benchmark_inference.py"): Excluded(
        "a measurement (7 minutes of CPU, machine-specific numbers)"
    ),
    # docs/hub.md
    (
        "docs/hub.md",
        "import iaunet_hf  # registers the IAUnet classes with timm and the transformers Auto classes",
    ): Run(setup=PUSH_TRAINED),
    (
        "docs/hub.md",
        "iaunet-eval --model outputs/iaunet-market1501/best_model --dataset market1501 --data-dir data/ --output results.json",
    ): Run(),
    ("docs/hub.md", "from iaunet_hf.evaluation.results import read_results"): Run(),
    ("docs/hub.md", "from iaunet_hf.data import load_reid_dataset"): Run(),
    (
        "docs/hub.md",
        "python scripts/convert_checkpoint.py resnet50_market.pth.tar iaunet_backbone.safetensors",
    ): Run(setup=TORCHREID_CHECKPOINT),
    ("docs/hub.md", 'model = timm.create_model("iaunet_resnet50", pretrained=True,'): Run(),
    # docs/model.md
    ("docs/model.md", "from iaunet_hf import IAUnetConfig"): Run(),
    ("docs/model.md", "import timm"): Run(),
    ("docs/model.md", "# a reID model on any timm CNN"): Run(),
    ("docs/model.md", "from transformers import AutoModelForImageClassification"): Run(
        setup='mkdir -p org && python -c "from transformers import AutoModel; import iaunet_hf; '
        "AutoModel.from_pretrained('outputs/iaunet-market1501/best_model').save_pretrained("
        "'org/iaunet-market1501-embeddings')\""
    ),
    # docs/app.md (the commands are text blocks: a server runs until stopped; tests/app drives it)
    ("docs/app.md", "from iaunet_hf.hub.space import space_files"): Run(),
    (
        "docs/model.md",
        "import iaunet_hf  # registers osnet_x1_0, osnet_x0_75, osnet_x0_5 and osnet_x0_25 with timm",
    ): Run(prelude=OSNET_TORCHREID_FILE),
    (
        "docs/model.md",
        "# plain ResNet-50 weights (timm's names are torchvision's) into an IBN-a ResNet-50",
    ): Run(),
    # docs/tracking.md
    (
        "docs/tracking.md",
        'pip install "iaunet-hf[tracking]" && pip install --no-deps boxmot==25.0.0 trackeval==1.3.0',
    ): Excluded(INSTALLS),
    ("docs/tracking.md", "from boxmot import BotSort"): Run(prelude=TRACKING_STREAM, needs=("boxmot",)),
    (
        "docs/tracking.md",
        "python -c \"from iaunet_hf.data import write_synthetic_reid; write_synthetic_reid('data/synthetic')\"",
    ): Run(
        shrink=(
            (
                "--model outputs/iaunet-synthetic/best_model",
                "--model outputs/iaunet-synthetic/best_model --sequences 1 --frames 12 --people 3",
            ),
        ),
        needs=("boxmot",),
    ),
    # docs/training.md
    (
        "docs/training.md",
        "iaunet-train --recipe market1501 --data-dir data/Market-1501-v15.09.15 --mask-dir data/market1501_masks \\",
    ): Run(
        shrink=(("--epochs 80", "--epochs 3"), ("--optimizer.lr 2e-4", "--optimizer.lr 2e-4 " + TINY_ARGS))
    ),
    (
        "docs/training.md",
        "accelerate launch --multi_gpu --num_processes 8 -m iaunet_hf.train --recipe msmt17 --data-dir data/MSMT17_V1",
    ): Excluded("needs 8 GPUs (and 2 nodes for the torchrun line) and MSMT17"),
    (
        "docs/training.md",
        "torchrun --nproc_per_node 2 -m iaunet_hf.train --recipe synthetic --data-dir demo_output/synthetic_market1501 \\",
    ): Run(
        setup="mkdir -p demo_output && cp -r data/Market-1501-v15.09.15 demo_output/synthetic_market1501",
        shrink=(("--train.cpu true", "--train.cpu true " + TINY_ARGS),),
    ),
    (
        "docs/training.md",
        "iaunet-train --recipe market1501 --data-dir data/Market-1501-v15.09.15 --model.iau_modules '[ciau]' --model.stiau_context spatial",
    ): Run(),
    (
        "docs/training.md",
        "iaunet-train --recipe market1501 --data.dataset folder --data-dir my_crops \\",
    ): Excluded("the same commands as docs/data.md's train-only example, which runs"),
    ("docs/training.md", "from iaunet_hf.training import Trainer, load_config, trainer_for"): Run(
        prelude=TINY_PYTHON, shrink=(('"mixed-precision": "bf16"}', '"mixed-precision": "bf16", **TINY}'),)
    ),
}
