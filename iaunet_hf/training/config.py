"""Training configuration: one dataclass per concern of a run, validated as a whole.

The dataclasses are plain data; reading recipe files, merging ablation recipes over their base and applying
``--key value`` overrides live in ``recipes.py``. Two sections are open: ``model`` takes any keyword of the timm
architecture it names (checked by ``IAUnetOptions``, the network's own options, without building it), and ``data`` takes any option of the dataset builder it names (checked against the builder's
config fields). Everything else is a declared field; unknown keys are errors, never ignored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..losses import ReIDLossConfig
from ..precision import PRECISIONS
from .open_sections import check_data_options, check_model_options
from .optimization import OPTIMIZERS
from .schedules import SCHEDULES

RECIPE_VERSION = 1
TASKS = ("reid", "classification")
NON_FINITE_ACTIONS = ("stop", "skip")


@dataclass
class ModelConfig:
    """Which timm architecture to build, its keywords (``options``) and how to initialise it."""

    architecture: str = (
        "iaunet_resnet50"  # a registered timm name (iaunet_resnet18/34/50, iaunet_resnet50_video)
    )
    pretrained: bool = True  # start the backbone from ImageNet weights
    pretrained_file: str | None = (
        None  # local ImageNet ResNet weights (safetensors or .pth) instead of the Hub
    )
    # Keywords of timm.create_model(architecture, ...): iau_stages, iau_modules, stiau_context, num_frames, ...
    # (the recipe's flat keys; ``model_options`` reads them as the typed, validated ``IAUnetOptions``)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataConfig:
    """Dataset(s), input size, identity sampling and loading; ``options`` go to the dataset builder."""

    dataset: str | list[str] = "market1501"  # name(s) known to iaunet_hf.data.load_reid_dataset
    data_dir: str | list[str] | None = None  # one folder per dataset, in the same order
    cache_dir: str | None = None
    mask_dir: str | None = None  # part masks (iaunet_hf.data.part_masks layouts) for the part loss
    height: int = 256
    width: int = 128
    batch_size: int = 64  # per process, P x K
    num_instances: int = 4  # K images (or tracklets) per identity in a batch
    clip_length: int = 4  # video: frames per training clip
    clip_stride: int = 8  # video: frame stride of the training clip
    random_erasing: float = 0.5
    padding: int = 0  # > 0: zero-pad by this many pixels, then random-crop back (BoT: 10)
    autoaugment: float = 0.0  # probability of torchvision's AutoAugment ImageNet policy (SBS: 0.1)
    color_jitter: float = 0.0  # probability of colour jitter (brightness, contrast, saturation 0.15, hue 0.1)
    random_patch: float = 0.0  # probability of pasting a patch of another image of the batch (Zhou et al.)
    use_part_masks: bool = True
    num_workers: int = 0
    eval_batch_size: int = 128
    # A train-only set: "none" trains without evaluation, "split" evaluates on identities held out by
    # iaunet_hf.data.split_identities (stored in the run folder so a resume uses the same split).
    missing_eval_splits: str = "none"
    split_test_fraction: float = 0.5
    # Builder options of load_reid_dataset, e.g. name_pattern (folder), with_distractors (market1501).
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def datasets(self) -> list[str]:
        return [self.dataset] if isinstance(self.dataset, str) else list(self.dataset)


@dataclass
class OptimizerConfig:
    """Adam, AdamW or SGD with momentum; per-group settings as fast-reid's (``optimization.parameter_groups``)."""

    name: str = "adam"  # "adam", "adamw" or "sgd"
    lr: float = 3.5e-4
    weight_decay: float = 5e-4
    momentum: float = 0.9  # SGD only
    bias_lr_factor: float = 1.0  # biases train at lr x this
    head_lr_factor: float = 1.0  # the head (pooling, reduction, BN neck, classifier) trains at lr x this
    weight_decay_norm: float | None = None  # norm layers' weight decay (null: weight_decay)
    weight_decay_bias: float | None = None  # biases' weight decay (null: weight_decay)


@dataclass
class SchedulerConfig:
    """Step decay x``gamma`` at each milestone epoch, stepped once per epoch (the paper's); with a warm-up, a cosine
    or ``per_iteration``, the schedule is evaluated after every optimizer step (``schedules.WarmupDecayLR``)."""

    milestones: list[int] = field(default_factory=lambda: [20, 40])
    gamma: float = 0.1
    name: str = "multistep"  # or "cosine"
    warmup_iterations: int = 0  # linear warm-up over this many optimizer steps
    warmup_factor: float = 0.1  # the warm-up starts at lr x this
    per_iteration: bool = False  # decay at fractional epochs (every step) rather than at whole epochs
    delay_epochs: int = 0  # cosine: constant lr for this many epochs first (SBS: 30)
    min_lr: float = 0.0  # cosine: the lr it ends at (SBS: 7e-7)


