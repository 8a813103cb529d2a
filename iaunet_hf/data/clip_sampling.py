"""Which frames of a tracklet form a clip: random strided windows for training, all frames for testing.

Spec section 5: training takes ``clip_length`` frames ``stride`` apart from a random window; a
tracklet too short for the window gives random frames in temporal order instead (with replacement
only when it has fewer than ``clip_length`` frames). Testing uses every frame in consecutive clips,
the last one padded by cycling back to the tracklet's start, so no frame is dropped or favoured
beyond the padding.
"""

from __future__ import annotations

import torch


def sample_train_clip(
    num_frames: int, clip_length: int = 4, stride: int = 8, generator: torch.Generator | None = None
) -> list[int]:
    """Sorted frame indices of one training clip of ``clip_length`` frames."""
    if num_frames < 1:
        raise ValueError(
            f"sample_train_clip: num_frames is {num_frames}; expected a tracklet with >= 1 frame"
        )
    if clip_length < 1 or stride < 1:
        raise ValueError(f"sample_train_clip: clip_length={clip_length}, stride={stride}; expected both >= 1")
    span = (clip_length - 1) * stride + 1
    if num_frames >= span:
        start = int(torch.randint(num_frames - span + 1, (1,), generator=generator))
        return [start + step * stride for step in range(clip_length)]
    if num_frames >= clip_length:
        chosen = torch.randperm(num_frames, generator=generator)[:clip_length]
    else:
        chosen = torch.randint(num_frames, (clip_length,), generator=generator)
    return sorted(int(index) for index in chosen)


def test_clip_indices(num_frames: int, clip_length: int = 4) -> list[list[int]]:
    """All frames in consecutive clips of ``clip_length``; the last is padded by cycling from frame 0."""
    if num_frames < 1:
        raise ValueError(
            f"test_clip_indices: num_frames is {num_frames}; expected a tracklet with >= 1 frame"
        )
    if clip_length < 1:
        raise ValueError(f"test_clip_indices: clip_length is {clip_length}; expected >= 1")
    num_clips = -(-num_frames // clip_length)  # ceil
    return [
        [index % num_frames for index in range(clip * clip_length, (clip + 1) * clip_length)]
        for clip in range(num_clips)
    ]


test_clip_indices.__test__ = False  # a library function, not a pytest test
