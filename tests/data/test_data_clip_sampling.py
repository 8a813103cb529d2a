"""Clip sampling rules for long and short tracklets, and test-time clips."""

from __future__ import annotations

import pytest
import torch

from iaunet_hf.data import sample_train_clip, test_clip_indices
from iaunet_hf.data.collate import tracklet_to_clips


def test_long_tracklet_gives_strided_window_at_every_start():
    generator = torch.Generator().manual_seed(0)
    starts = set()
    for _ in range(300):
        clip = sample_train_clip(40, clip_length=4, stride=8, generator=generator)
        assert [b - a for a, b in zip(clip, clip[1:])] == [8, 8, 8]
        assert clip[0] >= 0 and clip[-1] < 40
        starts.add(clip[0])
    assert starts == set(range(40 - 24))  # every window start 0..15 is reachable


def test_short_tracklet_gives_sorted_distinct_frames():
    generator = torch.Generator().manual_seed(1)
    for _ in range(50):
        clip = sample_train_clip(10, clip_length=4, stride=8, generator=generator)
        assert clip == sorted(clip) and len(set(clip)) == 4 and max(clip) < 10


def test_very_short_tracklet_repeats_frames_in_order():
    generator = torch.Generator().manual_seed(2)
    clips = [sample_train_clip(2, clip_length=4, stride=8, generator=generator) for _ in range(20)]
    assert all(len(clip) == 4 and clip == sorted(clip) and set(clip) <= {0, 1} for clip in clips)
    assert sample_train_clip(1, clip_length=4, generator=generator) == [0, 0, 0, 0]


def test_train_clip_is_reproducible_with_a_generator():
    first = [sample_train_clip(50, generator=torch.Generator().manual_seed(7)) for _ in range(3)]
    assert first[0] == first[1] == first[2]


def test_test_clips_cover_all_frames_and_cycle():
    assert test_clip_indices(8, 4) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert test_clip_indices(6, 4) == [[0, 1, 2, 3], [4, 5, 0, 1]]
    assert test_clip_indices(3, 4) == [[0, 1, 2, 0]]
    frames = torch.arange(6.0).view(6, 1, 1, 1).expand(6, 3, 2, 2)
    clips = tracklet_to_clips(frames, 4)
    assert clips.shape == (2, 4, 3, 2, 2)
    assert clips[1, :, 0, 0, 0].tolist() == [4.0, 5.0, 0.0, 1.0]


def test_empty_tracklet_is_rejected():
    with pytest.raises(ValueError, match=r"num_frames is 0; expected a tracklet with >= 1 frame"):
        sample_train_clip(0)
    with pytest.raises(ValueError, match=r"num_frames is 0"):
        test_clip_indices(0)
