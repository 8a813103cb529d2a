"""The dataset registry: which builder reads a name, and that builder's options read from its config."""

from __future__ import annotations

import pytest

from iaunet_hf.data import DATASET_BUILDERS, DATASET_NAMES, builder_name, builder_options


def test_builder_name_maps_synthetic_by_video_and_rejects_unknown_names():
    assert builder_name("synthetic") == "market1501"
    assert builder_name("synthetic", video=True) == "dukemtmc_videoreid"
    assert all(builder_name(name) == name for name in DATASET_BUILDERS)
    with pytest.raises(ValueError, match="unknown dataset name 'nope'"):
        builder_name("nope")


def test_builder_options_are_the_config_fields_with_types_and_defaults():
    options = builder_options("market1501")
    assert {"name", "version"}.isdisjoint(options)
    assert options["with_distractors"].default is False
    assert options["with_distractors"].type is bool
    assert options["mask_dir"].default is None
    assert "with_distractors" not in builder_options("synthetic", video=True)
    assert builder_options("synthetic") == options
    assert all(builder_options(name) for name in DATASET_NAMES)
