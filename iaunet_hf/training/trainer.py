"""The training loop on ``accelerate``: one code path for CPU, one or many GPUs, many nodes, fp32/bf16/fp16.

Every device, precision and distribution concern goes through the ``Accelerator``; what is left reads like the
algorithm: P x K batches -> IAUnet -> CE + triplet + part loss -> optimizer, the learning rate stepped once per
epoch, evaluation and checkpoints every few epochs, and the final model saved in the transformers format.
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import timm
import torch
from accelerate import Accelerator
from accelerate.utils import ProjectConfiguration, broadcast_object_list, set_seed
from torch.utils.data import DataLoader, RandomSampler, Sampler
from tqdm.auto import tqdm

from ..data import IdentityBatchSampler, build_train_transform, collate_reid, load_reid_dataset
from ..data.transforms import lazy_frame_decoding
from ..image_processing_iaunet import IAUnetImageProcessor
from ..modeling_iaunet import IAUnetForReID, config_from_network
from .checkpoints import (
    TrainingProgress,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    replace_directory,
    resolve_resume,
    save_checkpoint,
)
from .config import TrainingConfig, save_config
from .run_log import RunLog

CLASSIFICATION_LABEL_COLUMN = "fine_label"
MODEL_DIR = "model"
BEST_MODEL_DIR = "best_model"
CHECKPOINTS_DIR = "checkpoints"
AUTOCAST_DTYPES = {"no": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the run stops so the last good checkpoint is not overwritten."""


@dataclass
class TrainingResult:
    """What a finished run produced, and where."""

    output_dir: Path
    model_dir: Path
    metrics: dict[str, float]
    history: list[dict[str, Any]] = field(default_factory=list)
    best_metric: float | None = None
    best_epoch: int | None = None
    train_seconds: float = 0.0


class LimitedBatchSampler(Sampler[list[int]]):
    """The first ``max_batches`` batches of a batch sampler each epoch (short runs); passes ``set_epoch`` on."""

    def __init__(self, batch_sampler: Sampler[list[int]], max_batches: int) -> None:
        self.batch_sampler = batch_sampler
        self.max_batches = max_batches

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.batch_sampler, "set_epoch"):
            self.batch_sampler.set_epoch(epoch)

    def __iter__(self):
        for index, batch in enumerate(self.batch_sampler):
            if index >= self.max_batches:
                return
            yield batch

    def __len__(self) -> int:
        return min(len(self.batch_sampler), self.max_batches)


class EpochSeededBatchSampler(Sampler[list[int]]):
    """Shuffled fixed-size batches (classification) whose order depends only on (seed, epoch), so resume replays
    them. torch's ``RandomSampler`` with an unseeded generator would draw from the global RNG instead."""

    def __init__(self, dataset_size: int, batch_size: int, seed: int) -> None:
        self.generator = torch.Generator()
        self.sampler = RandomSampler(range(dataset_size), generator=self.generator)
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        self.generator.manual_seed(self.seed * 1_000_003 + self.epoch)
        indices = list(self.sampler)
        for start in range(0, len(indices) - self.batch_size + 1, self.batch_size):
            yield indices[start : start + self.batch_size]

    def __len__(self) -> int:
        return len(self.sampler) // self.batch_size


def tensorboard_available() -> bool:
    return (
        importlib.util.find_spec("tensorboard") is not None
        or importlib.util.find_spec("tensorboardX") is not None
    )


def flat_hparams(config: TrainingConfig) -> dict[str, Any]:
    """The config as flat scalar hyper-parameters, as TensorBoard's hparams plugin needs."""
    flat = {}
    for section, values in config.to_dict().items():
        items = values.items() if isinstance(values, dict) else [(None, values)]
        for key, value in items:
            name = section if key is None else f"{section}.{key}"
            flat[name] = value if isinstance(value, (int, float, str, bool)) else str(value)
    return flat