@dataclass
class TrainConfig:
    epochs: int = 60
    seed: int = 0
    # "fp32", "bf16" or "fp16" (accelerate's own key name; its "no" is read as "fp32")
    mixed_precision: str = "fp32"
    gradient_accumulation_steps: int = 1
    max_grad_norm: float | None = None  # clip the gradient norm when set
    freeze_backbone_iterations: int = (
        0  # train only the new layers (head, IAU blocks) for this many steps (SBS)
    )
    channels_last: bool = False
    compile: bool = False  # torch.compile the model
    sync_batchnorm: bool = False  # multi-GPU: convert BatchNorm to SyncBatchNorm
    non_finite_loss: str = "stop"  # "stop" the run, or "skip" the step
    # A logged loss above divergence_factor x the run's first logged loss counts as diverged: it warns, and no
    # checkpoint is written until the loss comes back down.
    divergence_factor: float = 1000.0
    max_steps_per_epoch: int | None = None  # cap on batches per epoch (smoke runs, the demo)
    log_every: int = 10  # optimizer steps between log lines (losses are synchronised once per interval)
    cpu: bool = False  # force the CPU even when an accelerator is present

    def __post_init__(self) -> None:
        if self.mixed_precision == "no":  # accelerate's spelling of full precision
            self.mixed_precision = "fp32"


@dataclass
class CheckpointConfig:
    output_dir: str = "outputs/iaunet"
    every_epochs: int = 10  # training-state checkpoint every N epochs (and always at the end)
    keep: int = 2  # training-state checkpoints kept (the best model is kept apart)
    resume: str | None = None  # "latest" or a checkpoint folder


@dataclass
class EvalConfig:
    every_epochs: int = 10  # 0 disables evaluation during training (the final evaluation still runs)
    flip: bool = False  # average the embeddings of the image and its mirror
    rerank: bool = False  # also report k-reciprocal re-ranked metrics at the end


