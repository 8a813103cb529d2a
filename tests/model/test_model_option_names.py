"""The three options renamed so that "relations" means only the maps the blocks return: the new names build the
model, the former names still work for one release (with a FutureWarning when a user passes them), and a
config.json written before the rename loads silently into the same model."""

import json
import warnings

import pytest
import timm
import torch

from iaunet_hf import IAUnetConfig, IAUnetModel
from iaunet_hf.model import IAUnetOptions

RENAMED = {
    "relations": ("stiau_context", "spatial"),
    "channel_relation": ("channel_affinity", "l2"),
    "part_relation": ("part_affinity", "l2"),
}


@pytest.mark.parametrize("former", sorted(RENAMED))
def test_former_keyword_warns_and_builds_the_same_model(former):
    new, value = RENAMED[former]
    kwargs = dict(base_channels=8, iau_stages=(2,), num_classes=0)
    with pytest.warns(FutureWarning, match=f"'{former}' is now called '{new}'"):
        old = timm.create_model("iaunet_resnet18", **{former: value}, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        renamed = timm.create_model("iaunet_resnet18", **{new: value}, **kwargs)
    assert getattr(old.options.iau, new) == value == getattr(renamed.options.iau, new)
    renamed.load_state_dict(old.state_dict())  # same architecture, same keys


def test_both_names_at_once_is_an_error():
    with pytest.raises(TypeError, match="both 'relations' and its new name 'stiau_context'"):
        IAUnetOptions.from_kwargs(relations="spatial", stiau_context="temporal")


def test_config_json_written_before_the_rename_loads_silently(tmp_path):
    config = IAUnetConfig.small(stiau_context="temporal", part_affinity="l2", iau_stages=[2])
    model = IAUnetModel(config).eval()
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["stiau_context"] == "temporal" and "relations" not in saved
    saved["relations"] = saved.pop("stiau_context")
    saved["part_relation"] = saved.pop("part_affinity")
    (tmp_path / "config.json").write_text(json.dumps(saved))
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        loaded = IAUnetModel.from_pretrained(tmp_path).eval()
    assert loaded.config.options == config.options
    assert loaded.config.relations == "temporal"  # the former attribute reads the new field
    pixels = torch.randn(2, 3, 64, 32)
    with torch.no_grad():
        torch.testing.assert_close(
            loaded(pixel_values=pixels).pooler_output, model(pixel_values=pixels).pooler_output
        )
