"""Training configuration: nested dataclasses read from versioned YAML recipes, with ``--key value`` overrides.

A recipe file is the whole record of how a model was trained, so it is plain data: one dataclass per concern
(model, data, loss, optimizer, scheduler, train, checkpoint, eval). Unknown keys are errors, never ignored,
because a misspelt key that silently falls back to a default would train a different model than the one asked.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

RECIPE_VERSION = 1
RECIPES_DIR = Path(__file__).with_name("recipes")
TASKS = ("reid", "classification")
OPTIMIZERS = ("adam", "sgd")
MIXED_PRECISIONS = ("no", "bf16", "fp16")
NON_FINITE_ACTIONS = ("stop", "skip")


@dataclass
class ModelConfig:
    """Which network to build and how to initialise it."""

    architecture: str = (
        "iaunet_resnet50"  # a registered timm name (iaunet_resnet18/34/50, iaunet_resnet50_video)
    )
    iau_stages: list[int] | None = None  # None: the architecture's default; [] is the paper's baseline
    part_division: str = "attention"  # "patches" for CIFAR-100
    num_frames: int = 1  # clip length T (4 for video)
    pretrained: bool = True  # start the backbone from ImageNet weights
    pretrained_file: str | None = (
        None  # local ImageNet ResNet weights (safetensors or .pth) instead of the Hub
    )


@dataclass
class DataConfig:
    """Dataset, input size, identity sampling and loading."""

    dataset: str = "market1501"  # a name known to iaunet_hf.data.load_reid_dataset
    data_dir: str | None = None
    cache_dir: str | None = None
    mask_dir: str | None = None  # part masks (iaunet_hf.data.part_masks layouts) for the part loss
    height: int = 256
    width: int = 128
    batch_size: int = 64  # per process, P x K
    num_instances: int = 4  # K images (or tracklets) per identity in a batch
    clip_length: int = 4  # video: frames per training clip
    clip_stride: int = 8  # video: frame stride of the training clip
    random_erasing: float = 0.5
    use_part_masks: bool = True
    num_workers: int = 0
    eval_batch_size: int = 128


@dataclass
class LossConfig:
    """Weights of the loss (spec §3); classification uses cross-entropy only."""

    label_smoothing: float = 0.1
    triplet_margin: float = 0.3
    triplet_distance: str = "cosine"
    triplet_weight: float = 1.0
    part_loss_weight: float = 0.5


@dataclass
class OptimizerConfig:
    name: str = "adam"
    lr: float = 3.5e-4
    weight_decay: float = 5e-4
    momentum: float = 0.9  # SGD only


@dataclass
class SchedulerConfig:
    """Step decay, stepped once at the end of every epoch: x``gamma`` at each milestone epoch."""

    milestones: list[int] = field(default_factory=lambda: [20, 40])
    gamma: float = 0.1


@dataclass
class TrainConfig:
    epochs: int = 60
    seed: int = 0
    mixed_precision: str = "no"
    gradient_accumulation_steps: int = 1
    max_grad_norm: float | None = None  # clip the gradient norm when set
    channels_last: bool = False
    compile: bool = False  # torch.compile the model
    sync_batchnorm: bool = False  # multi-GPU: convert BatchNorm to SyncBatchNorm
    non_finite_loss: str = "stop"  # "stop" the run, or "skip" the step
    max_steps_per_epoch: int | None = None  # cap on batches per epoch (smoke runs, the demo)
    log_every: int = 10  # optimizer steps between log lines
    cpu: bool = False  # force the CPU even when an accelerator is present


@dataclass
class CheckpointConfig:
    output_dir: str = "outputs/iaunet"
    every_epochs: int = 10  # accelerator.save_state every N epochs (and always at the end)
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
    task: str = "reid"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> None:
        """Reject values that cannot train, naming the field, the value found and what is expected."""
        checks = [
            (self.version == RECIPE_VERSION, "version", self.version, f"{RECIPE_VERSION}"),
            (self.task in TASKS, "task", self.task, f"one of {TASKS}"),
            (
                self.optimizer.name in OPTIMIZERS,
                "optimizer.name",
                self.optimizer.name,
                f"one of {OPTIMIZERS}",
            ),
            (
                self.train.mixed_precision in MIXED_PRECISIONS,
                "train.mixed_precision",
                self.train.mixed_precision,
                f"one of {MIXED_PRECISIONS}",
            ),
            (
                self.train.non_finite_loss in NON_FINITE_ACTIONS,
                "train.non_finite_loss",
                self.train.non_finite_loss,
                f"one of {NON_FINITE_ACTIONS}",
            ),
            (self.train.epochs >= 1, "train.epochs", self.train.epochs, "at least 1"),
            (
                self.train.gradient_accumulation_steps >= 1,
                "train.gradient_accumulation_steps",
                self.train.gradient_accumulation_steps,
                "at least 1",
            ),
            (self.data.batch_size >= 1, "data.batch_size", self.data.batch_size, "at least 1"),
            (self.data.num_instances >= 1, "data.num_instances", self.data.num_instances, "at least 1"),
            (
                self.data.height % 16 == 0 and self.data.width % 16 == 0,
                "data.height/data.width",
                f"{self.data.height}x{self.data.width}",
                "both divisible by 16",
            ),
            (self.checkpoint.keep >= 1, "checkpoint.keep", self.checkpoint.keep, "at least 1"),
            (
                self.checkpoint.every_epochs >= 1,
                "checkpoint.every_epochs",
                self.checkpoint.every_epochs,
                ">= 1",
            ),
            (self.optimizer.lr > 0, "optimizer.lr", self.optimizer.lr, "a positive learning rate"),
            (
                self.eval.every_epochs >= 0,
                "eval.every_epochs",
                self.eval.every_epochs,
                ">= 0 (0 disables it)",
            ),
            (
                self.train.max_steps_per_epoch is None or self.train.max_steps_per_epoch >= 1,
                "train.max_steps_per_epoch",
                self.train.max_steps_per_epoch,
                "null or at least 1",
            ),
        ]
        for ok, name, found, expected in checks:
            if not ok:
                raise ValueError(f"training config: {name} is {found!r}; expected {expected}")
        if self.task == "reid" and self.data.batch_size % self.data.num_instances:
            raise ValueError(
                f"training config: data.batch_size {self.data.batch_size} is not divisible by data.num_instances "
                f"(K) {self.data.num_instances}; set --data.batch_size to a multiple of {self.data.num_instances} "
                f"(P identities x K instances), e.g. {self.data.num_instances * max(1, self.data.batch_size // self.data.num_instances)}"
            )


def available_recipes() -> list[str]:
    """Names of the recipes shipped with the package."""
    return sorted(path.stem for path in RECIPES_DIR.glob("*.yaml"))


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    """(inner type, accepts None) of ``X | None``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return args[0], len(args) < len(typing.get_args(annotation))
    return annotation, False


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Convert a YAML or command-line value to the field's declared type (YAML 1.1 reads ``1e-3`` as a string)."""
    inner, optional = _unwrap_optional(annotation)
    if value is None or (optional and isinstance(value, str) and value.lower() in ("none", "null", "")):
        if optional:
            return None
        raise ValueError(f"{where}: found null; expected a value of type {getattr(inner, '__name__', inner)}")
    origin = typing.get_origin(inner)
    try:
        if origin in (list, tuple):
            if isinstance(value, str):
                value = yaml.safe_load(value) if value.strip().startswith("[") else value.split(",")
                value = [] if value is None else value
            if not isinstance(value, (list, tuple)):
                raise TypeError
            (item_type,) = typing.get_args(inner)[:1] or (str,)
            return [_coerce(item, item_type, f"{where}[{index}]") for index, item in enumerate(value)]
        if inner is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
                return value.lower() in ("true", "yes", "1")
            raise TypeError
        if inner is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            return int(value)
        if inner is float:
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if inner is str:
            if isinstance(value, (dict, list)):
                raise TypeError
            return str(value)
    except (TypeError, ValueError):
        pass
    else:
        return value
    raise ValueError(f"{where}: found {value!r}; expected a value of type {inner}")


