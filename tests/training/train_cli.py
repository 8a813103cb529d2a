"""Command lines of the tiny synthetic training run, shared by the tests that drive ``iaunet-train``."""

from __future__ import annotations

from pathlib import Path


def tiny_train_argv(output_dir: Path | str, tiny_reid_dirs, tiny_overrides: dict, *extra: str) -> list[str]:
    """iaunet-train arguments of the tiny synthetic run into ``output_dir``, then ``extra``."""
    data_dir, cache_dir = tiny_reid_dirs
    argv = ["--recipe", "synthetic", "--output-dir", str(output_dir)]
    argv += ["--data-dir", str(data_dir), "--cache-dir", str(cache_dir)]
    for key, value in tiny_overrides.items():
        argv += [f"--{key}", str(value)]
    return [*argv, *extra]
