"""Cost of the prepared cache's data fingerprint (``iaunet_hf.data.cache_key``) on a large folder.

Writes ``--num-files`` tiny files (8 bytes, not images: the fingerprint never opens an image) in
Market-1501's layout into a temporary folder (``bounding_box_train``, ``query``,
``bounding_box_test`` at Market's sizes, the rest in the ``images/`` distractor folder, as in
Market-1501's 500k distractor set), then times ``path_fingerprint`` on it: the first run in a
fresh process right after writing (cold-ish: the kernel's directory and inode caches hold what
the writing left there; no cache is dropped), then ``--repeats`` runs in this process (warm).

    python scripts/benchmark_cache_key.py                   # 500,000 files
    python scripts/benchmark_cache_key.py --num-files 50000 --dir /data/scratch
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from iaunet_hf.data.cache_key import path_fingerprint
from iaunet_hf.hardware import describe_hardware

#: Market-1501's split sizes; what is left of --num-files goes to images/ (the distractors)
MARKET_SPLITS = {"bounding_box_train": 12_936, "query": 3_368, "bounding_box_test": 19_732}
TIMED = (
    "import sys, time; from iaunet_hf.data.cache_key import path_fingerprint; "
    "start = time.perf_counter(); path_fingerprint(sys.argv[1]); print(time.perf_counter() - start)"
)


def write_market_like(root: Path, num_files: int) -> int:
    """``num_files`` 8-byte files named like Market-1501's, split across its folders; returns the count."""
    sizes, left = {}, num_files
    for folder, count in MARKET_SPLITS.items():
        sizes[folder] = min(count, left)
        left -= sizes[folder]
    sizes["images"] = left
    written = 0
    for folder, count in sizes.items():
        (root / folder).mkdir(parents=True)
        for index in range(count):
            name = f"{index // 16:04d}_c{index % 6 + 1}s1_{index:06d}_00.jpg"
            handle = os.open(root / folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(handle, b"12345678")
            os.close(handle)
            written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--num-files", type=int, default=500_000)
    parser.add_argument("--repeats", type=int, default=3, help="warm runs after the first one")
    parser.add_argument("--dir", default=None, help="where to write the temporary folder (default: $TMPDIR)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        root = Path(scratch) / "Market-1501-v15.09.15"
        start = time.perf_counter()
        count = write_market_like(root, args.num_files)
        print(f"wrote {count:,} files in {time.perf_counter() - start:.1f} s under {root}")
        first = float(
            subprocess.run(
                [sys.executable, "-c", TIMED, str(root)], check=True, capture_output=True, text=True
            ).stdout
        )
        warm = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            path_fingerprint(root)
            warm.append(time.perf_counter() - start)
    print(f"hardware: {describe_hardware()}")
    print(f"file system of the folder: {scratch_kind(args.dir)}")
    print(f"fingerprint of {count:,} files (one os.scandir pass, one stat per file, no image read):")
    print(f"  first run, fresh process (cold-ish)  {first:6.2f} s   {count / first:12,.0f} files/s")
    for index, seconds in enumerate(warm, start=1):
        print(
            f"  warm run {index}                           {seconds:6.2f} s   {count / seconds:12,.0f} files/s"
        )


def scratch_kind(folder: str | None) -> str:
    """The mount that holds the temporary folder (device and type), from /proc/mounts where there is one."""
    path = os.path.realpath(folder or tempfile.gettempdir())
    try:
        mounts = [line.split()[:3] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "unknown"
    best = max(
        (m for m in mounts if path.startswith(m[1].rstrip("/") + "/") or path == m[1]),
        key=lambda m: len(m[1]),
    )
    return f"{best[0]} on {best[1]} ({best[2]})"


if __name__ == "__main__":
    main()
