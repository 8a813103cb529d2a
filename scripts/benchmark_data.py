"""Decode + augment throughput of the ``datasets`` input pipeline vs a plain folder + PIL loader.

Both run in this process (one worker, ``num_workers=0``, one torch thread) on the same train
images at 256x128 with the same augmentation (bicubic resize, flip, normalise, random erasing),
so the ratio compares the loaders and not the machines. With part masks (the synthetic set, or
``--mask-dir`` in the official layout) both loaders are also timed reading and transforming masks.

    python scripts/benchmark_data.py                      # synthetic set in a temporary folder
    python scripts/benchmark_data.py --dataset market1501 --data-dir /data/Market-1501-v15.09.15

``--prepare`` instead times preparing a set (parse, check every image, write the Arrow cache)
per 10k images, for each ``verify_mode`` (``header``, the default, and ``decode``) and without
checks, on a generated Market-style folder of 128x64 JPEGs (or ``--data-dir`` with ``--dataset``):

    python scripts/benchmark_data.py --prepare --num-images 2000 [--num-proc 4]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from iaunet_hf.data import build_reid_builder, build_train_transform, collate_reid, load_reid_dataset
from iaunet_hf.data.part_masks import PART_NAMES
from iaunet_hf.data.synthetic import SYNTHETIC_MASK_DIR
from iaunet_hf.hardware import describe_hardware

PLAIN, PLAIN_MASKS = "plain folder + PIL (images)", "plain folder + PIL (images + masks)"
OURS, OURS_MASKS = "datasets (images)", "datasets (images + masks)"


class PlainFolderDataset(Dataset):
    """The classic loader: open each file with PIL and apply torchvision transforms to the PIL image.

    With ``mask_dir`` it also reads the four official mask PNGs of each image and transforms them
    jointly, the way a folder-based loader would attach part masks.
    """

    def __init__(self, paths: list[Path], height: int, width: int, mask_dir: Path | None = None) -> None:
        self.paths = paths
        self.mask_dir = mask_dir
        self.geometric = v2.Compose(
            [
                v2.Resize((height, width), interpolation=v2.InterpolationMode.BICUBIC),
                v2.RandomHorizontalFlip(0.5),
            ]
        )
        self.photometric = v2.Compose(
            [
                v2.PILToTensor(),
                v2.ToDtype(torch.float32, scale=True),
                v2.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
                v2.RandomErasing(p=0.5, scale=(0.02, 0.4), ratio=(0.3, 3.3), value=0),
                v2.ToPureTensor(),
            ]
        )

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict:
        path = self.paths[index]
        with Image.open(path) as image:
            image = image.convert("RGB")
        if self.mask_dir is None:
            return {"pixel_values": self.photometric(self.geometric(image))}
        planes = [
            np.asarray(Image.open(self.mask_dir / path.stem / f"{name}.png")) > 127 for name in PART_NAMES
        ]
        image, masks = self.geometric(image, tv_tensors.Mask(torch.from_numpy(np.stack(planes))))
        return {
            "pixel_values": self.photometric(image),
            "part_masks": masks.as_subclass(torch.Tensor).float(),
        }


def images_per_second(dataset, num_images: int, batch_size: int) -> float:
    """Images per CPU-second of one worker over ``num_images`` images (after one warm-up batch).

    Process CPU time, not wall time: with one thread and no worker processes it is the work one
    worker does, and it stays comparable when other jobs share the machine.
    """
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=0, collate_fn=collate_reid)
    iterator = iter(loader)
    next(iterator)
    seen, start = 0, time.process_time()
    while seen < num_images:
        try:
            batch = next(iterator)
        except StopIteration:
            iterator = iter(loader)
            continue
        seen += batch["pixel_values"].shape[0]
    return seen / (time.process_time() - start)


def write_market_style_set(root: Path, num_images: int) -> None:
    """``num_images`` 128x64 JPEGs (random content, ~q90) in Market-1501's three folders, 4 per identity."""
    rng = np.random.default_rng(0)
    folders = ("bounding_box_train", "query", "bounding_box_test")
    for folder in folders:
        (root / folder).mkdir(parents=True)
    base = rng.integers(0, 256, size=(128, 64, 3), dtype=np.uint8)
    for index in range(num_images):
        pid, camera = index // 4 + 1, index % 4 + 1
        folder = folders[0] if index % 10 < 8 else folders[1 + index % 2]
        noise = rng.integers(0, 32, size=base.shape, dtype=np.uint8)
        Image.fromarray(base + noise).save(
            root / folder / f"{pid:04d}_c{camera}s1_{index:06d}_00.jpg", quality=90
        )


