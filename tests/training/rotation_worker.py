"""Worker of the kill test: saves rotated checkpoints (keep=1) of a small model in a loop until it is killed.

Usage: python rotation_worker.py CHECKPOINTS_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from accelerate import Accelerator

from iaunet_hf.training.checkpoints import TrainingProgress, latest_checkpoint, save_checkpoint


def main(checkpoints_dir: str) -> None:
    accelerator = Accelerator(cpu=True)
    model = torch.nn.Sequential(*[torch.nn.Linear(256, 256) for _ in range(8)])
    model, optimizer = accelerator.prepare(model, torch.optim.Adam(model.parameters()))
    latest = latest_checkpoint(checkpoints_dir)
    index = int(latest.name.rsplit("_", 1)[1]) if latest else 0
    while True:
        model(torch.randn(4, 256)).sum().backward()
        optimizer.step()
        index += 1
        save_checkpoint(
            accelerator, Path(checkpoints_dir), TrainingProgress(checkpoint_index=index), {}, keep=1
        )
        print(f"saved {index}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
