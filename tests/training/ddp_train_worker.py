"""Worker of the two-process CPU test: trains the tiny config under torchrun and saves this rank's weights.

Usage: torchrun --nproc_per_node 2 ddp_train_worker.py DATA_DIR CACHE_DIR OUTPUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from safetensors.torch import save_file

from iaunet_hf.data import load_reid_dataset
from iaunet_hf.training import Trainer, load_config


def main(data_dir: str, cache_dir: str, output_dir: str) -> None:
    config = load_config(
        "synthetic",
        {
            "checkpoint.output_dir": output_dir,
            "data.height": 64,
            "data.width": 32,
            "data.batch_size": 8,
            "data.num_instances": 4,
            "train.epochs": 1,
            "train.max_steps_per_epoch": 1,
            "train.mixed_precision": "no",
            "train.cpu": True,
            "eval.every_epochs": 0,
            "eval.rerank": False,
        },
    )
    trainer = Trainer(config, load_reid_dataset("synthetic", data_dir, cache_dir=cache_dir))
    result = trainer.train()
    accelerator = trainer.accelerator
    # parameters only: BN running statistics are per process under DDP (SyncBatchNorm is the GPU option)
    model = accelerator.unwrap_model(trainer.model)
    state = {name: parameter.detach().contiguous() for name, parameter in model.named_parameters()}
    rank = accelerator.process_index
    save_file(state, Path(output_dir) / f"rank{rank}.safetensors")
    report = {"num_processes": accelerator.num_processes, "steps": trainer.progress.global_step}
    report["mAP"] = result.metrics["eval/mAP"]
    (Path(output_dir) / f"rank{rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:4])
