"""Push a checked model folder and its model card to the Hub in one commit.

The upload goes through `HfApi.create_commit` (not `upload_folder`) so that the weights, the configs and the
card rendered in memory land in exactly one commit whatever storage backend the Hub picks for each file.
`HF_TOKEN` and `HF_ENDPOINT` are honoured by `huggingface_hub` itself when `token`/`endpoint` are left unset.
"""

from __future__ import annotations

import logging
from pathlib import Path

from huggingface_hub import CommitInfo, CommitOperationAdd, HfApi, ModelCard

from .checks import MODEL_FILES, check_model_folder
from .model_card import (
    available_recipes,
    build_model_card,
    load_eval_results,
    load_recipe,
    validate_model_card,
)

logger = logging.getLogger(__name__)


def recipe_for_dataset(dataset: str, cards_dir: str | Path | None = None) -> str:
    """The recipe whose dataset is `dataset` (matched on the recipe name or its `dataset_id`)."""
    for name in available_recipes(cards_dir):
        if dataset in (name, load_recipe(name, cards_dir)["dataset_id"]):
            return name
    raise ValueError(
        f"no model card recipe for dataset {dataset!r}; expected one of {available_recipes(cards_dir)} "
        "(or pass recipe= / --recipe)"
    )


def prepare_model_card(
    model_dir: str | Path,
    repo_id: str,
    *,
    results_path: str | Path | None = None,
    recipe: str | None = None,
    license: str = "apache-2.0",
    cards_dir: str | Path | None = None,
) -> ModelCard:
    """The validated card to push: rendered from evaluation results, or the folder's own README.md."""
    model_dir = Path(model_dir)
    if results_path is not None:
        results = load_eval_results(results_path)
        recipe = recipe or recipe_for_dataset(results[0].dataset, cards_dir)
        from transformers import AutoConfig

        import iaunet_hf  # noqa: F401 - registers the iaunet config type

        config = AutoConfig.from_pretrained(model_dir)
        card = build_model_card(
            recipe,
            results,
            repo_id=repo_id,
            embedding_dim=config.hidden_size,
            input_size=tuple(config.image_size),
            license=license,
            cards_dir=cards_dir,
        )
        return validate_model_card(card)
    if (model_dir / "README.md").is_file():
        return validate_model_card(model_dir / "README.md")
    raise ValueError(
        f"no model card results for {model_dir}: found neither an evaluation JSON nor {model_dir / 'README.md'}; "
        "expected --dataset-results results.json"
    )


def push_model_folder(
    model_dir: str | Path,
    repo_id: str,
    *,
    results_path: str | Path | None = None,
    recipe: str | None = None,
    private: bool | None = None,
    license: str = "apache-2.0",
    commit_message: str | None = None,
    token: str | None = None,
    endpoint: str | None = None,
    cards_dir: str | Path | None = None,
) -> CommitInfo:
    """Check `model_dir` (weights load in transformers and timm alike), build its card, and push both.

    Refuses (raises before any network call) when the weights do not load, the config does not match them, or
    the card does not validate or has no results.
    """
    checked = check_model_folder(model_dir)
    card = prepare_model_card(
        checked.folder,
        repo_id,
        results_path=results_path,
        recipe=recipe,
        license=license,
        cards_dir=cards_dir,
    )
    operations = [
        CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(checked.folder / name))
        for name in MODEL_FILES
    ]
    operations.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=str(card).encode("utf-8")))

    api = HfApi(endpoint=endpoint, token=token)
    repo_url = api.create_repo(repo_id, private=private, exist_ok=True)
    logger.info("pushing %s to %s", checked.folder, repo_url)
    message = (
        commit_message or f"Upload IAUnet checkpoint ({checked.config.timm_architecture}) with model card"
    )
    return api.create_commit(repo_url.repo_id, operations, commit_message=message)
