"""CIFAR-100 classification (spec section 4): the reID trainer with a classification label, sampler and metric.

Only the hooks differ: ``fine_label`` as the label, shuffled fixed-size batches instead of P x K, pad-and-crop
augmentation, cross-entropy only (no triplet or part loss) and top-1 accuracy as the evaluation.
"""

from __future__ import annotations

from typing import Any

from torch.utils.data import Sampler

from ..data.samplers import EpochSeededBatchSampler
from .evaluation import evaluate_classifier
from .trainer import Trainer


class ClassificationTrainer(Trainer):
    task = "classification"
    label_column = "fine_label"
    eval_splits = ("test",)
    primary_metric = "eval/top-1 accuracy"
    pad_crop = 4

    def build_epoch_sampler(self, labels: list[int]) -> Sampler[list[int]]:
        return EpochSeededBatchSampler(len(labels), self.config.data.batch_size, self.config.train.seed)

    def check_data(self, labels: list[int]) -> None:
        data = self.config.data
        if len(labels) < data.batch_size:
            raise ValueError(
                f"{data.dataset}: {len(labels)} training images but data.batch_size is {data.batch_size}; "
                f"lower --data.batch_size to at most {len(labels)}"
            )

    def loss_settings(self, part_loss: bool | None = None) -> dict[str, Any]:
        return {**super().loss_settings(part_loss), "triplet_weight": 0.0, "part_loss_weight": 0.0}

    def evaluate(self, rerank: bool = False) -> list[dict[str, Any]]:

        if not self.evaluates:
            return []
        data = self.config.data
        model = self.accelerator.unwrap_model(self.model)
        return evaluate_classifier(
            model,
            self.dataset_dict["test"],
            self.eval_dataset_name,
            data.height,
            data.width,
            data.eval_batch_size,
        )


TRAINERS = {"reid": Trainer, "classification": ClassificationTrainer}


def trainer_for(config: Any, dataset_dict: Any = None) -> Trainer:
    """The trainer of the config's task (``reid`` or ``classification``)."""
    return TRAINERS[config.task](config, dataset_dict)