def preparation_benchmark(args) -> None:
    """Seconds per 10k images to prepare a set, by verify mode, measured in this run."""
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(args.data_dir) if args.data_dir else Path(scratch) / "Market-1501-v15.09.15"
        dataset = args.dataset if args.data_dir else "market1501"
        if not args.data_dir:
            write_market_style_set(data_dir, args.num_images)
        settings = {
            "no image check": {"verify_images": False},
            "header check (default)": {"verify_mode": "header"},
            "full decode check": {"verify_mode": "decode"},
        }
        best = dict.fromkeys(settings, float("inf"))
        num_images = 0
        for repeat in range(args.repeats):
            for name, options in settings.items():
                cache = Path(scratch) / f"cache_{repeat}_{len(best)}_{name.split()[0]}"
                start = time.perf_counter()
                prepared = load_reid_dataset(
                    dataset, data_dir, cache_dir=cache, num_proc=args.num_proc, **options
                )
                best[name] = min(best[name], time.perf_counter() - start)
                num_images = sum(split.num_rows for split in prepared.values())
    print(
        f"{dataset}: preparing {num_images} images (embedded), num_proc={args.num_proc}, best of {args.repeats}"
    )
    print(f"hardware: {describe_hardware()}")
    print("seconds per 10k images (lower is better):")
    for name, seconds in best.items():
        per_10k = seconds * 10_000 / num_images
        print(f"  {name:26s} {per_10k:8.2f} s   ratio vs no check {seconds / best['no image check']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--data-dir", default=None, help="dataset folder (default: a fresh synthetic set)")
    parser.add_argument("--mask-dir", default=None, help="official-layout part masks of the train split")
    parser.add_argument("--num-images", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds; the best of each is kept")
    parser.add_argument("--prepare", action="store_true", help="time preparation per 10k images instead")
    parser.add_argument(
        "--num-proc", type=int, default=None, help="processes for --prepare (datasets' num_proc)"
    )
    args = parser.parse_args()
    if args.prepare:
        preparation_benchmark(args)
        return
    torch.set_num_threads(1)  # one worker's view: no intra-op parallelism

    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(args.data_dir) if args.data_dir else Path(scratch) / "synthetic"
        options = {"mask_dir": args.mask_dir} if args.mask_dir else {}
        train = load_reid_dataset(args.dataset, data_dir, cache_dir=Path(scratch) / "cache", **options)[
            "train"
        ]
        if args.dataset == "synthetic":
            root, mask_dir = data_dir, data_dir / SYNTHETIC_MASK_DIR
        else:
            root, mask_dir = build_reid_builder(args.dataset, data_dir).locate_root(), args.mask_dir
        paths = [root / path for path in train["path"]]
        images_only = train.remove_columns([c for c in ("part_masks",) if c in train.column_names])
        candidates = {
            PLAIN: PlainFolderDataset(paths, args.height, args.width),
            OURS: images_only.with_transform(build_train_transform(args.height, args.width)),
        }
        if "part_masks" in train.column_names and mask_dir is not None:
            candidates[PLAIN_MASKS] = PlainFolderDataset(
                paths, args.height, args.width, mask_dir=Path(mask_dir)
            )
            candidates[OURS_MASKS] = train.with_transform(build_train_transform(args.height, args.width))
        best = dict.fromkeys(candidates, 0.0)
        for _ in range(args.repeats):
            for name, dataset in candidates.items():
                best[name] = max(best[name], images_per_second(dataset, args.num_images, args.batch_size))

    print(
        f"{args.dataset}: {len(train)} train images at {args.height}x{args.width}, best of {args.repeats} rounds"
    )
    print("images per CPU-second of one worker (higher is better):")
    for name, rate in best.items():
        baseline = PLAIN_MASKS if "masks" in name else PLAIN
        print(f"  {name:38s} {rate:8.1f}   ratio vs plain {rate / best[baseline]:.2f}")


if __name__ == "__main__":
    main()
