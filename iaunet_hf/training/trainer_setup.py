"""The ``build_*`` hooks of ``Trainer`` that turn a recipe into data, a model and an optimizer, and the resume
check that runs before any of them writes a file. Subclasses override single hooks (see ``classification.py``).
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import datasets
import torch
from accelerate import Accelerator
from accelerate.utils import ProjectConfiguration
from torch.utils.data import Sampler

from ..configuration_iaunet import IAUnetConfig
from ..data import build_train_transform, combine_reid_datasets, load_reid_dataset, split_identities
from ..data.samplers import IdentityBatchSampler, LimitedBatchSampler
from ..data.transforms import lazy_frame_decoding
from ..evaluation.results import read_results
from ..inference.model_folder import EVAL_SPLIT_FILE, RESULTS_FILE, read_training_summary
from ..modeling_iaunet import IAUnetForReID
from ..precision import accelerate_mixed_precision
from .checkpoints import (
    check_checkpoint_files,
    list_checkpoints,
    load_checkpoint,
    read_run_config,
    resolve_resume,
)
from .evaluation import flat_metrics
from .imagenet_init import has_part_attention, load_imagenet_backbone
from .open_sections import model_options
from .optimization import build_optimizer
from .resume import apply_optimizer_settings, check_resume_changes, config_changes
from .run_log import tensorboard_available
from .summary import TrainingResult

if TYPE_CHECKING:
    from .checkpoints import TrainingProgress
    from .config import TrainingConfig
    from .divergence import DivergenceMonitor

MODEL_DIR = "model"


class TrainerSetup:
    """Mixin of ``Trainer``: everything built once, before the first step. Hooks take what they need as arguments
    and return what they build; they read only the run's constants below, which ``Trainer.__init__`` sets first
    (``resume``/``finished_result`` also read the training state it built)."""

    config: TrainingConfig
    output_dir: Path
    checkpoints_dir: Path
    accelerator: Accelerator
    label_column: str
    eval_splits: tuple[str, ...]
    pad_crop: int
    part_masks_used: bool
    resume_from: Path | None
    resume_changes: dict[str, tuple[Any, Any]]
    progress: TrainingProgress
    divergence: DivergenceMonitor
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler

    def check_resume(self) -> tuple[Path | None, dict[str, tuple[Any, Any]]]:
        """The checkpoint to resume from and the config changes against its run; refuses, before anything is
        written, a fresh run into a folder with checkpoints and a resume that changes what cannot change."""
        resume = self.config.checkpoint.resume
        if resume is None:
            if list_checkpoints(self.checkpoints_dir):
                raise ValueError(
                    f"checkpoint.output_dir {self.output_dir} already holds checkpoints of an earlier run; expected "
                    "an empty or new folder: pass --resume to continue that run, or choose another --output-dir"
                )
            return None, {}
        path = resolve_resume(resume, self.checkpoints_dir)
        check_checkpoint_files(path)
        changes = config_changes(read_run_config(path), self.config.to_dict())
        check_resume_changes(changes, path)
        return path, changes

    # --- resume -------------------------------------------------------------------------------------------
    def resume(self) -> None:
        """Load the checkpoint ``check_resume`` accepted and apply the safe overrides of this run to it."""
        self.progress = load_checkpoint(self.accelerator, self.resume_from)
        self.divergence.reference_loss = self.progress.reference_loss
        apply_optimizer_settings(self.optimizer, self.scheduler, self.config)
        changed = {key: new for key, (old, new) in self.resume_changes.items()}
        self.accelerator.print(f"resumed from {self.resume_from} after epoch {self.progress.epochs_done}"
                               + (f", with changed settings {changed}" if changed else ""))  # fmt: skip

    def finished_result(self) -> TrainingResult | None:
        """The result of a run whose final model already exists for these epochs (a resume of a finished run
        changes nothing and appends nothing), or None when there is training left."""
        model_dir = self.output_dir / MODEL_DIR
        summary = read_training_summary(model_dir)
        done = self.progress.epochs_done
        if summary is None or done < self.config.train.epochs or summary.get("epochs_completed") != done:
            return None
        self.accelerator.print(
            f"{self.output_dir}: the run already finished its {done} epochs; nothing to do"
        )
        results_path = model_dir / RESULTS_FILE
        document = read_results(results_path) if results_path.is_file() else None
        metrics = flat_metrics(document["results"]) if document else {}
        return TrainingResult(self.output_dir, model_dir, metrics, [], results=document)

    # --- accelerator and sampling ------------------------------------------------------------------------
    def build_accelerator(self) -> Accelerator:
        train = self.config.train
        return Accelerator(
            cpu=train.cpu,
            mixed_precision=accelerate_mixed_precision(train.mixed_precision),
            gradient_accumulation_steps=train.gradient_accumulation_steps,
            # The recipe's schedule is per epoch: step it ourselves, once, whatever the number of processes.
            step_scheduler_with_optimizer=False,
            dynamo_backend="inductor" if train.compile else None,
            log_with=["tensorboard"] if tensorboard_available() else None,
            project_config=ProjectConfiguration(
                project_dir=str(self.output_dir), logging_dir=str(self.output_dir / "tensorboard")
            ),
        )

    def build_epoch_sampler(self, labels: list[int]) -> Sampler[list[int]]:
        """P x K identity batches, depending only on (seed, epoch) so a resumed run replays them."""
        data = self.config.data
        return IdentityBatchSampler(labels, data.batch_size, data.num_instances, self.config.train.seed)

    def build_batch_sampler(self, labels: list[int]) -> Sampler[list[int]]:
        sampler, limit = self.build_epoch_sampler(labels), self.config.train.max_steps_per_epoch
        # accelerate shards whole batches across processes: keep enough for every process.
        return (
            sampler if limit is None else LimitedBatchSampler(sampler, limit * self.accelerator.num_processes)
        )

    # --- data ---------------------------------------------------------------------------------------------
    def load_one_dataset(self, name: str, data_dir: str) -> datasets.DatasetDict:
        data = self.config.data
        options = dict(data.options)
        if data.mask_dir is not None:
            options["mask_dir"] = data.mask_dir
        # The main process prepares the Arrow cache first; the others then read it.
        with self.accelerator.main_process_first():
            return load_reid_dataset(name, data_dir, cache_dir=data.cache_dir, **options)

    def build_datasets(self) -> tuple[datasets.DatasetDict, str]:
        """The recipe's set (or sets, combined with disjoint labels), with a held-out evaluation split on request,
        and the name of the set its evaluation splits come from."""
        data = self.config.data
        eval_dataset_name = data.datasets[0]
        if data.data_dir is None:
            raise ValueError(
                f"training config: data.data_dir is not set; pass --data-dir DIR, the folder of {data.dataset}"
            )
        folders = [data.data_dir] if isinstance(data.data_dir, str) else list(data.data_dir)
        if len(data.datasets) > 1 and len(folders) != len(data.datasets):
            raise ValueError(
                f"training config: data.data_dir must list one folder per dataset of {data.datasets}"
            )
        loaded = {
            name: self.load_one_dataset(name, folder)
            for name, folder in zip(data.datasets, folders, strict=True)
        }
        if len(loaded) == 1:
            (dataset_dict,) = loaded.values()
        else:
            dataset_dict = combine_reid_datasets(loaded)
            # evaluation on the first named set that has evaluation splits (test splits are not combined)
            tested = [name for name, d in loaded.items() if all(s in d for s in self.eval_splits)]
            if tested:
                eval_dataset_name = tested[0]
                dataset_dict.update({split: loaded[tested[0]][split] for split in self.eval_splits})
        if (
            not all(split in dataset_dict for split in self.eval_splits)
            and data.missing_eval_splits == "split"
        ):
            self.output_dir.mkdir(parents=True, exist_ok=True)
            dataset_dict = split_identities(
                datasets.DatasetDict(train=dataset_dict["train"]),
                test_fraction=data.split_test_fraction,
                seed=self.config.train.seed,
                split_file=self.output_dir / EVAL_SPLIT_FILE,
                # what iaunet-eval checks before it evaluates on this split (``load_identity_split``)
                source={"datasets": list(data.datasets), "data_dir": folders},
            )
        return dataset_dict, eval_dataset_name

    def build_train_dataset(
        self, dataset_dict: datasets.DatasetDict, use_part_masks: bool
    ) -> tuple[datasets.Dataset, list[int]]:
        """The train split with its training transform (its part masks kept when ``use_part_masks``), and its
        labels (read before the transform decodes)."""
        data = self.config.data
        if "train" not in dataset_dict:
            raise ValueError(
                f"{data.dataset}: dataset has splits {list(dataset_dict)}; expected a 'train' split"
            )
        train = dataset_dict["train"]
        if self.label_column not in train.column_names:
            raise ValueError(
                f"{data.dataset}: train split has columns {train.column_names}; expected {self.label_column!r}"
            )
        labels = [int(label) for label in train[self.label_column]]
        if self.label_column != "label":
            train = train.rename_column(self.label_column, "label")
        if "part_masks" in train.column_names and not use_part_masks:
            train = train.remove_columns("part_masks")
        train = lazy_frame_decoding(train)
        train.set_transform(
            build_train_transform(data.height, data.width, erasing_prob=data.random_erasing,
                                  clip_length=data.clip_length, clip_stride=data.clip_stride,
                                  pad_crop=data.padding or self.pad_crop, autoaugment_prob=data.autoaugment,
                                  color_jitter_prob=data.color_jitter, random_patch_prob=data.random_patch)
        )  # fmt: skip
        return train, labels

    def part_masks_wanted(self) -> bool:
        """Whether the recipe trains with the part loss (it then needs the train split's part masks)."""
        return self.config.data.use_part_masks and self.config.loss.part_loss_weight > 0

    def warn_missing_part_masks(self, model: torch.nn.Module, train_dataset: datasets.Dataset) -> None:
        """Warn when the recipe trains with the part loss, the network has part attention for it to train
        (STIAU) and the train split has no part masks: the part loss is then off for this run."""
        data, loss = self.config.data, self.config.loss
        if not self.part_masks_wanted() or "part_masks" in train_dataset.column_names:
            return
        if has_part_attention(model):
            warnings.warn(
                f"{data.dataset}: the recipe trains with the part loss (data.use_part_masks, loss.part_loss_weight "
                f"{loss.part_loss_weight}) but the train split has no part masks (data.mask_dir is {data.mask_dir!r}); "
                "the part loss is off for this run. Pass --data.mask_dir DIR with the set's part masks (written by "
                "scripts/make_part_masks.py of the source repository, see docs/data.md)",
                stacklevel=3,
            )

    def count_classes(self, train_split: datasets.Dataset, labels: list[int]) -> int:
        """Classifier outputs: a ClassLabel's class count (CIFAR-100), else the contiguous labels 0..N-1."""
        feature = train_split.features.get(self.label_column)
        return feature.num_classes if isinstance(feature, datasets.ClassLabel) else max(labels) + 1

    def check_data(self, labels: list[int]) -> None:
        data = self.config.data
        identities_per_batch = data.batch_size // data.num_instances
        num_identities = len(set(labels))
        if num_identities < identities_per_batch:
            raise ValueError(
                f"{data.dataset}: the train split has {num_identities} identities but a batch needs "
                f"P = data.batch_size / data.num_instances = {data.batch_size} / {data.num_instances} = "
                f"{identities_per_batch}; lower --data.batch_size to at most {num_identities * data.num_instances} "
                "or use a dataset with more identities"
            )

    # --- model and optimizer ------------------------------------------------------------------------------
    def build_model(self, num_classes: int, part_loss: bool) -> torch.nn.Module:
        """``IAUnetForReID`` built once from the recipe's options, then the ImageNet backbone weights (Hub or a
        local file) loaded into its network through timm's loader, when the recipe asks for them."""
        model_cfg, data = self.config.model, self.config.data
        hf_config = IAUnetConfig.from_options(
            model_options(model_cfg), image_size=[data.height, data.width], **self.loss_settings(part_loss)
        )
        hf_config.num_labels = num_classes
        model = IAUnetForReID(hf_config)
        if model_cfg.pretrained or model_cfg.pretrained_file is not None:
            load_imagenet_backbone(model.iaunet.network, self.config.model)
        model.eval()  # as the model came before (the loop switches to train mode itself)
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

    def build_optimizer(self, model: torch.nn.Module) -> torch.optim.Optimizer:
        """The recipe's optimizer over the model's parameters, grouped as ``optimization.parameter_groups`` says."""
        return build_optimizer(model, self.config.optimizer)

    def loss_settings(self, part_loss: bool | None = None) -> dict[str, Any]:
        """The loss fields as this run uses them: no part loss without part masks (``part_loss``: whether the
        part loss trains; default: as this run found, ``part_masks_used``)."""
        settings = dataclasses.asdict(self.config.loss)
        if not (self.part_masks_used if part_loss is None else part_loss):
            settings["part_loss_weight"] = 0.0
        return settings