@dataclass
class TrainingConfig:
    """A full training recipe. ``version`` is the recipe format version (``RECIPE_VERSION``)."""

    version: int = RECIPE_VERSION
    name: str = "custom"
    base: str | None = None  # the base recipe an ablation recipe was merged over
    paper_row: str | None = None  # the paper's table row an ablation recipe reproduces
    task: str = "reid"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: ReIDLossConfig = field(default_factory=ReIDLossConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    card: dict[str, Any] | None = None  # model-card facts of the dataset (read by the card writer as is)

    def to_dict(self) -> dict[str, Any]:
        """Nested plain data in the recipe file's shape (the open sections' options flattened in)."""
        raw = dataclasses.asdict(self)
        for section in OPEN_SECTIONS:
            raw[section].update(raw[section].pop("options"))
        return raw

    def validate(self) -> None:
        """Reject values that cannot train, naming the field, the value found and what is expected."""
        train, data, checkpoint = self.train, self.data, self.checkpoint
        checks = [
            (self.version == RECIPE_VERSION, "version", self.version, f"{RECIPE_VERSION}"),
            (self.task in TASKS, "task", self.task, f"one of {TASKS}"),
            (self.optimizer.name in OPTIMIZERS, "optimizer.name", self.optimizer.name, f"one of {OPTIMIZERS}"),
            (self.optimizer.lr > 0, "optimizer.lr", self.optimizer.lr, "a positive learning rate"),
            *optimization_checks(self.optimizer, self.scheduler, train, data),
            (train.mixed_precision in PRECISIONS, "train.mixed_precision", train.mixed_precision,
             f"one of {list(PRECISIONS)} (accelerate's 'no' means 'fp32')"),
            (train.non_finite_loss in NON_FINITE_ACTIONS, "train.non_finite_loss", train.non_finite_loss,
             f"one of {NON_FINITE_ACTIONS}"),
            (train.epochs >= 1, "train.epochs", train.epochs, "at least 1"),
            (train.gradient_accumulation_steps >= 1, "train.gradient_accumulation_steps",
             train.gradient_accumulation_steps, "at least 1"),
            (train.divergence_factor > 1, "train.divergence_factor", train.divergence_factor, "above 1"),
            (train.log_every >= 1, "train.log_every", train.log_every, "at least 1"),
            (train.max_steps_per_epoch is None or train.max_steps_per_epoch >= 1, "train.max_steps_per_epoch",
             train.max_steps_per_epoch, "null or at least 1"),
            (data.batch_size >= 1, "data.batch_size", data.batch_size, "at least 1"),
            (data.num_instances >= 1, "data.num_instances", data.num_instances, "at least 1"),
            (data.height % 16 == 0 and data.width % 16 == 0, "data.height/data.width",
             f"{data.height}x{data.width}", "both divisible by 16"),
            (data.missing_eval_splits in ("none", "split"), "data.missing_eval_splits", data.missing_eval_splits,
             "'none' (train without evaluation) or 'split' (hold out identities)"),
            (0 < data.split_test_fraction < 1, "data.split_test_fraction", data.split_test_fraction,
             "between 0 and 1"),
            (checkpoint.keep >= 1, "checkpoint.keep", checkpoint.keep, "at least 1"),
            (checkpoint.every_epochs >= 1, "checkpoint.every_epochs", checkpoint.every_epochs, "at least 1"),
            (self.eval.every_epochs >= 0, "eval.every_epochs", self.eval.every_epochs, ">= 0 (0 disables it)"),
        ]  # fmt: skip
        for ok, name, found, expected in checks:
            if not ok:
                raise ValueError(f"training config: {name} is {found!r}; expected {expected}")
        if self.task == "reid" and data.batch_size % data.num_instances:
            raise ValueError(
                f"training config: data.batch_size {data.batch_size} is not divisible by data.num_instances (K) "
                f"{data.num_instances}; set --data.batch_size to a multiple of {data.num_instances} "
                f"(P identities x K instances), e.g. {data.num_instances * max(1, data.batch_size // data.num_instances)}"
            )
        if isinstance(data.data_dir, list) and len(data.data_dir) != len(data.datasets):
            raise ValueError(
                f"training config: data.data_dir lists {len(data.data_dir)} folders for {len(data.datasets)} "
                f"dataset(s) {data.datasets}; expected one folder per dataset, in the same order"
            )
        check_model_options(self.model)
        check_data_options(data)


def optimization_checks(
    optimizer: OptimizerConfig, scheduler: SchedulerConfig, train: TrainConfig, data: DataConfig
) -> list[tuple[bool, str, Any, str]]:
    """(ok, field, value, expected) of the optimizer, schedule, freeze and augmentation settings."""
    decays = [
        ("optimizer.weight_decay_norm", optimizer.weight_decay_norm),
        ("optimizer.weight_decay_bias", optimizer.weight_decay_bias),
    ]
    probabilities = [
        (f"data.{name}", getattr(data, name))
        for name in ("random_erasing", "autoaugment", "color_jitter", "random_patch")
    ]
    return [
        (optimizer.weight_decay >= 0, "optimizer.weight_decay", optimizer.weight_decay, ">= 0"),
        (optimizer.bias_lr_factor > 0, "optimizer.bias_lr_factor", optimizer.bias_lr_factor, "> 0"),
        (optimizer.head_lr_factor > 0, "optimizer.head_lr_factor", optimizer.head_lr_factor, "> 0"),
        *[(value is None or value >= 0, name, value, "null or >= 0") for name, value in decays],
        (scheduler.name in SCHEDULES, "scheduler.name", scheduler.name, f"one of {SCHEDULES}"),
        (0 < scheduler.gamma <= 1, "scheduler.gamma", scheduler.gamma, "in (0, 1]"),
        (scheduler.warmup_iterations >= 0, "scheduler.warmup_iterations", scheduler.warmup_iterations, ">= 0"),
        (0 < scheduler.warmup_factor <= 1, "scheduler.warmup_factor", scheduler.warmup_factor, "in (0, 1]"),
        (0 <= scheduler.delay_epochs < train.epochs, "scheduler.delay_epochs", scheduler.delay_epochs,
         f"in [0, train.epochs = {train.epochs})"),
        (scheduler.min_lr >= 0, "scheduler.min_lr", scheduler.min_lr, ">= 0"),
        (train.freeze_backbone_iterations >= 0, "train.freeze_backbone_iterations",
         train.freeze_backbone_iterations, ">= 0 (and fewer than the run's optimizer steps)"),
        (train.max_grad_norm is None or train.max_grad_norm > 0, "train.max_grad_norm", train.max_grad_norm,
         "null or > 0"),
        (data.padding >= 0, "data.padding", data.padding, ">= 0"),
        *[(0 <= value <= 1, name, value, "a probability in [0, 1]") for name, value in probabilities],
    ]  # fmt: skip


OPEN_SECTIONS = ("model", "data")  # sections whose undeclared keys go to ``options``
