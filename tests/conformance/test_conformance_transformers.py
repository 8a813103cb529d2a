"""transformers' common tests (from the installed transformers' sdist) on IAUnetConfig, IAUnetModel,
IAUnetForReID and both image processors, through model test files written like transformers' own."""

import pytest
from upstream_suites import prepare_transformers_suite, run_suite

# The only skips our own test files make; each matches what transformers' ResNet test skips, for the same reason.
OWN_SKIPS = {
    "test_inputs_embeds": "IAUnet does not use inputs_embeds",
    "test_inputs_embeds_matches_input_ids": "IAUnet does not use inputs_embeds",
    "test_model_get_set_embeddings": "IAUnet does not support input and output embeddings",
}


@pytest.mark.conformance
def test_transformers_common_tests_pass_on_iaunet(tmp_path):
    target = prepare_transformers_suite(tmp_path)
    report = run_suite(tmp_path, target)
    print(f"transformers common tests on IAUnet: {report.summary()}")
    assert not report.failed, f"{report.summary()}: {report.failed}\n{report.output}"
    for test_id, reason in report.skipped.items():
        name = test_id.rsplit("::", 1)[-1]
        # a skip either comes from upstream's own conditions (no GPU, no attention weights, flash-attention not
        # installed, slow tests, ...), which carry upstream's reason, or is one of ours, listed above
        assert name not in OWN_SKIPS or reason == OWN_SKIPS[name], (test_id, reason)
    passed = {test_id.rsplit("::", 1)[-1] for test_id in report.passed}
    essential = {
        "test_config",
        "test_save_load",
        "test_can_load_ignoring_mismatched_shapes",
        "test_correct_missing_keys",
        "test_base_model_prefix_loads_base_weights",
        "test_can_init_all_missing_weights",
        "test_model_weights_reload_no_missing_tied_weights",
        "test_model_is_small",
        "test_training",
        "test_base_checkpoint_fine_tunes_with_a_new_head",
        "test_call_pil",
        "test_backends_equivalence",
        "test_image_processor_save_load_with_autoimageprocessor",
    }
    assert essential <= passed, f"did not pass: {sorted(essential - passed)}; {report.summary()}"
