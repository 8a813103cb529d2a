"""Batch samplers of the trainer: P x K identity batches (reID), epoch-seeded shuffles (classification), a cap.

Batch-hard triplet loss needs positives and negatives in every batch (spec section 5). The
sampler yields whole index lists, so ``accelerator.prepare(DataLoader(ds, batch_sampler=...))``
shards whole batches across processes (accelerate's ``BatchSamplerShard``); it can also shard
itself with ``num_replicas``/``rank``. Batches depend only on (seed, epoch), so a resumed run
replays the same batches. Call ``set_epoch`` every epoch on this object (and ``set_epoch`` on an
accelerate-prepared loader, which otherwise passes its own iteration count on a single process):
accelerate cannot reach a batch sampler wrapped in ``BatchSamplerShard``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


class IdentityBatchSampler(Sampler[list[int]]):
    """Batches of ``batch_size // num_instances`` identities x ``num_instances`` indices each.

    Each epoch, every identity's indices are shuffled and cut into groups of K (an identity with
    fewer than K indices is filled up by sampling its own indices with replacement; a trailing
    partial group is dropped). Batches draw P identities that still have groups left, until fewer
    than P remain. With ``num_replicas > 1`` this replica keeps every ``num_replicas``-th batch from
    ``rank``, all replicas getting the same number.
    """

    def __init__(
        self,
        labels: Sequence[int],
        batch_size: int = 64,
        num_instances: int = 4,
        seed: int = 0,
        *,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        if num_instances < 1 or batch_size < num_instances or batch_size % num_instances:
            raise ValueError(
                f"IdentityBatchSampler: batch_size {batch_size} is not a positive multiple of num_instances "
                f"{num_instances}; set batch_size = P * num_instances (e.g. 64 = 16 identities x 4)"
            )
        if not 0 <= rank < num_replicas:
            raise ValueError(
                f"IdentityBatchSampler: rank {rank} with num_replicas {num_replicas}; expected 0 <= rank < num_replicas"
            )
        self.indices_by_label: dict[int, list[int]] = defaultdict(list)
        for index, label in enumerate(labels):
            self.indices_by_label[int(label)].append(index)
        self.batch_size = batch_size
        self.num_instances = num_instances
        self.num_identities = batch_size // num_instances
        if len(self.indices_by_label) < self.num_identities:
            raise ValueError(
                f"IdentityBatchSampler: {len(self.indices_by_label)} identities in the labels but a batch needs "
                f"P = batch_size / num_instances = {self.num_identities}; lower batch_size or raise num_instances"
            )
        self.seed = seed
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self._cached_batches: tuple[int, list[list[int]]] | None = None
        self.drop_last = True  # read by accelerate's BatchSamplerShard: never pad with repeated batches

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose batches the next iteration yields."""
        self.epoch = epoch

    def _all_batches(self) -> list[list[int]]:
        if self._cached_batches is not None and self._cached_batches[0] == self.epoch:
            return self._cached_batches[1]  # __len__ and __iter__ of one epoch share the work
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        groups_by_label: dict[int, list[list[int]]] = {}
        for label in sorted(self.indices_by_label):
            indices = torch.tensor(self.indices_by_label[label])
            if len(indices) < self.num_instances:
                picked = indices[torch.randint(len(indices), (self.num_instances,), generator=generator)]
            else:
                picked = indices[torch.randperm(len(indices), generator=generator)]
            usable = len(picked) - len(picked) % self.num_instances
            # (usable,) -> (groups, K)
            groups_by_label[label] = picked[:usable].view(-1, self.num_instances).tolist()
        batches = []
        while True:
            available = [label for label, groups in groups_by_label.items() if groups]
            if len(available) < self.num_identities:
                break
            chosen = torch.randperm(len(available), generator=generator)[: self.num_identities]
            batch = []
            for position in chosen.tolist():
                batch.extend(groups_by_label[available[position]].pop())
            batches.append(batch)
        self._cached_batches = (self.epoch, batches)
        return batches

    def _replica_batches(self) -> list[list[int]]:
        batches = self._all_batches()
        per_replica = len(batches) // self.num_replicas
        return batches[self.rank : per_replica * self.num_replicas : self.num_replicas]

    def __iter__(self) -> Iterator[list[int]]:
        yield from self._replica_batches()

    def __len__(self) -> int:
        return len(self._replica_batches())


class EpochSeededBatchSampler(Sampler[list[int]]):
    """Shuffled fixed-size batches (classification) whose order depends only on (seed, epoch), so a resumed run
    replays them. torch's ``RandomSampler`` with an unseeded generator would draw from the global RNG instead."""

    def __init__(self, dataset_size: int, batch_size: int, seed: int = 0) -> None:
        if not 1 <= batch_size <= dataset_size:
            raise ValueError(
                f"EpochSeededBatchSampler: batch_size {batch_size} for {dataset_size} items; expected 1..{dataset_size}"
            )
        self.dataset_size = dataset_size
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0
        self.drop_last = True

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        indices = torch.randperm(self.dataset_size, generator=generator).tolist()
        for start in range(0, len(indices) - self.batch_size + 1, self.batch_size):
            yield indices[start : start + self.batch_size]

    def __len__(self) -> int:
        return self.dataset_size // self.batch_size


class LimitedBatchSampler(Sampler[list[int]]):
    """The first ``max_batches`` batches of a batch sampler each epoch (short runs); passes ``set_epoch`` on."""

    def __init__(self, batch_sampler: Sampler[list[int]], max_batches: int) -> None:
        self.batch_sampler = batch_sampler
        self.max_batches = max_batches
        self.drop_last = True

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.batch_sampler, "set_epoch"):
            self.batch_sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[list[int]]:
        for index, batch in enumerate(self.batch_sampler):
            if index >= self.max_batches:
                return
            yield batch

    def __len__(self) -> int:
        return min(len(self.batch_sampler), self.max_batches)
