"""The trainer's batch samplers: P x K structure, replacement, determinism, sharding; epoch shuffles; caps."""

from __future__ import annotations

from collections import Counter

import pytest
from accelerate.data_loader import BatchSamplerShard

from iaunet_hf.data import IdentityBatchSampler
from iaunet_hf.data.samplers import EpochSeededBatchSampler, LimitedBatchSampler

# 10 identities with 1..10 images each, interleaved as a dataset would be
LABELS = [label for count in range(1, 11) for label in [count - 1] * count]


def test_batches_hold_p_identities_times_k():
    sampler = IdentityBatchSampler(LABELS, batch_size=12, num_instances=4, seed=0)
    batches = list(sampler)
    assert len(batches) == len(sampler) > 0
    for batch in batches:
        assert len(batch) == 12
        counts = Counter(LABELS[index] for index in batch)
        assert len(counts) == 3 and set(counts.values()) == {4}


def test_identity_with_fewer_than_k_images_is_sampled_with_replacement():
    sampler = IdentityBatchSampler(LABELS, batch_size=8, num_instances=4, seed=3)
    single_image_index = LABELS.index(0)
    batches_with_it = [
        batch for epoch in range(5) for batch in _epoch(sampler, epoch) if single_image_index in batch
    ]
    assert batches_with_it, "the one-image identity never appeared in 5 epochs"
    assert all(batch.count(single_image_index) == 4 for batch in batches_with_it)


def _epoch(sampler: IdentityBatchSampler, epoch: int) -> list[list[int]]:
    sampler.set_epoch(epoch)
    return list(sampler)


def test_deterministic_per_seed_and_epoch():
    first = IdentityBatchSampler(LABELS, batch_size=8, num_instances=2, seed=5)
    second = IdentityBatchSampler(LABELS, batch_size=8, num_instances=2, seed=5)
    assert _epoch(first, 2) == _epoch(second, 2)
    assert _epoch(first, 2) != _epoch(first, 3)
    assert _epoch(first, 0) != _epoch(IdentityBatchSampler(LABELS, batch_size=8, num_instances=2, seed=6), 0)


def test_replicas_are_disjoint_and_cover_the_epoch():
    full = _epoch(IdentityBatchSampler(LABELS, batch_size=8, num_instances=2, seed=1), 4)
    shards = [
        _epoch(
            IdentityBatchSampler(LABELS, batch_size=8, num_instances=2, seed=1, num_replicas=2, rank=rank), 4
        )
        for rank in range(2)
    ]
    assert len(shards[0]) == len(shards[1]) == len(full) // 2
    assert not {tuple(b) for b in shards[0]} & {tuple(b) for b in shards[1]}
    assert sorted(shards[0] + shards[1]) == sorted(full[: 2 * (len(full) // 2)])


def test_accelerate_batch_sampler_shard_gives_disjoint_whole_batches():
    sampler = IdentityBatchSampler(LABELS, batch_size=8, num_instances=2, seed=2)
    shards = [list(BatchSamplerShard(sampler, num_processes=2, process_index=rank)) for rank in range(2)]
    assert len(shards[0]) == len(shards[1]) > 0
    all_batches = shards[0] + shards[1]
    assert len({tuple(batch) for batch in all_batches}) == len(all_batches)
    assert all(batch in list(sampler) for batch in all_batches)  # whole P x K batches, not split ones


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match=r"batch_size 10 is not a positive multiple of num_instances 4"):
        IdentityBatchSampler(LABELS, batch_size=10, num_instances=4)
    with pytest.raises(ValueError, match=r"10 identities .* needs P = batch_size / num_instances = 16"):
        IdentityBatchSampler(LABELS, batch_size=64, num_instances=4)
    with pytest.raises(ValueError, match=r"rank 2 with num_replicas 2"):
        IdentityBatchSampler(LABELS, batch_size=8, num_instances=4, num_replicas=2, rank=2)


def test_epoch_seeded_batches_are_a_reproducible_shuffle_per_epoch():
    sampler = EpochSeededBatchSampler(dataset_size=10, batch_size=3, seed=1)
    first = list(sampler)
    assert len(first) == len(sampler) == 3 and all(len(batch) == 3 for batch in first)
    assert (
        len({index for batch in first for index in batch}) == 9
    )  # no repeats; the last partial batch dropped
    assert list(sampler) == first  # the same epoch gives the same batches
    sampler.set_epoch(1)
    assert list(sampler) != first
    with pytest.raises(ValueError, match="batch_size 11 for 10 items"):
        EpochSeededBatchSampler(dataset_size=10, batch_size=11)


def test_limited_batches_cap_an_epoch_and_pass_the_epoch_on():
    inner = IdentityBatchSampler(LABELS, batch_size=8, num_instances=4, seed=0)
    limited = LimitedBatchSampler(inner, max_batches=2)
    limited.set_epoch(3)
    assert inner.epoch == 3 and len(limited) == 2
    assert list(limited) == _epoch(inner, 3)[:2]
