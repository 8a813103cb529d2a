"""The model's old import paths still import, for one release, with a DeprecationWarning naming the new path."""

from __future__ import annotations

import importlib
import sys

import pytest

# old path -> (the new module, a name both give)
OLD_PATHS = {
    "iaunet_hf.blocks": ("iaunet_hf.model.attention_ops", "relation_mask"),
    "iaunet_hf.comparison_blocks": ("iaunet_hf.model.comparison_blocks", "ComparisonBlock"),
    "iaunet_hf.network": ("iaunet_hf.model.network", "IAUnet"),
    "iaunet_hf.network_options": ("iaunet_hf.model.options", "GLOBAL_POOLS"),
    "iaunet_hf.backbones": ("iaunet_hf.model.backbones", "build_resnet"),
    "iaunet_hf.backbones.resnet": ("iaunet_hf.model.backbones.resnet", "build_resnet"),
    "iaunet_hf.backbones.googlenet": ("iaunet_hf.model.backbones.googlenet", "build_googlenet"),
    "iaunet_hf.backbones.pcb": ("iaunet_hf.model.backbones.pcb", "PCBHead"),
    "iaunet_hf.backbones.layout": ("iaunet_hf.model.backbones.layout", "BackboneLayout"),
}


@pytest.mark.parametrize("path", sorted(OLD_PATHS))
def test_old_path_imports_with_a_deprecation_warning(path, monkeypatch):
    for name in [name for name in sys.modules if name == path or name.startswith(f"{path}.")]:
        monkeypatch.delitem(sys.modules, name)
    if path.startswith("iaunet_hf.backbones."):  # the package imports (and warns) first
        monkeypatch.delitem(sys.modules, "iaunet_hf.backbones", raising=False)
        with pytest.warns(DeprecationWarning, match=r"iaunet_hf\.backbones is deprecated"):
            importlib.import_module("iaunet_hf.backbones")
    with pytest.warns(DeprecationWarning, match=rf"{path} is deprecated.*iaunet_hf\.model"):
        module = importlib.import_module(path)
    new_path, name = OLD_PATHS[path]
    assert getattr(module, name) is getattr(importlib.import_module(new_path), name)


def test_config_from_network_is_deprecated_and_reads_the_options():
    from iaunet_hf import IAUnetConfig, config_from_network
    from iaunet_hf.model import IAUnet

    network = IAUnet(depth=18, base_channels=8, iau_stages=(2,), num_frames=4)
    with pytest.warns(DeprecationWarning, match="IAUnetConfig.from_options"):
        config = config_from_network(network, image_size=[64, 32])
    assert config.to_dict() == IAUnetConfig.from_options(network.options, image_size=[64, 32]).to_dict()
    assert config.num_frames == 4 and config.iau_stages == [2]
