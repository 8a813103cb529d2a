"""Stand-in for transformers' tests/utils/test_configuration_utils.py (not in the sdist): its ``config_common_kwargs``.

The keys are the fields of transformers 5's ``PreTrainedConfig``, each set to a value other than its default, which
is what upstream's ``test_config_common_kwargs_is_complete`` requires of the real dict.
"""

config_common_kwargs = {
    "return_dict": False,
    "output_hidden_states": True,
    "output_attentions": True,
    "dtype": "float16",
    "chunk_size_feed_forward": 5,
    "architectures": ["BertModel"],
    "id2label": {0: "label"},
    "label2id": {"label": "0"},
    "problem_type": "regression",
}
