"""Model cards: rendering for the six recipes, offline validation, model-index round trip, results JSON."""

import json

import pytest
from huggingface_hub import ModelCard, ModelCardData
from huggingface_hub.repocard_data import eval_results_to_model_index, model_index_to_eval_results

from iaunet_hf.hub.model_card import (
    CARD_TAGS,
    DatasetResult,
    available_recipes,
    build_model_card,
    load_eval_results,
    load_recipe,
    validate_model_card,
)

RECIPES = ["cifar100", "dukemtmc_reid", "dukemtmc_videoreid", "market1501", "mars", "msmt17"]


def test_the_six_recipes_have_cards():
    assert available_recipes() == RECIPES


@pytest.mark.parametrize("name", RECIPES)
def test_card_renders_validates_and_round_trips(name):
    recipe = load_recipe(name)
    if recipe["task"] == "person-reid":
        metrics = {"mAP": 70.25, "mINP": 40.5, "rank-1": 85.5, "rank-5": 93.0, "rank-10": 95.75}
    else:
        metrics = {"top-1 error": 21.4}
    results = [DatasetResult(dataset=recipe["dataset_id"], metrics=metrics, protocol="standard")]
    card = build_model_card(name, results, repo_id=f"org/iaunet-{name}", embedding_dim=2048)

    parsed = validate_model_card(str(card))
    assert parsed.data.library_name == "transformers"
    reid = recipe["task"] == "person-reid"
    assert parsed.data.pipeline_tag == ("image-feature-extraction" if reid else "image-classification")
    assert set(CARD_TAGS) <= set(parsed.data.tags)
    assert recipe["dataset_id"] in parsed.data.datasets
    assert {r.metric_type: r.metric_value for r in parsed.data.eval_results} == metrics
    name_back, results_back = model_index_to_eval_results(
        eval_results_to_model_index(parsed.data.model_name, parsed.data.eval_results)
    )
    assert (name_back, results_back) == (f"iaunet-{name}", parsed.data.eval_results)

    text = parsed.text
    assert 'AutoModel.from_pretrained("org/iaunet-' in text
    assert 'timm.create_model("hf-hub:org/iaunet-' in text
    assert "@article{hou2020iaunet" in text
    for metric, published in recipe["paper"].items():  # the paper's number beside this checkpoint's
        assert f"| {published:.1f} |" in text
        row = next(line for line in text.splitlines() if line.endswith(f"| {published:.1f} |"))
        assert f"| {metrics[metric]:.2f} |" in row


def test_results_json_spellings_and_fractions(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(
        json.dumps({"dataset": "msmt17", "metrics": {"map": 0.5, "Rank-1": 0.75, "rank_5": 0.875}})
    )
    (result,) = load_eval_results(path)
    assert result.metrics == {"mAP": 50.0, "rank-1": 75.0, "rank-5": 87.5}
    assert result.protocol == "default"


@pytest.mark.parametrize(
    "payload, message",
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"results": []}), "no results"),
        (json.dumps({"results": [{"dataset": "mars"}]}), "non-empty 'metrics'"),
        (json.dumps({"dataset": "mars", "metrics": {"precision@3": 1.0}}), "unknown metric 'precision@3'"),
    ],
)
def test_results_json_errors_name_the_problem(tmp_path, payload, message):
    path = tmp_path / "results.json"
    path.write_text(payload)
    with pytest.raises(ValueError, match=message) as error:
        load_eval_results(path)
    assert str(path) in str(error.value)


def test_card_without_results_is_refused():
    data = ModelCardData(library_name="transformers", license="apache-2.0", tags=list(CARD_TAGS))
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n# no numbers here\n")
    with pytest.raises(ValueError, match="no results"):
        validate_model_card(card)
    with pytest.raises(ValueError, match="no evaluation results"):
        build_model_card("market1501", [], repo_id="org/x")


def test_card_with_broken_metadata_is_refused(tmp_path):
    path = tmp_path / "README.md"
    path.write_text("---\nlicense: [apache-2.0\ntags: {\n---\n\n# card\n")
    with pytest.raises(ValueError, match="README.md: metadata does not parse"):
        validate_model_card(path)
    missing_tags = ModelCardData(library_name="transformers", license="mit", tags=["timm"])
    with pytest.raises(ValueError, match="lack"):
        validate_model_card(f"---\n{missing_tags.to_yaml()}\n---\n")


def test_unknown_recipe_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match="cuhk03.yaml"):
        load_recipe("cuhk03")
