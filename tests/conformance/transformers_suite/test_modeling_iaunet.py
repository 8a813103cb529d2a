"""IAUnet under transformers' common model tests, written like transformers' own tests/models/resnet/test_modeling_resnet.py.

The conformance runner copies this file into ``tests/models/iaunet/`` of the installed transformers version's sdist and
runs it there, so ``ModelTesterMixin`` and ``ConfigTester`` are upstream's own.
"""

import inspect
import tempfile
import unittest

import torch
from transformers import AutoModelForImageClassification
from transformers.models.auto.modeling_auto import (
    MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES,
    MODEL_MAPPING_NAMES,
)
from transformers.testing_utils import require_torch, torch_device

from iaunet_hf import IAUnetConfig, IAUnetForReID, IAUnetModel

from ...test_configuration_common import ConfigTester
from ...test_modeling_common import ModelTesterMixin, floats_tensor, ids_tensor

# transformers' common tests pick each class's role (base model, image classifier: which gets labels, which trains)
# from the static tables of transformers.models.auto.modeling_auto, where an in-tree model is listed; a model that
# registers through the Auto classes' register() is not, so it is listed here the way an in-tree model would be.
MODEL_MAPPING_NAMES.setdefault("iaunet", "IAUnetModel")
MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES.setdefault("iaunet", "IAUnetForReID")


class IAUnetModelTester:
    def __init__(
        self, parent, batch_size=3, height=64, width=32, num_channels=3, num_labels=3, is_training=True
    ):
        self.parent = parent
        self.batch_size = batch_size
        self.height, self.width = height, width
        self.num_channels = num_channels
        self.num_labels = num_labels
        self.is_training = is_training
        self.num_stages = 4

    def get_config(self):
        # the small configuration (ResNet-18 at 8 base channels): under 1M parameters, as test_model_is_small needs
        return IAUnetConfig.small(
            num_channels=self.num_channels, image_size=(self.height, self.width), num_labels=self.num_labels
        )

    def prepare_config_and_inputs(self):
        pixel_values = floats_tensor([self.batch_size, self.num_channels, self.height, self.width])
        labels = ids_tensor([self.batch_size], self.num_labels)
        return self.get_config(), pixel_values, labels

    def prepare_config_and_inputs_for_common(self):
        config, pixel_values, _ = self.prepare_config_and_inputs()
        return config, {"pixel_values": pixel_values}

    def create_and_check_model(self, config, pixel_values, labels):
        model = IAUnetModel(config).to(torch_device).eval()
        result = model(pixel_values)
        # last stride 1: the map is 1/16 of the input; the embedding is the BN-neck output
        self.parent.assertEqual(
            result.last_hidden_state.shape,
            (self.batch_size, config.hidden_size, self.height // 16, self.width // 16),
        )
        self.parent.assertEqual(result.pooler_output.shape, (self.batch_size, config.hidden_size))

    def create_and_check_for_image_classification(self, config, pixel_values, labels):
        model = IAUnetForReID(config).to(torch_device).eval()
        result = model(pixel_values, labels=labels)
        self.parent.assertEqual(result.logits.shape, (self.batch_size, self.num_labels))
        self.parent.assertTrue(torch.isfinite(result.loss))


@require_torch
class IAUnetModelTest(ModelTesterMixin, unittest.TestCase):
    """IAUnet takes pixel values only: no input ids, embeddings to resize, or attention weights."""

    all_model_classes = (IAUnetModel, IAUnetForReID)
    pipeline_model_mapping = {"image-feature-extraction": IAUnetModel, "image-classification": IAUnetForReID}
    test_resize_embeddings = False
    has_attentions = False
    test_torch_exportable = True
    # upstream runs this for models added since 2023 (read from the config file's copyright line) and for older
    # ones that set this flag once their _init_weights covers every tensor, as IAUnet's does
    test_can_init_all_missing_weights_before_2023 = True

    def setUp(self):
        self.model_tester = IAUnetModelTester(self)
        self.config_tester = ConfigTester(self, config_class=IAUnetConfig, has_text_modality=False)

    def test_config(self):
        self.config_tester.create_and_test_config_to_json_string()
        self.config_tester.create_and_test_config_to_json_file()
        self.config_tester.create_and_test_config_from_and_save_pretrained()
        self.config_tester.create_and_test_config_from_and_save_pretrained_subfolder()
        self.config_tester.create_and_test_config_with_num_labels()
        self.config_tester.check_config_can_be_init_without_params()
        self.config_tester.check_config_arguments_init()
        self.config_tester.create_and_test_config_from_pretrained_custom_kwargs()

    @unittest.skip(reason="IAUnet does not use inputs_embeds")
    def test_inputs_embeds(self):
        pass

    @unittest.skip(reason="IAUnet does not use inputs_embeds")
    def test_inputs_embeds_matches_input_ids(self):
        pass

    @unittest.skip(reason="IAUnet does not support input and output embeddings")
    def test_model_get_set_embeddings(self):
        pass

    def test_forward_signature(self):
        config, _ = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_model_classes:
            signature = inspect.signature(model_class(config).forward)
            self.assertListEqual([*signature.parameters.keys()][:1], ["pixel_values"])

    def test_model(self):
        self.model_tester.create_and_check_model(*self.model_tester.prepare_config_and_inputs())

    def test_for_image_classification(self):
        self.model_tester.create_and_check_for_image_classification(
            *self.model_tester.prepare_config_and_inputs()
        )

    def test_hidden_states_output(self):
        config, inputs_dict = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_model_classes:
            for via_config in (False, True):
                config.output_hidden_states = via_config
                inputs = {**inputs_dict, **({} if via_config else {"output_hidden_states": True})}
                model = model_class(config).to(torch_device).eval()
                with torch.no_grad():
                    hidden_states = model(**self._prepare_for_class(inputs, model_class)).hidden_states
                # the stem and the four stages; the stem output is 1/2 of the input
                self.assertEqual(len(hidden_states), self.model_tester.num_stages + 1)
                self.assertListEqual(
                    list(hidden_states[0].shape[-2:]),
                    [self.model_tester.height // 2, self.model_tester.width // 2],
                )

    def test_base_checkpoint_fine_tunes_with_a_new_head(self):
        """transformers' fine-tuning path: an embedding checkpoint into the task head with a new num_labels."""
        config, pixel_values, _ = self.model_tester.prepare_config_and_inputs()
        with tempfile.TemporaryDirectory() as folder:
            IAUnetModel(config).save_pretrained(folder)
            model, info = AutoModelForImageClassification.from_pretrained(
                folder, num_labels=7, output_loading_info=True
            )
        self.assertEqual(sorted(info["missing_keys"]), ["classifier.bias", "classifier.weight"])
        model.train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        labels = torch.tensor([0, 0, 1])
        loss = model(pixel_values, labels=labels).loss
        loss.backward()
        optimizer.step()
        self.assertEqual(model.classifier.weight.shape, (7, config.hidden_size))
        self.assertTrue(torch.isfinite(loss))
