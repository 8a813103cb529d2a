"""Trainer setup constructs the training network once: options are checked without building one, and the
ImageNet backbone weights go into the transformers model's own network through timm's loader."""

from __future__ import annotations

import timm
import torch
from safetensors.torch import save_file

from iaunet_hf.model import IAUnet
from iaunet_hf.training import Trainer


def test_trainer_setup_constructs_the_network_once_and_loads_imagenet_weights_into_it(
    tiny_reid, make_config, tmp_path, monkeypatch
):
    resnet = timm.create_model("resnet18", num_classes=1000)  # a plain ImageNet ResNet-18 file
    weights = tmp_path / "resnet18_imagenet.safetensors"
    save_file(resnet.state_dict(), str(weights))
    config = make_config(tmp_path / "run", **{"model.pretrained_file": str(weights)})

    constructed = []
    original_init = IAUnet.__init__

    def counting_init(self, *args, **kwargs):
        constructed.append(self)
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(IAUnet, "__init__", counting_init)
    trainer = Trainer(config, tiny_reid)
    monkeypatch.undo()

    model = trainer.accelerator.unwrap_model(trainer.model)
    assert constructed == [model.iaunet.network]
    state, source = model.iaunet.network.state_dict(), resnet.state_dict()
    for key in ("conv1.weight", "layer1.0.conv1.weight", "layer4.1.bn2.running_var"):
        torch.testing.assert_close(state[key], source[key], rtol=0, atol=0, msg=key)
    assert not hasattr(model.iaunet.network, "pretrained_cfg")  # the loader leaves no trace on the model
