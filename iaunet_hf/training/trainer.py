"""The reID training loop on ``accelerate``: one code path for CPU, one or many GPUs, many nodes, fp32/bf16/fp16.

``Trainer`` builds what a recipe describes through overridable ``build_*`` hooks (as fast-reid's
``DefaultTrainer``) and runs it: P x K batches -> IAUnet -> the recipe's losses -> optimizer, the learning rate
stepped per epoch or per step (``step_hooks``), evaluation and checkpoints every few epochs, the final model saved
in the transformers format. Other tasks subclass it (``classification.ClassificationTrainer``).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import datasets
import torch
from accelerate.utils import broadcast_object_list, set_seed
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..data import collate_reid
from ..evaluation.results import results_document
from ..precision import check_precision
from .checkpoints import CHECKPOINTS_DIR, TrainingProgress, latest_checkpoint, save_checkpoint
from .divergence import DivergenceMonitor, NonFiniteLossError, probe_loss
from .evaluation import evaluate_retrieval, flat_metrics
from .imagenet_init import has_part_attention
from .model_folder import save_model_folder
from .recipes import save_config
from .run_log import LossMeter, RunLog, flat_hparams
from .step_hooks import StepHooks
from .summary import RunFacts, TrainingResult, record_epoch, training_summary
from .trainer_setup import MODEL_DIR, TrainerSetup

BEST_MODEL_DIR = "best_model"
__all__ = ["BEST_MODEL_DIR", "MODEL_DIR", "NonFiniteLossError", "Trainer", "TrainingResult"]


class Trainer(TrainerSetup, StepHooks):
    """Builds everything a recipe describes (accelerator, data, model, optimizer) and runs it with ``train()``.

    ``dataset_dict`` may be given directly (tests, the demo); otherwise ``build_datasets`` loads it with
    ``iaunet_hf.data.load_reid_dataset``. Construction raises ``ValueError``/``FileNotFoundError`` for anything
    a user can fix (bad data, a refused resume), before anything is written.
    """

    task = "reid"
    label_column = "label"
    eval_splits = ("query", "gallery")
    primary_metric = "eval/mAP"
    pad_crop = 0

    def __init__(self, config, dataset_dict: datasets.DatasetDict | None = None) -> None:
        config.validate()
        self.config = config
        self.output_dir = Path(config.checkpoint.output_dir)
        self.checkpoints_dir = self.output_dir / CHECKPOINTS_DIR
        self.accelerator = self.build_accelerator()
        self.resume_from, self.resume_changes = self.check_resume()  # before anything is written
        if dataset_dict is None:
            self.dataset_dict, self.eval_dataset_name = self.build_datasets()
        else:
            self.dataset_dict, self.eval_dataset_name = dataset_dict, config.data.datasets[0]
        self.evaluates = all(split in self.dataset_dict for split in self.eval_splits)
        # the part loss trains when the recipe asks for it, the split has masks and the network part attention
        train_split = self.dataset_dict.get("train")
        masks_given = self.part_masks_wanted() and "part_masks" in getattr(train_split, "column_names", ())
        self.train_dataset, self.labels = self.build_train_dataset(self.dataset_dict, masks_given)
        self.num_classes = self.count_classes(train_split, self.labels)
        self.check_data(self.labels)
        self.batch_sampler = self.build_batch_sampler(self.labels)
        loader = DataLoader(
            self.train_dataset,
            batch_sampler=self.batch_sampler,
            collate_fn=collate_reid,
            num_workers=config.data.num_workers,
            persistent_workers=config.data.num_workers > 0,
        )
        # Seed right before the model: preparing the data may draw from the global RNG a varying amount.
        set_seed(config.train.seed)
        model = self.build_model(self.num_classes, part_loss=masks_given)
        self.part_masks_used = masks_given and has_part_attention(model)  # e.g. not for CIAU only
        self.warn_missing_part_masks(model, self.train_dataset)
        optimizer = self.build_optimizer(model)
        scheduler = self.build_step_hooks(model, optimizer, len(self.batch_sampler), self.num_classes)
        self.model, self.optimizer, self.train_loader, self.scheduler = self.accelerator.prepare(
            model, optimizer, loader, scheduler
        )
        self.progress = TrainingProgress()
        self.divergence = DivergenceMonitor(config.train.divergence_factor)
        self.run_log = RunLog(self.output_dir, enabled=self.accelerator.is_main_process)
        self.last_batch: dict[str, Any] | None = None  # the latest training batch, to probe the weights' loss
        self.run_facts = RunFacts(
            task=self.task,
            num_train_identities=len(set(self.labels)),
            num_train_images=len(self.labels),
            part_masks_used=self.part_masks_used,
            loss=self.loss_settings(),
        )

    # --- one step, one epoch ------------------------------------------------------------------------------
    def model_inputs(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        pixel_values = batch["pixel_values"]
        if self.config.train.channels_last and pixel_values.dim() == 4:
            pixel_values = pixel_values.contiguous(memory_format=torch.channels_last)
        inputs = {"pixel_values": pixel_values, "labels": batch["label"]}
        if "part_masks" in batch and self.part_masks_used:
            inputs.update(part_masks=batch["part_masks"], mask_valid=batch["mask_valid"].bool())
        return inputs

    def train_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor] | None:
        """Batch -> forward with labels (the model returns the paper's loss) -> finite? -> backward -> step.

        Returns the step's losses (device tensors), or None for a skipped non-finite step.
        """
        accelerator, train = self.accelerator, self.config.train
        with accelerator.accumulate(self.model):
            self.freeze.before_forward(self.progress.global_step, self.model.training)
            loss, components = self.step_loss(self.model(**self.model_inputs(batch)), batch["label"])
            # The one per-step host sync, as GradScaler's inf check: every process must take the same branch.
            if not bool(accelerator.gather(torch.isfinite(loss.detach()).reshape(1)).all()):
                self.optimizer.zero_grad()
                if train.non_finite_loss == "skip":
                    return None
                raise NonFiniteLossError(
                    f"non-finite loss ({loss.item()}) at step {self.progress.global_step + 1}",
                    self.last_good_checkpoint(),
                )
            accelerator.backward(loss)
            self.before_optimizer_step()
            if accelerator.sync_gradients and train.max_grad_norm is not None:
                accelerator.clip_grad_norm_(self.model.parameters(), train.max_grad_norm)
            self.optimizer.step()
            self.after_optimizer_step()
            self.optimizer.zero_grad()
        return {"loss": loss, **components}

    def train_one_epoch(self, epoch: int) -> dict[str, float]:
        """One pass over the batches; returns the epoch's mean losses and throughput."""
        accelerator, train = self.accelerator, self.config.train
        # Batches depend on (seed, epoch) only. The prepared loader re-applies its own epoch counter on every
        # iteration (which restarts at 0 after a resume), so it is set too.
        self.train_loader.set_epoch(epoch)
        self.batch_sampler.set_epoch(epoch)
        self.model.train()
        interval, whole_epoch = LossMeter(), LossMeter()
        num_images, skipped, start = 0, 0, time.perf_counter()
        bar = tqdm(self.train_loader, desc=f"epoch {epoch + 1}/{train.epochs}", unit="batch", leave=False,
                   disable=not accelerator.is_local_main_process)  # fmt: skip
        for batch in bar:
            self.last_batch = batch
            losses = self.train_step(batch)
            if losses is None:
                skipped += 1
                continue
            interval.add(losses)
            whole_epoch.add(losses)
            num_images += batch["pixel_values"].shape[0] * accelerator.num_processes
            if accelerator.sync_gradients:
                self.progress.global_step += 1
                self.advance_schedule(end_of_epoch=False)
                if self.progress.global_step % train.log_every == 0:
                    images_per_second = num_images / max(time.perf_counter() - start, 1e-9)
                    row = {f"train/{k}": v for k, v in interval.mean(accelerator).items()}
                    row.update(
                        {
                            "train/lr": self.scheduler.get_last_lr()[0],
                            "train/images_per_second": images_per_second,
                        }
                    )
                    interval.reset()
                    self.divergence.observe(row["train/loss"], f"step {self.progress.global_step}")
                    bar.set_postfix(loss=f"{row['train/loss']:.3f}", img_s=f"{images_per_second:.1f}")
                    accelerator.log(row, step=self.progress.global_step)
                    self.run_log.write("step", epoch + 1, self.progress.global_step, row)
        bar.close()
        seconds = time.perf_counter() - start
        summary = {f"train/{name}": value for name, value in whole_epoch.mean(accelerator).items()}
        if "train/loss" in summary and interval.count:  # a tail shorter than log_every still counts
            self.divergence.observe(summary["train/loss"], f"the end of epoch {epoch + 1}")
        summary.update({"train/lr": self.scheduler.get_last_lr()[0], "train/epoch_seconds": seconds,
                        "train/images_per_second": num_images / max(seconds, 1e-9), "train/skipped_steps": skipped})  # fmt: skip
        return summary

    # --- the run ------------------------------------------------------------------------------------------
    def train(self) -> TrainingResult:
        """Run the recipe from the start or the resumed checkpoint; evaluate, checkpoint, save the final model."""
        accelerator, config = self.accelerator, self.config
        if self.resume_from is not None:
            self.resume()  # restores the RNG state the next epoch starts from
            finished = self.finished_result()
            if finished is not None:
                return finished
            changed = {key: new for key, (old, new) in self.resume_changes.items()}
            self.run_log.write(
                "resume", self.progress.epochs_done, self.progress.global_step, {"changed": changed}
            )
        elif self.run_log.enabled and self.run_log.rows():
            # a new run in a folder that has a log already (one stopped before its first checkpoint)
            self.run_log.write("restart", 0, 0, {})
        if accelerator.is_main_process:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            save_config(config, self.output_dir / "config.yaml")
        accelerator.init_trackers("iaunet", config=flat_hparams(config.to_dict()))
        history, start = [], time.perf_counter()
        for epoch in range(self.progress.epochs_done, config.train.epochs):
            summary = self.train_one_epoch(epoch)
            self.advance_schedule(end_of_epoch=True)
            self.progress.epochs_done = epoch_number = epoch + 1
            record_epoch(self.progress.epoch_segments, epoch_number, self.run_facts.epoch_facts())
            last_epoch = epoch_number == config.train.epochs
            every = config.eval.every_epochs
            if every and epoch_number % every == 0 and not last_epoch:
                summary.update(self.evaluate_and_keep_best(epoch_number)[0])
            accelerator.log(summary, step=self.progress.global_step)
            self.run_log.write("epoch", epoch_number, self.progress.global_step, summary)
            history.append({"epoch": epoch_number, **summary})
            accelerator.print(
                f"epoch {epoch_number}: "
                + ", ".join(f"{k.split('/', 1)[1]} {v:.4g}" for k, v in summary.items())
            )
            if epoch_number % config.checkpoint.every_epochs == 0 or last_epoch:
                self.save_checkpoint()
        train_seconds = time.perf_counter() - start
        reason = self.weights_problem()
        if reason is not None:  # broken weights are never saved, as a checkpoint or as the final model
            raise NonFiniteLossError(
                f"{reason} after epoch {self.progress.epochs_done}; no final model is saved",
                self.last_good_checkpoint(),
            )
        final, entries = self.evaluate_and_keep_best(config.train.epochs, final=True)
        accelerator.log(final, step=self.progress.global_step)
        self.run_log.write("final", config.train.epochs, self.progress.global_step, final)
        model_dir = self.save_model(self.output_dir / MODEL_DIR, entries)
        accelerator.end_training()
        best = self.progress.best_metric if self.progress.best_epoch >= 0 else None
        document = results_document(entries, model=str(model_dir)) if entries else None
        return TrainingResult(self.output_dir, model_dir, final, history, best,
                              self.progress.best_epoch if best is not None else None, train_seconds, document)  # fmt: skip

    def weights_problem(self) -> str | None:
        """Why the current weights must not be saved (non-finite, or their loss on the last batch exploded)."""
        model = self.accelerator.unwrap_model(self.model)
        batch = self.last_batch
        loss = (
            None if batch is None else probe_loss(model, self.model_inputs(batch), self.accelerator.autocast)
        )
        if loss is not None and self.accelerator.num_processes > 1:  # one decision for every process
            loss = self.accelerator.reduce(torch.tensor([loss], device=self.accelerator.device), "max").item()
        return self.divergence.unhealthy_reason(model, loss)

    def last_good_checkpoint(self) -> Path | None:
        """The newest checkpoint of the output folder, else the one this run resumed from (None: nothing saved)."""
        return latest_checkpoint(self.checkpoints_dir) or self.resume_from

    def save_checkpoint(self) -> None:
        """A training-state checkpoint of the current epoch, unless the weights are broken (then warn)."""
        reason = self.weights_problem()
        if reason is not None:
            warnings.warn(
                f"not saving a checkpoint after epoch {self.progress.epochs_done}: {reason}; the last good "
                f"checkpoint stays {self.last_good_checkpoint() or 'none (none saved yet)'}",
                RuntimeWarning,
                stacklevel=2,
            )
            return
        self.progress.reference_loss = self.divergence.reference_loss
        self.progress.checkpoint_index += 1
        save_checkpoint(self.accelerator, self.checkpoints_dir, self.progress, self.config.to_dict(),
                        self.config.checkpoint.keep)  # fmt: skip

    # --- evaluation and saving ----------------------------------------------------------------------------
    def evaluate(self, rerank: bool = False) -> list[dict[str, Any]]:
        """Results entries of the current model on the evaluation splits (empty when the set has none).

        Runs on the calling process only, with the unwrapped model (no collective call). Under DDP the BN running
        statistics differ between processes, so the trainer evaluates the main process's model, the one it saves.
        """

        if not self.evaluates:
            return []
        data = self.config.data
        return evaluate_retrieval(
            self.accelerator.unwrap_model(self.model), self.dataset_dict, self.eval_dataset_name,
            data.eval_batch_size, flip=self.config.eval.flip, rerank=rerank, clip_length=data.clip_length,
            autocast_dtype=check_precision(self.config.train.mixed_precision),
        )  # fmt: skip

    def evaluate_and_keep_best(self, epoch_number: int, final: bool = False) -> tuple[dict[str, float], list]:
        entries = []
        if self.accelerator.is_main_process:
            entries = self.evaluate(rerank=final and self.config.eval.rerank)
        if self.accelerator.num_processes > 1:  # every process must take the same save decision below
            holder = [entries]
            broadcast_object_list(holder, from_process=0)
            entries = holder[0]
        metrics = flat_metrics(entries)
        score = metrics.get(self.primary_metric)
        if score is not None and score > self.progress.best_metric:
            self.progress.best_metric, self.progress.best_epoch = score, epoch_number
            self.save_model(self.output_dir / BEST_MODEL_DIR, entries)
        return metrics, entries

    def save_model(self, folder: str | Path, entries: list[dict[str, Any]]) -> Path:
        """The model folder (weights, processor, summary, results, card), written whole; see ``model_folder``."""
        data = self.config.data
        summary = training_summary(self.config, self.progress, self.run_facts)
        model = self.accelerator.unwrap_model(self.model)
        return save_model_folder(
            self.accelerator, model, Path(folder), summary, entries, (data.height, data.width)
        )
