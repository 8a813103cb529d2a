"""Model cards: the recipes' card facts, rendering from a run's facts, validation, model-index round trip."""

import json

import numpy as np
import pytest
import yaml
from huggingface_hub import ModelCard, ModelCardData
from huggingface_hub.repocard_data import eval_results_to_model_index, model_index_to_eval_results

from iaunet_hf.evaluation.results import (
    STANDARD_DATASETS,
    classification_entry,
    result_entry,
    results_document,
)
from iaunet_hf.hub.model_card import (
    CARD_TAGS,
    build_model_card,
    card_facts_for_dataset,
    card_template,
    load_card_facts,
    validate_model_card,
)
from iaunet_hf.training.model_card import write_model_card

PAPER_RECIPES = ["cifar100", "dukemtmc_reid", "dukemtmc_videoreid", "market1501", "mars", "msmt17"]


def reid_evaluation(mAP=0.7025, rank1=0.855, valid=10):
    cmc = np.clip(np.linspace(rank1, 1.0, 50), 0, 1)
    return {"mAP": mAP, "mINP": 0.405, "cmc": cmc, "num_valid_queries": valid}


def reid_results(*datasets, rerank=False):
    entries = [
        result_entry(name, reid_evaluation(), settings={"rerank": False}, num_query=10, num_gallery=40)
        for name in datasets
    ]
    if rerank:
        entries.append(
            result_entry(
                datasets[0], reid_evaluation(0.8), settings={"rerank": True}, num_query=10, num_gallery=40
            )
        )
    return results_document(entries, model="runs/x/best_model")


def summary_for(base, **changes):
    """A training summary as the trainer writes it (the agreed keys), for a short run."""
    document = yaml.safe_load(card_template_recipe(base))
    summary = {
        "recipe": base,
        "base_recipe": base,
        "task": document["task"],
        "architecture": document["model"]["architecture"],
        "model_args": {"iau_stages": document["model"]["iau_stages"]},
        "pretrained": False,
        "train_datasets": [document["data"]["dataset"]],
        "num_train_identities": 12,
        "num_train_images": 96,
        "image_size": [64, 32],
        "batch_size": 8,
        "num_instances": 4,
        "optimizer": {"name": "adam", "lr": 3.5e-4, "weight_decay": 5e-4},
        "scheduler": {"milestones": [20, 40], "gamma": 0.1},
        "epochs_planned": 60,
        "epochs_completed": 2,
        "optimizer_steps": 6,
        "max_steps_per_epoch": 3,
        "part_masks_used": True,
        "loss": {
            "label_smoothing": 0.1,
            "triplet_margin": 0.3,
            "triplet_weight": 1.0,
            "part_loss_weight": 0.5,
        },
        "precision": "no",
        "seed": 0,
        "package_version": "0.1.0",
        "card": document.get("card"),
    }
    summary.update(changes)
    return summary


def card_template_recipe(recipe):  # the shipped recipe file's text
    from importlib import resources

    return (resources.files("iaunet_hf") / "training" / "recipes" / f"{recipe}.yaml").read_text()


def test_the_paper_recipes_carry_card_facts_and_the_paper_numbers():
    for recipe in PAPER_RECIPES:
        facts = load_card_facts(recipe)
        assert facts is not None and facts.paper and facts.paper_table.startswith("Table ")
        assert facts.dataset in STANDARD_DATASETS
        assert card_facts_for_dataset(facts.dataset) == facts
    assert load_card_facts("synthetic").paper == {}  # custom: no published numbers
    assert card_facts_for_dataset("folder") is None
    assert "## Limitations" in card_template("model_card.md")
    with pytest.raises(FileNotFoundError, match="missing from the installed package"):
        card_template("no_such_template.md")
    with pytest.raises(ValueError, match="unknown recipe 'cuhk03x'"):
        load_card_facts("cuhk03x")


@pytest.mark.parametrize("recipe", PAPER_RECIPES)
def test_card_renders_validates_and_round_trips(recipe):
    facts = load_card_facts(recipe)
    if facts.task == "classification":
        results = results_document([classification_entry("cifar100", 78.6, num_test=10000)])
    else:
        results = reid_results(facts.dataset, rerank=True)
    card = build_model_card(results, repo_id=f"org/iaunet-{recipe}", summary=summary_for(recipe))

    parsed = validate_model_card(str(card))
    assert parsed.data.library_name == "transformers"
    reid = facts.task == "reid"
    assert parsed.data.pipeline_tag == ("image-feature-extraction" if reid else "image-classification")
    assert set(CARD_TAGS) <= set(parsed.data.tags)
    assert facts.dataset in parsed.data.datasets
    expected = [
        (metric, round(value, 2), entry["dataset_type"])
        for entry in results["results"]
        for metric, value in entry["metrics"].items()
    ]
    assert [(r.metric_type, r.metric_value, r.dataset_type) for r in parsed.data.eval_results] == expected
    name_back, results_back = model_index_to_eval_results(
        eval_results_to_model_index(parsed.data.model_name, parsed.data.eval_results)
    )
    assert (name_back, results_back) == (f"iaunet-{recipe}", parsed.data.eval_results)

    text = parsed.text
    assert f'AutoModel.from_pretrained("org/iaunet-{recipe}")' in text
    assert f'timm.create_model("hf-hub:org/iaunet-{recipe}", pretrained=True, num_classes=0)' in text
    for section in ("## Intended use", "## Out-of-scope use", "## Limitations", "## Bias, risks and privacy"):
        assert section in text
    assert "## Training data and license terms" in text and facts.dataset_terms in text.replace("\n", " ")
    assert "2 of 60 planned epochs, 6 optimizer steps (at most 3 per epoch)" in text
    assert "This is a short run" in text
    paper_row = next(line for line in text.splitlines() if f"paper ({facts.paper_table})" in line)
    for published in facts.paper.values():  # the paper's numbers beside this checkpoint's
        assert f" {published:.1f} " in paper_row


