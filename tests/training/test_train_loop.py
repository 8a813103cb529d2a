"""The accelerate training loop on the tiny synthetic set: learning, mixed precision, non-finite losses."""

from __future__ import annotations

import json

import pytest
import timm
import torch
from transformers import AutoModel

from iaunet_hf.training import NonFiniteLossError, Trainer


def _loss_on(model, batch) -> float:
    """Loss in training mode (BN uses the batch's statistics), so it depends on the weights and batch only."""
    model.train()
    with torch.no_grad():
        return model(pixel_values=batch["pixel_values"], labels=batch["label"]).loss.item()


def test_training_decreases_the_loss_and_saves_a_loadable_model(tiny_reid, make_config, tmp_path):
    config = make_config(
        tmp_path / "run",
        **{
            "train.epochs": 3,
            "train.max_steps_per_epoch": 2,
            "optimizer.lr": 1e-3,
            "data.random_erasing": 0.0,
        },
    )
    trainer = Trainer(config, tiny_reid)
    batch = next(iter(trainer.train_loader))
    model = trainer.accelerator.unwrap_model(trainer.model)
    before = _loss_on(model, batch)
    result = trainer.train()
    images = torch.randn(2, 3, 64, 32)
    with torch.no_grad():
        trained_embedding = model.eval().iaunet(images).pooler_output
    assert _loss_on(model, batch) < before

    # six optimizer steps, logged per step and per epoch, and two training-state checkpoints kept
    rows = [json.loads(line) for line in (result.output_dir / "log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows if row["kind"] == "step"] == [1, 2, 3, 4, 5, 6]
    assert [row["epoch"] for row in rows if row["kind"] == "epoch"] == [1, 2, 3]
    assert (result.output_dir / "log.csv").read_text().startswith("kind,epoch,step,")
    assert sorted(p.name for p in (result.output_dir / "checkpoints").iterdir()) == [
        "checkpoint_2",
        "checkpoint_3",
    ]
    assert 0.0 <= result.metrics["eval/mAP"] <= 100.0

    # the final folder loads through both faces with the same embeddings
    files = {p.name for p in result.model_dir.iterdir()}
    assert {
        "model.safetensors",
        "config.json",
        "preprocessor_config.json",
        "README.md",
        "eval_results.json",
    } <= files
    auto = AutoModel.from_pretrained(result.model_dir).eval()
    net = timm.create_model(f"local-dir:{result.model_dir}", pretrained=True, num_classes=0).eval()
    with torch.no_grad():
        torch.testing.assert_close(auto(pixel_values=images).pooler_output, net(images), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(auto(pixel_values=images).pooler_output, trained_embedding)


def test_bf16_autocasts_on_cpu(tiny_reid, make_config, tmp_path):
    config = make_config(tmp_path / "run", **{"train.mixed_precision": "bf16", "train.epochs": 1})
    trainer = Trainer(config, tiny_reid)
    network = trainer.accelerator.unwrap_model(trainer.model).iaunet.network
    seen = []
    network.layer1.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    history = trainer.train().history
    assert seen[0] == torch.bfloat16  # the first hooked call is the training step
    assert all(p.dtype == torch.float32 for p in network.parameters())  # master weights stay fp32
    assert torch.isfinite(torch.tensor(history[0]["train/loss"]))


def _poison_logits(trainer):
    """A user forward hook that turns the classifier output into NaN (a diverged model)."""
    classifier = trainer.accelerator.unwrap_model(trainer.model).classifier
    return classifier.register_forward_hook(lambda module, inputs, output: output * float("nan"))


@pytest.mark.reliability
def test_non_finite_loss_stops_and_keeps_the_last_checkpoint(tiny_reid, make_config, tmp_path):
    Trainer(make_config(tmp_path / "run", **{"train.epochs": 1}), tiny_reid).train()
    checkpoint = tmp_path / "run" / "checkpoints" / "checkpoint_1"
    saved = {p.name: p.read_bytes() for p in checkpoint.iterdir()}

    trainer = Trainer(
        make_config(tmp_path / "run", **{"train.epochs": 3, "checkpoint.resume": "latest"}), tiny_reid
    )
    _poison_logits(trainer)
    with pytest.raises(NonFiniteLossError, match="checkpoint_1"):
        trainer.train()
    assert {p.name: p.read_bytes() for p in checkpoint.iterdir()} == saved
    assert [p.name for p in (tmp_path / "run" / "checkpoints").iterdir()] == ["checkpoint_1"]


@pytest.mark.reliability
def test_non_finite_loss_can_skip_the_step(tiny_reid, make_config, tmp_path):
    trainer = Trainer(
        make_config(tmp_path / "run", **{"train.epochs": 1, "train.non_finite_loss": "skip"}), tiny_reid
    )
    weights = {k: v.clone() for k, v in trainer.accelerator.unwrap_model(trainer.model).state_dict().items()}
    hook = _poison_logits(trainer)
    history = trainer.train_one_epoch(0)
    hook.remove()
    assert history["train/skipped_steps"] == 1
    after = trainer.accelerator.unwrap_model(trainer.model).state_dict()
    changed = [k for k, v in after.items() if v.is_floating_point() and not torch.equal(v, weights[k])]
    assert all("running_" in k or "bn" in k.lower() for k in changed)  # only BN statistics saw the forward


def test_imagenet_init_from_a_local_weights_file(tiny_reid, make_config, tmp_path):
    from safetensors.torch import save_file
    from torchvision.models import resnet18

    torch.manual_seed(1)
    backbone = resnet18().state_dict()  # a torchvision ResNet-18 checkpoint, as published for ImageNet
    weights = tmp_path / "resnet18.safetensors"
    save_file(backbone, weights)
    trainer = Trainer(make_config(tmp_path / "run", **{"model.pretrained_file": str(weights)}), tiny_reid)
    network = trainer.accelerator.unwrap_model(trainer.model).iaunet.network
    torch.testing.assert_close(network.conv1.weight.detach(), backbone["conv1.weight"], rtol=0, atol=0)
    torch.testing.assert_close(
        network.layer3[1].bn2.running_var, backbone["layer3.1.bn2.running_var"], rtol=0, atol=0
    )

    missing = make_config(tmp_path / "other", **{"model.pretrained_file": str(tmp_path / "absent.pth")})
    with pytest.raises(FileNotFoundError, match="absent.pth"):
        Trainer(missing, tiny_reid)