class Trainer:
    """Builds everything a recipe describes (accelerator, data, model, optimizer) and runs it with ``train()``.

    ``dataset_dict`` may be given directly (tests, the demo); otherwise it is loaded with
    ``iaunet_hf.data.load_reid_dataset(config.data.dataset, config.data.data_dir)``. The model is
    ``IAUnetForReID``, whose forward with labels returns the paper's loss, so the saved checkpoint is the trained
    module itself.
    """

    def __init__(self, config: TrainingConfig, dataset_dict: datasets.DatasetDict | None = None) -> None:
        config.validate()
        self.config = config
        self.output_dir = Path(config.checkpoint.output_dir)
        self.checkpoints_dir = self.output_dir / CHECKPOINTS_DIR
        log_with = ["tensorboard"] if tensorboard_available() else None
        self.accelerator = Accelerator(
            cpu=config.train.cpu,
            mixed_precision=config.train.mixed_precision,
            gradient_accumulation_steps=config.train.gradient_accumulation_steps,
            # The recipe's schedule is per epoch: step it ourselves, once, whatever the number of processes.
            step_scheduler_with_optimizer=False,
            dynamo_backend="inductor" if config.train.compile else None,
            log_with=log_with,
            project_config=ProjectConfiguration(
                project_dir=str(self.output_dir), logging_dir=str(self.output_dir / "tensorboard")
            ),
        )
        if config.checkpoint.resume is None and list_checkpoints(self.checkpoints_dir):
            raise ValueError(
                f"checkpoint.output_dir {self.output_dir} already holds checkpoints of an earlier run; expected an "
                "empty or new folder: pass --resume to continue that run, or choose another --output-dir"
            )
        self.progress = TrainingProgress()
        self.accelerator.register_for_checkpointing(self.progress)
        self.run_log = RunLog(self.output_dir, enabled=self.accelerator.is_main_process)

        self.dataset_dict = dataset_dict if dataset_dict is not None else self._load_dataset()
        self.train_dataset, self.labels = self._train_split()
        self.num_classes = self._count_classes()
        self._validate_data()
        self.batch_sampler = self._build_batch_sampler()
        train_loader = DataLoader(
            self.train_dataset,
            batch_sampler=self.batch_sampler,
            collate_fn=collate_reid,
            num_workers=config.data.num_workers,
            persistent_workers=config.data.num_workers > 0,
        )
        # Seed right before the model: preparing the data may draw from the global RNG a varying amount.
        set_seed(config.train.seed)
        model = self._build_model()
        optimizer = self._build_optimizer(model)
        scheduler = torch.optim.lr_scheduler.MultiStepLR(
            optimizer, milestones=config.scheduler.milestones, gamma=config.scheduler.gamma
        )
        self.model, self.optimizer, self.train_loader, self.scheduler = self.accelerator.prepare(
            model, optimizer, train_loader, scheduler
        )

    # --- building -----------------------------------------------------------------------------------------
    def _load_dataset(self) -> datasets.DatasetDict:
        data = self.config.data
        if data.data_dir is None:
            raise ValueError(
                f"training config: data.data_dir is not set; expected the {data.dataset} folder (--data-dir)"
            )
        # The main process prepares the Arrow cache first; the others then read it.
        with self.accelerator.main_process_first():
            options = {"mask_dir": data.mask_dir} if data.mask_dir is not None else {}
            return load_reid_dataset(data.dataset, data.data_dir, cache_dir=data.cache_dir, **options)

    @property
    def is_classification(self) -> bool:
        return self.config.task == "classification"

    @property
    def eval_splits(self) -> tuple[str, ...]:
        return ("test",) if self.is_classification else ("query", "gallery")

    def _train_split(self) -> tuple[datasets.Dataset, list[int]]:
        data = self.config.data
        required = ("train", *self.eval_splits)
        missing = [split for split in required if split not in self.dataset_dict]
        if missing:
            raise ValueError(
                f"{data.dataset}: dataset has splits {list(self.dataset_dict)}; expected {list(required)}"
            )
        train = self.dataset_dict["train"]
        label_column = CLASSIFICATION_LABEL_COLUMN if self.is_classification else "label"
        if label_column not in train.column_names:
            raise ValueError(
                f"{data.dataset}: train split has columns {train.column_names}; expected {label_column!r}"
            )
        labels = [
            int(label) for label in train[label_column]
        ]  # read before set_transform, which would decode
        if label_column != "label":
            train = train.rename_column(label_column, "label")
        if "part_masks" in train.column_names and not (
            data.use_part_masks and self.config.loss.part_loss_weight
        ):
            train = train.remove_columns("part_masks")
        train = lazy_frame_decoding(train)
        train.set_transform(
            build_train_transform(
                data.height,
                data.width,
                erasing_prob=data.random_erasing,
                clip_length=data.clip_length,
                clip_stride=data.clip_stride,
                pad_crop=4 if self.is_classification else 0,
            )
        )
        return train, labels

    def _count_classes(self) -> int:
        """Classifier outputs: a ClassLabel's class count (CIFAR-100), else the contiguous reID labels 0..N-1."""
        feature = self.dataset_dict["train"].features.get(
            CLASSIFICATION_LABEL_COLUMN if self.is_classification else "label"
        )
        if isinstance(feature, datasets.ClassLabel):
            return feature.num_classes
        return max(self.labels) + 1

    def _validate_data(self) -> None:
        data = self.config.data
        if self.is_classification:
            if len(self.labels) < data.batch_size:
                raise ValueError(
                    f"{data.dataset}: {len(self.labels)} training images but data.batch_size is {data.batch_size}; "
                    "lower --data.batch_size"
                )
            return
        identities_per_batch = data.batch_size // data.num_instances
        num_identities = len(set(self.labels))
        if num_identities < identities_per_batch:
            raise ValueError(
                f"{data.dataset}: the train split has {num_identities} identities but a batch needs "
                f"P = data.batch_size / data.num_instances = {data.batch_size} / {data.num_instances} = "
                f"{identities_per_batch}; lower --data.batch_size to at most {num_identities * data.num_instances} "
                "or use a dataset with more identities"
            )

    def _build_batch_sampler(self) -> Sampler[list[int]]:
        data, train = self.config.data, self.config.train
        if self.is_classification:
            sampler = EpochSeededBatchSampler(len(self.labels), data.batch_size, train.seed)
        else:
            sampler = IdentityBatchSampler(self.labels, data.batch_size, data.num_instances, train.seed)
        if train.max_steps_per_epoch is not None:
            # accelerate shards whole batches across processes: keep enough for every process.
            sampler = LimitedBatchSampler(sampler, train.max_steps_per_epoch * self.accelerator.num_processes)
        return sampler

    def _build_model(self) -> IAUnetForReID:
        """IAUnetForReID with ImageNet backbone weights (Hub or a local file) when the recipe asks for them."""
        model_cfg, loss = self.config.model, self.config.loss
        network_kwargs: dict[str, Any] = dict(
            part_division=model_cfg.part_division, num_frames=model_cfg.num_frames
        )
        if model_cfg.iau_stages is not None:
            network_kwargs["iau_stages"] = tuple(model_cfg.iau_stages)
        pretrained = model_cfg.pretrained or model_cfg.pretrained_file is not None
        overlay = None
        if model_cfg.pretrained_file is not None:
            if not Path(model_cfg.pretrained_file).is_file():
                raise FileNotFoundError(
                    f"model.pretrained_file {model_cfg.pretrained_file} does not exist; expected ImageNet ResNet "
                    "weights (.safetensors or .pth), or set --model.pretrained false"
                )
            overlay = dict(file=str(model_cfg.pretrained_file))
        # timm builds the network (and loads ImageNet weights through its pretrained machinery); the
        # transformers class then takes those weights, so the architecture name alone fixes the config.
        network = timm.create_model(
            model_cfg.architecture,
            pretrained=pretrained,
            pretrained_cfg_overlay=overlay,
            num_classes=self.num_classes,
            **network_kwargs,
        )
        hf_config = config_from_network(
            network,
            image_size=[self.config.data.height, self.config.data.width],
            label_smoothing=loss.label_smoothing,
            triplet_margin=loss.triplet_margin,
            triplet_distance=loss.triplet_distance,
            triplet_weight=0.0 if self.is_classification else loss.triplet_weight,
            part_loss_weight=loss.part_loss_weight,
        )
        model = IAUnetForReID.from_timm(network, hf_config)
        if self.config.train.sync_batchnorm and self.accelerator.num_processes > 1:
            if self.accelerator.device.type == "cpu":
                warnings.warn(
                    "train.sync_batchnorm needs GPUs; keeping per-process BatchNorm on CPU", stacklevel=2
                )
            else:
                model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        if self.config.train.channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model

    def _build_optimizer(self, model: torch.nn.Module) -> torch.optim.Optimizer:
        opt = self.config.optimizer
        if opt.name == "sgd":
            return torch.optim.SGD(
                model.parameters(), lr=opt.lr, momentum=opt.momentum, weight_decay=opt.weight_decay
            )
        return torch.optim.Adam(model.parameters(), lr=opt.lr, weight_decay=opt.weight_decay)

    # --- training -----------------------------------------------------------------------------------------
    def _resume(self) -> None:
        resume = self.config.checkpoint.resume
        if resume is None:
            return
        path = resolve_resume(resume, self.checkpoints_dir)
        load_checkpoint(self.accelerator, path, self.progress)
        self.accelerator.print(f"resumed from {path} after epoch {self.progress.epochs_done}")

    def _is_finite_everywhere(self, loss: torch.Tensor) -> bool:
        """True when the loss is finite on every process (all must take the same branch, or DDP would hang)."""
        finite = torch.isfinite(loss.detach().float()).reshape(1)
        return bool(self.accelerator.gather(finite).all())

    def _model_inputs(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        pixel_values = batch["pixel_values"]
        if self.config.train.channels_last and pixel_values.dim() == 4:
            pixel_values = pixel_values.contiguous(memory_format=torch.channels_last)
        inputs = {"pixel_values": pixel_values, "labels": batch["label"]}
        if "part_masks" in batch and self.config.data.use_part_masks:
            inputs.update(part_masks=batch["part_masks"], mask_valid=batch["mask_valid"].bool())
        return inputs

    def train_one_epoch(self, epoch: int) -> dict[str, float]:
        """One pass over the P x K batches; returns the epoch's mean losses and throughput."""
        accelerator, train = self.accelerator, self.config.train
        # Batches depend on (seed, epoch) only, so a resumed run replays them. The prepared loader re-applies its own
        # epoch counter on every iteration (which restarts at 0 after a resume), so it is set too.
        self.train_loader.set_epoch(epoch)
        self.batch_sampler.set_epoch(epoch)
        self.model.train()
        totals: dict[str, float] = {}
        num_steps, num_images, skipped = 0, 0, 0
        start = time.perf_counter()
        bar = tqdm(
            self.train_loader,
            desc=f"epoch {epoch + 1}/{train.epochs}",
            unit="batch",
            disable=not accelerator.is_local_main_process,
            leave=False,
        )
        for batch in bar:
            with accelerator.accumulate(self.model):
                outputs = self.model(**self._model_inputs(batch))
                loss = outputs.loss
                if not self._is_finite_everywhere(loss):
                    if train.non_finite_loss == "skip":
                        skipped += 1
                        self.optimizer.zero_grad()
                        continue
                    last = latest_checkpoint(self.checkpoints_dir)
                    raise NonFiniteLossError(
                        f"non-finite loss ({loss.item()}) at epoch {epoch + 1}, step {self.progress.global_step}; "
                        f"the last good checkpoint is {last or 'none (no checkpoint saved yet)'}. Resume with "
                        "--resume latest and a lower --optimizer.lr, or set --train.non_finite_loss skip"
                    )
                accelerator.backward(loss)
                if accelerator.sync_gradients and train.max_grad_norm is not None:
                    accelerator.clip_grad_norm_(self.model.parameters(), train.max_grad_norm)
                self.optimizer.step()
                self.optimizer.zero_grad()
            batch_images = batch["pixel_values"].shape[0] * accelerator.num_processes
            num_images += batch_images
            num_steps += 1
            values = {"loss": loss, **(outputs.loss_components or {})}
            values = {name: float(value.detach()) for name, value in values.items()}
            for name, value in values.items():
                totals[name] = totals.get(name, 0.0) + value
            if accelerator.sync_gradients:
                self.progress.global_step += 1
                images_per_second = num_images / max(time.perf_counter() - start, 1e-9)
                bar.set_postfix(loss=f"{values['loss']:.3f}", img_s=f"{images_per_second:.1f}")
                if self.progress.global_step % train.log_every == 0:
                    step_log = {f"train/{k}": v for k, v in values.items()}
                    step_log.update(
                        {
                            "train/lr": self.scheduler.get_last_lr()[0],
                            "train/images_per_second": images_per_second,
                        }
                    )
                    accelerator.log(step_log, step=self.progress.global_step)
                    self.run_log.write("step", epoch + 1, self.progress.global_step, step_log)
        bar.close()
        seconds = time.perf_counter() - start
        summary = {f"train/{name}": total / max(num_steps, 1) for name, total in totals.items()}
        summary.update(
            {
                "train/lr": self.scheduler.get_last_lr()[0],
                "train/images_per_second": num_images / max(seconds, 1e-9),
                "train/epoch_seconds": seconds,
                "train/skipped_steps": skipped,
            }
        )
        return summary

    def train(self) -> TrainingResult:
        """Run the recipe from the start or the resumed checkpoint; evaluate, checkpoint, save the final model."""
        accelerator, config = self.accelerator, self.config
        if accelerator.is_main_process:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            save_config(config, self.output_dir / "config.yaml")
        accelerator.init_trackers("iaunet", config=flat_hparams(config))
        self._resume()  # last: it restores the RNG state the next epoch starts from
        history = []
        start = time.perf_counter()
        for epoch in range(self.progress.epochs_done, config.train.epochs):
            summary = self.train_one_epoch(epoch)
            self.scheduler.step()  # the recipe's schedule counts epochs
            self.progress.epochs_done = epoch + 1
            epoch_number = epoch + 1
            last_epoch = epoch_number == config.train.epochs
            every = config.eval.every_epochs
            if every and (epoch_number % every == 0) and not last_epoch:
                summary.update(self._evaluate_and_keep_best(epoch_number))
            accelerator.log(summary, step=self.progress.global_step)
            self.run_log.write("epoch", epoch_number, self.progress.global_step, summary)
            history.append({"epoch": epoch_number, **summary})
            accelerator.print(_format_summary(epoch_number, summary))
            if epoch_number % config.checkpoint.every_epochs == 0 or last_epoch:
                self.progress.checkpoint_index += 1
                save_checkpoint(
                    accelerator, self.checkpoints_dir, self.progress.checkpoint_index, config.checkpoint.keep
                )
        train_seconds = time.perf_counter() - start
        final = self._evaluate_and_keep_best(config.train.epochs, final=True)
        accelerator.log(final, step=self.progress.global_step)
        self.run_log.write("final", config.train.epochs, self.progress.global_step, final)
        model_dir = self.output_dir / MODEL_DIR
        self.save_model(model_dir, metrics=final)
        accelerator.end_training()
        best = self.progress.best_metric if self.progress.best_epoch >= 0 else None
        return TrainingResult(
            output_dir=self.output_dir,
            model_dir=model_dir,
            metrics=final,
            history=history,
            best_metric=best,
            best_epoch=self.progress.best_epoch if best is not None else None,
            train_seconds=train_seconds,
        )

    # --- evaluation and saving ----------------------------------------------------------------------------
    def evaluate(self, rerank: bool = False) -> dict[str, float]:
        """Metrics of the current model on the evaluation splits (percent): mAP/CMC, or top-1 for classification.

        Runs on the calling process only, with the unwrapped model (no collective call). Under DDP the BN running
        statistics differ between processes, so the trainer evaluates the main process's model, the one it saves.
        """
        from .evaluation import evaluate_classifier, evaluate_retrieval

        model = self.accelerator.unwrap_model(self.model)
        data = self.config.data
        if self.is_classification:
            return evaluate_classifier(
                model, self.dataset_dict["test"], data.height, data.width, data.eval_batch_size
            )
        return evaluate_retrieval(
            model,
            self.dataset_dict,
            data.eval_batch_size,
            flip=self.config.eval.flip,
            rerank=rerank,
            clip_length=data.clip_length,
            autocast_dtype=AUTOCAST_DTYPES[self.config.train.mixed_precision],
        )

    @property
    def primary_metric(self) -> str:
        return "eval/top-1 accuracy" if self.is_classification else "eval/mAP"

    def _evaluate_and_keep_best(self, epoch_number: int, final: bool = False) -> dict[str, float]:
        metrics = {}
        if self.accelerator.is_main_process:
            metrics = self.evaluate(rerank=final and self.config.eval.rerank and not self.is_classification)
        if self.accelerator.num_processes > 1:  # every process must take the same save decision below
            holder = [metrics]
            broadcast_object_list(holder, from_process=0)
            metrics = holder[0]
        score = metrics[self.primary_metric]
        if score > self.progress.best_metric:
            self.progress.best_metric, self.progress.best_epoch = score, epoch_number
            self.save_model(self.output_dir / BEST_MODEL_DIR, metrics={**metrics, "epoch": epoch_number})
        return metrics

    def save_model(self, folder: str | Path, metrics: dict[str, float] | None = None) -> Path:
        """``save_pretrained`` of the model and its image processor, plus metrics and a model card, atomically."""
        folder = Path(folder)
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            temporary = folder.with_name(f".tmp-{folder.name}")
            if temporary.exists():
                shutil.rmtree(temporary)
            model = self.accelerator.unwrap_model(self.model)
            model.save_pretrained(temporary, safe_serialization=True)
            IAUnetImageProcessor(
                size={"height": self.config.data.height, "width": self.config.data.width}
            ).save_pretrained(temporary)
            if metrics is not None:
                (temporary / "eval_results.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
                from .model_card import write_model_card

                write_model_card(temporary, self.config, metrics, model.config)
            replace_directory(temporary, folder)
        self.accelerator.wait_for_everyone()
        return folder


def _format_summary(epoch: int, summary: dict[str, float]) -> str:
    shown = {key.split("/", 1)[1]: value for key, value in summary.items() if isinstance(value, float)}
    parts = [
        f"{key} {value:.4g}"
        for key, value in shown.items()
        if math.isfinite(value) and key != "epoch_seconds"
    ]
    return f"epoch {epoch}: " + ", ".join(parts)