def test_custom_dataset_gets_a_custom_entry_and_no_paper_numbers():
    results = reid_results("folder")
    summary = summary_for(
        "synthetic", train_datasets=["folder"], card=None, recipe="my_recipe", base_recipe=None
    )
    parsed = validate_model_card(str(build_model_card(results, repo_id="org/custom", summary=summary)))
    assert {r.dataset_type for r in parsed.data.eval_results} == {"custom"}
    assert "paper (" not in parsed.text
    assert "not comparable with published benchmark numbers" in parsed.text


def test_a_recipe_run_on_other_data_does_not_borrow_the_recipe_card():
    """The synthetic recipe run on a user's folder set: the card names the folder set and its owner's terms."""
    summary = summary_for("synthetic", train_datasets=["folder"])  # summary["card"] is the synthetic recipe's
    text = build_model_card(reid_results("folder"), repo_id="org/mine", summary=summary).text
    assert "Trained on folder." in text and "synthetic person set" not in text
    assert "The terms of folder are those of its owner" in text.replace("\n", " ")


def test_several_training_sets_list_each_with_its_terms():
    summary = summary_for("market1501", train_datasets=["market1501", "msmt17"], card=None)
    text = build_model_card(reid_results("market1501"), repo_id="org/multi", summary=summary).text
    flat = text.replace("\n", " ")
    assert "Trained on Market-1501, MSMT17." in text
    assert (
        load_card_facts("market1501").dataset_terms in flat
        and load_card_facts("msmt17").dataset_terms in flat
    )
    assert "paper (" not in text  # trained on more than the evaluated set: not the paper's setting


def test_paper_numbers_only_beside_a_base_run_on_that_dataset():
    # A model trained on market1501 and evaluated on DukeMTMC-reID (cross-domain): no paper row for Duke.
    summary = summary_for("market1501")
    text = str(build_model_card(reid_results("market1501", "dukemtmc_reid"), repo_id="o/m", summary=summary))
    assert "Market-1501, paper (Table I)" in text and "DukeMTMC-reID, paper" not in text
    # An ablation override of the base recipe: its numbers are not the paper's main-table row.
    ablation = summary_for("market1501", recipe="market1501_ciau_only", base_recipe="market1501")
    assert "paper (" not in str(build_model_card(reid_results("market1501"), repo_id="o/m", summary=ablation))


def test_write_model_card_tolerates_a_sparse_summary_and_no_results(tmp_path):
    from iaunet_hf import IAUnetConfig

    config = IAUnetConfig(depth=18, image_size=[64, 32])
    path = write_model_card(tmp_path, summary={"recipe": "mine"}, results=None, model_config=config)
    text = path.read_text()
    assert "your-org/iaunet-mine" in text and "iaunet-push --repo-id" in text
    assert "has not been evaluated" in text
    with pytest.raises(ValueError, match="no results"):
        validate_model_card(path)  # iaunet-push refuses such a card
    full = write_model_card(tmp_path, summary=summary_for("market1501"), results=reid_results("market1501"),
                            model_config=config)  # fmt: skip
    assert "(1, 512)" in full.read_text() and validate_model_card(full).data.model_name == "iaunet-market1501"


def test_card_without_results_is_refused():
    data = ModelCardData(library_name="transformers", license="apache-2.0", tags=list(CARD_TAGS))
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n# no numbers here\n")
    with pytest.raises(ValueError, match="no results"):
        validate_model_card(card)
    with pytest.raises(ValueError, match="model card results: 'format'"):
        build_model_card({"results": [{"dataset": "x"}]}, repo_id="org/x")


def test_card_with_broken_metadata_is_refused(tmp_path):
    path = tmp_path / "README.md"
    path.write_text("---\nlicense: [apache-2.0\ntags: {\n---\n\n# card\n")
    with pytest.raises(ValueError, match="README.md: metadata does not parse"):
        validate_model_card(path)
    missing_tags = ModelCardData(library_name="transformers", license="mit", tags=["timm"])
    with pytest.raises(ValueError, match="lack"):
        validate_model_card(f"---\n{missing_tags.to_yaml()}\n---\n")


def test_results_file_errors_name_the_problem(tmp_path):
    from iaunet_hf.evaluation.results import read_results

    path = tmp_path / "results.json"
    for payload, message in [
        ("{not json", "not valid JSON"),
        (json.dumps({"results": []}), "'format' is None"),
        (json.dumps({**reid_results("mars"), "results": []}), "non-empty list"),
    ]:
        path.write_text(payload)
        with pytest.raises(ValueError, match=message) as error:
            read_results(path)
        assert str(path) in str(error.value)
