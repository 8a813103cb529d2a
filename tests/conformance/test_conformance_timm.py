"""timm's own tests/test_models.py (from the installed timm's sdist) on every model the package registers (the
iaunet* models, among them the generic ``iaunet``, and the OSNet backbones)."""

import re

import pytest
import timm
from upstream_suites import prepare_timm_suite, run_suite

import iaunet_hf  # noqa: F401  (registers the models)

# Tests of test_models.py not run on our models, each with its reason.
DESELECTED = {
    # TorchScript is deprecated in the torch we support (torch.jit.script warns "switch to torch.compile or
    # torch.export"); upstream likewise excludes models whose forward TorchScript cannot compile
    # (EXCLUDE_JIT_FILTERS). Our models are traced by torch.fx and torch.export instead (iaunet-export).
    "test_model_forward_torchscript": "TorchScript is deprecated in torch; models are fx- and export-traced",
}
# timm's CI sets GITHUB_ACTIONS, which leaves out the tests that download every model's pretrained weights from the
# Hub (test_model_load_pretrained, test_model_features_pretrained) and the fx+TorchScript test; so do we.
TIMM_CI_ENV = {"GITHUB_ACTIONS": "true"}
# The contracts each model must have passed (a model that silently dropped out of collection fails here).
REQUIRED = (
    "test_model_forward",
    "test_model_backward",
    "test_model_default_cfgs",
    "test_model_forward_features",
    "test_model_forward_intermediates",
    "test_prune_intermediate_layers_contract",
    "test_model_forward_fx",
    "test_model_backward_fx",
)


@pytest.mark.conformance
def test_timm_test_models_passes_on_every_iaunet_model(tmp_path):
    target = prepare_timm_suite(tmp_path)
    selection = "(iaunet or osnet) and not (" + " or ".join(DESELECTED) + ")"
    report = run_suite(tmp_path, target, "-k", selection, env=TIMM_CI_ENV)
    print(f"timm test_models.py on iaunet_*: {report.summary()}")
    assert not report.failed, f"{report.summary()}: {report.failed}\n{report.output}"
    assert not report.skipped, f"unexpected skips: {report.skipped}"
    for model_name in timm.list_models(["iaunet*", "osnet*"]):
        for test in REQUIRED:
            # ids read test[1-name] or, for the cfg tests, test[1-name.tag]
            case = re.compile(rf"::{test}\[(\d+-)?{model_name}(\.\w+)?\]$")
            ran = [test_id for test_id in report.passed if case.search(test_id)]
            assert ran, f"{test} did not run on {model_name}: {report.summary()}"
