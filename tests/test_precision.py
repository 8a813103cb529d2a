"""One precision vocabulary across training, evaluation, inference and tracking."""

import pytest
import torch

from iaunet_hf.precision import accelerate_mixed_precision, check_precision, normalise_precision


def test_accelerate_spelling_is_full_precision_both_ways():
    assert normalise_precision("no") == "fp32" and check_precision("no") is None
    assert [accelerate_mixed_precision(p) for p in ("fp32", "bf16", "fp16")] == ["no", "bf16", "fp16"]
    assert check_precision("bf16") is torch.bfloat16 and check_precision("fp16") is torch.float16


def test_unknown_precision_names_the_field():
    with pytest.raises(
        ValueError, match=r"train.mixed_precision: expected one of \['fp32', 'bf16', 'fp16'\], found 'fp8'"
    ):
        normalise_precision("fp8", "train.mixed_precision")
