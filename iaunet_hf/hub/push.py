"""Push a checked model folder and its model card to the Hub in one commit.

The card is rendered again at push time, for the real repository id, from the folder's own facts
(`training_summary.json`) and a results document (`--dataset-results`, else the folder's `eval_results.json`).
The upload goes through `HfApi.create_commit` (not `upload_folder`) so that the weights, the configs and the
card rendered in memory land in exactly one commit whatever storage backend the Hub picks for each file: a
failed push leaves nothing half-pushed. `HF_TOKEN` and `HF_ENDPOINT` are honoured by `huggingface_hub` itself
when `token`/`endpoint` are left unset.
"""

from __future__ import annotations

import logging
from pathlib import Path

from huggingface_hub import CommitInfo, CommitOperationAdd, HfApi, ModelCard
from transformers import AutoConfig

from ..evaluation.results import read_results
from ..inference.model_folder import MODEL_FILES, RESULTS_FILE, SUMMARY_FILE, read_training_summary
from .checks import check_model_folder
from .model_card import build_model_card, validate_model_card

logger = logging.getLogger(__name__)


def results_file(model_dir: Path, results_path: str | Path | None) -> Path:
    """``results_path``, else the folder's own ``eval_results.json``; an error when there is neither."""
    if results_path is not None:
        return Path(results_path)
    if (model_dir / RESULTS_FILE).is_file():
        return model_dir / RESULTS_FILE
    raise ValueError(
        f"no evaluation results for {model_dir}: it has no {RESULTS_FILE}; expected --dataset-results "
        "results.json (written by iaunet-eval --output)"
    )


def prepare_model_card(
    model_dir: str | Path,
    repo_id: str,
    *,
    results_path: str | Path | None = None,
    license: str = "apache-2.0",
) -> ModelCard:
    """The validated card to push, rendered for ``repo_id`` from the folder's facts and a results document."""
    model_dir = Path(model_dir)
    results = read_results(results_file(model_dir, results_path))
    config = AutoConfig.from_pretrained(model_dir)
    card = build_model_card(
        results,
        repo_id=repo_id,
        summary=read_training_summary(model_dir),
        embedding_dim=config.hidden_size,
        input_size=tuple(config.image_size),
        num_frames=config.num_frames,
        license=license,
    )
    return validate_model_card(card)


def push_model_folder(
    model_dir: str | Path,
    repo_id: str,
    *,
    results_path: str | Path | None = None,
    private: bool | None = None,
    license: str = "apache-2.0",
    commit_message: str | None = None,
    token: str | None = None,
    endpoint: str | None = None,
) -> CommitInfo:
    """Check `model_dir` (weights load in transformers and timm alike), build its card, and push both.

    Refuses (raises before any network call) when the weights do not load, the config does not match them, or
    the card does not validate or has no results. The results document and the training summary (when present)
    travel with the weights.
    """
    checked = check_model_folder(model_dir)
    card = prepare_model_card(checked.folder, repo_id, results_path=results_path, license=license)
    names = [*MODEL_FILES, *(name for name in (SUMMARY_FILE,) if (checked.folder / name).is_file())]
    operations = [
        CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(checked.folder / name)) for name in names
    ]
    operations.append(
        CommitOperationAdd(
            path_in_repo=RESULTS_FILE, path_or_fileobj=str(results_file(checked.folder, results_path))
        )
    )
    operations.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=str(card).encode("utf-8")))

    api = HfApi(endpoint=endpoint, token=token)
    repo_url = api.create_repo(repo_id, private=private, exist_ok=True)
    logger.info("pushing %s to %s", checked.folder, repo_url)
    message = (
        commit_message or f"Upload IAUnet checkpoint ({checked.config.timm_architecture}) with model card"
    )
    return api.create_commit(repo_url.repo_id, operations, commit_message=message)