def _section_fields(section_cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(section_cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(section_cls)}


def config_from_dict(raw: dict[str, Any], source: str = "recipe") -> TrainingConfig:
    """Build a ``TrainingConfig`` from nested plain data, rejecting unknown sections and keys."""
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: expected a mapping of sections, found {type(raw).__name__}")
    top = _section_fields(TrainingConfig)
    unknown = sorted(set(raw) - set(top))
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {unknown}; expected some of {sorted(top)}")
    values: dict[str, Any] = {}
    for key, annotation in top.items():
        if key not in raw:
            continue
        if dataclasses.is_dataclass(annotation):
            section = raw[key] or {}
            if not isinstance(section, dict):
                raise ValueError(
                    f"{source}: section {key!r} is {section!r}; expected a mapping of its fields"
                )
            fields = _section_fields(annotation)
            unknown = sorted(set(section) - set(fields))
            if unknown:
                raise ValueError(
                    f"{source}: unknown key(s) {[f'{key}.{u}' for u in unknown]}; expected some of {sorted(fields)}"
                )
            values[key] = annotation(
                **{
                    name: _coerce(value, fields[name], f"{source}: {key}.{name}")
                    for name, value in section.items()
                }
            )
        else:
            values[key] = _coerce(raw[key], annotation, f"{source}: {key}")
    config = TrainingConfig(**values)
    config.validate()
    return config


def resolve_key(key: str) -> str:
    """Map an override key to its dotted path: ``optimizer.lr`` as is, a bare ``lr`` or ``mixed-precision`` to the
    one section that has that field. Raises ``ValueError`` for unknown or ambiguous keys."""
    key = key.lstrip("-").replace("-", "_")
    top = _section_fields(TrainingConfig)
    if "." in key:
        section, _, name = key.partition(".")
        if section not in top or not dataclasses.is_dataclass(top[section]):
            raise ValueError(
                f"unknown override --{key}: no section {section!r}; expected one of {_section_names()}"
            )
        if name not in _section_fields(top[section]):
            raise ValueError(
                f"unknown override --{key}: section {section!r} has no field {name!r}; "
                f"expected one of {sorted(_section_fields(top[section]))}"
            )
        return key
    if key in top and not dataclasses.is_dataclass(top[key]):
        return key
    owners = [section for section in _section_names() if key in _section_fields(top[section])]
    if not owners:
        raise ValueError(
            f"unknown override --{key}; expected a field of one of the sections {_section_names()}"
        )
    if len(owners) > 1:
        raise ValueError(
            f"ambiguous override --{key}: found in sections {owners}; write it as --SECTION.{key}"
        )
    return f"{owners[0]}.{key}"


def _section_names() -> list[str]:
    return [
        name
        for name, annotation in _section_fields(TrainingConfig).items()
        if dataclasses.is_dataclass(annotation)
    ]


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of the nested recipe data with ``{dotted_key: value}`` overrides applied."""
    merged = {key: dict(value) if isinstance(value, dict) else value for key, value in raw.items()}
    for key, value in overrides.items():
        path = resolve_key(key)
        if "." in path:
            section, _, name = path.partition(".")
            merged.setdefault(section, {})
            merged[section] = dict(merged[section] or {}, **{name: value})
        else:
            merged[path] = value
    return merged


def read_recipe(name_or_path: str | Path) -> dict[str, Any]:
    """The raw nested data of a shipped recipe (by name) or of a YAML file (by path)."""
    path = Path(name_or_path)
    if not path.suffix:
        path = RECIPES_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            raise ValueError(
                f"unknown recipe {str(name_or_path)!r}; expected one of {available_recipes()} or a YAML file"
            )
    if not path.is_file():
        raise FileNotFoundError(
            f"recipe file {path} does not exist; expected a YAML recipe or one of {available_recipes()}"
        )
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"recipe {path}: expected a mapping at the top level, found {type(raw).__name__}")
    if raw.get("version") != RECIPE_VERSION:
        raise ValueError(f"recipe {path}: version is {raw.get('version')!r}; expected {RECIPE_VERSION}")
    return raw


def load_config(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> TrainingConfig:
    """A recipe (shipped name such as ``"market1501"``, or a YAML path) with overrides applied and validated."""
    raw = read_recipe(name_or_path)
    return config_from_dict(apply_overrides(raw, overrides or {}), source=f"recipe {name_or_path}")


def save_config(config: TrainingConfig, path: str | Path) -> None:
    """Write the resolved config as YAML next to the run, so a run records exactly what it trained with."""
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8")
