"""``iaunet-eval``: evaluate one model on one or several reID datasets, print the table and, with ``--output``,
write a results file (nothing is written without it).

Several datasets (``--dataset market1501,dukemtmc_reid``) give a cross-domain table, one row per set, and one
results file (``iaunet_hf.evaluation.results``) holding every entry. Builder options of the datasets are set
with ``--data.KEY VALUE`` (e.g. ``--data.name_pattern '([-\\d]+)_c(\\d)'``), as in ``iaunet-train``.

A train-only set (no query/gallery) is evaluated on the identities an ``iaunet-train --data.missing_eval_splits
split`` run held out: ``--eval-split RUN/eval_split.json``, or by default the ``eval_split.json`` in the ``--model``
folder or the run folder above it (``RUN/best_model``, ``RUN/model``); without one it is an error naming the option.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers.utils import logging as transformers_logging

from ..data import DATASET_NAMES, load_reid_dataset
from ..data.registry import builder_options
from ..data.splits import load_identity_split
from ..inference import EVAL_SPLIT_FILE, load_reid_model, model_input_config
from ..overrides import override_pairs, typed_data_options
from ..precision import check_precision
from ..retrieval.gallery_evaluation import evaluate_model_through_gallery
from .cli_arguments import build_parser
from .extraction import evaluate_model
from .results import evaluation_entry, format_results_table, results_document, write_results

CROSS_DOMAIN_METRICS = ("mAP", "rank-1", "mINP")


def parse_data_options(extra: Sequence[str]) -> dict[str, str]:
    """``--data.KEY VALUE`` pairs (the grammar every tool shares); typed later by the builders they go to."""
    unknown = [token for token in extra if token.startswith("--") and not token.startswith("--data.")]
    if unknown:
        raise ValueError(
            f"unrecognised argument {unknown[0]!r}; expected --data.KEY VALUE or the options in --help"
        )
    options = {}
    for key, text in override_pairs(extra):
        name = key[len("data.") :]
        if not key.startswith("data.") or not name:
            raise ValueError(
                f"unrecognised argument --{key}; expected --data.KEY VALUE or the options in --help"
            )
        options[name] = text
    return options


def dataset_folders(names: list[str], data_dirs: list[Path]) -> list[Path]:
    """One folder per dataset: the given ones in order, or the single parent folder for all."""
    if len(data_dirs) not in (1, len(names)):
        raise ValueError(
            f"--data-dir: got {len(data_dirs)} folders for {len(names)} datasets; expected one per dataset or one parent"
        )
    folders = data_dirs * len(names) if len(data_dirs) == 1 else data_dirs
    for name, folder in zip(names, folders, strict=True):
        if not folder.exists():
            raise FileNotFoundError(
                f"--data-dir: {folder} does not exist; expected the {name} folder (or its parent)"
            )
    return folders


def route_data_options(names: list[str], options: dict[str, Any], video: bool) -> dict[str, dict[str, Any]]:
    """Each dataset's builder options: all of them for one dataset (its builder checks them); for several, each
    option goes to the datasets whose builder has it, and an option no builder has is an error."""
    if len(names) == 1:
        return {names[0]: dict(options)}

    known = {name: set(builder_options(name, video)) for name in names}
    unused = [key for key in options if not any(key in known[name] for name in names)]
    if unused:
        raise ValueError(f"--data.{unused[0]}: no builder of {names} has this option")
    return {name: {key: value for key, value in options.items() if key in known[name]} for name in names}


def check_eval_split_option(eval_split: Path | None, names: list[str]) -> None:
    """``--eval-split`` names an existing file, for one dataset (checked before the model and data load)."""
    if eval_split is not None and len(names) > 1:
        raise ValueError(
            f"--eval-split: a run's held-out split belongs to one set; expected one --dataset, got {names}"
        )
    if eval_split is not None and not eval_split.is_file():
        raise FileNotFoundError(
            f"--eval-split: {eval_split} does not exist; expected the eval_split.json of an iaunet-train "
            "--data.missing_eval_splits split run (in its output folder)"
        )


def held_out_split_file(args: argparse.Namespace, name: str, folder: Path, splits: list[str]) -> Path | None:
    """The split file to evaluate ``name`` on: None for a set with its own query/gallery; for a train-only set
    ``--eval-split``, else the ``eval_split.json`` in ``--model``'s folder or the run folder above it."""

    if splits != ["train"]:
        if args.eval_split is not None:
            raise ValueError(
                f"--eval-split: {name} at {folder} has its own splits {splits}; expected a train-only set "
                "(a train split only), whose identities a training run held out"
            )
        return None
    if args.eval_split is not None:
        return args.eval_split
    model = Path(args.model).expanduser()
    candidates = [model / EVAL_SPLIT_FILE, model.parent / EVAL_SPLIT_FILE] if model.is_dir() else []
    found = next((path for path in candidates if path.is_file()), None)
    if found is None:
        looked = f" (there is none in {model} or {model.parent})" if candidates else ""
        raise FileNotFoundError(
            f"{name}: {folder} is a train-only set (a train split only, no query/gallery to evaluate on); expected "
            f"--eval-split RUN/{EVAL_SPLIT_FILE}, the identities held out by iaunet-train --data.missing_eval_splits "
            f"split{looked}"
        )
    return found


def load_evaluation_sets(
    args: argparse.Namespace, names: list[str], folders: list[Path], routed: dict[str, dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """Every set as a ``DatasetDict`` with query/gallery (a train-only set split as its run's split file says),
    and the ``eval_split`` setting of the sets evaluated on a held-out split."""

    video = {"video": True} if args.video else {}
    dataset_dicts, split_settings = {}, {}
    for name, folder in zip(names, folders, strict=True):
        dataset_dict = load_reid_dataset(name, folder, cache_dir=args.cache_dir, **video, **routed[name])
        split_file = held_out_split_file(args, name, folder, list(dataset_dict))
        if split_file is not None:
            dataset_dict = load_identity_split(dataset_dict, split_file, dataset_name=name)
            split_settings[name] = {"eval_split": str(split_file)}
            print(
                f"{name}: a train-only set; evaluating on the identities held out in {split_file} "
                f"({len(dataset_dict['query'])} queries, {len(dataset_dict['gallery'])} gallery images)"
            )
        dataset_dicts[name] = dataset_dict
    return dataset_dicts, split_settings


def evaluate_datasets(args: argparse.Namespace, data_options: dict[str, Any]) -> dict[str, Any]:
    """Load the model once, evaluate it on every dataset, and return the results document."""

    names = [name.strip() for name in args.dataset.split(",") if name.strip()]
    if args.gallery is not None and (len(names) > 1 or args.rerank or args.metric != "cosine"):
        raise ValueError(
            "--gallery: expected one --dataset, cosine metric and no --rerank (a gallery is cosine top-k)"
        )
    unknown = [name for name in names if name not in DATASET_NAMES]
    if unknown or not names:
        raise ValueError(
            f"--dataset: unknown dataset(s) {unknown or [args.dataset]}; expected some of {list(DATASET_NAMES)}"
        )
    folders = dataset_folders(names, list(args.data_dir))
    check_eval_split_option(args.eval_split, names)
    if args.rerank_candidates != "float32" and not args.rerank:
        raise ValueError(f"--rerank-candidates: {args.rerank_candidates} needs --rerank")
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    routed = route_data_options(names, typed_data_options(names, data_options, args.video), args.video)

    transformers_logging.disable_progress_bar()  # no weight-loading bar; extraction shows its own progress
    model = load_reid_model(args.model).to(device)  # before preparing data: a wrong model name fails fast
    dataset_dicts, split_files = load_evaluation_sets(args, names, folders, routed)
    image_size = tuple(args.image_size) if args.image_size else model_input_config(model)["image_size"]
    # the settings that both run the evaluation and are recorded in its entry
    settings = dict(flip=args.flip, rerank=args.rerank, metric=args.metric, ap=args.ap, image_size=image_size)
    entries = []
    for name, dataset_dict in dataset_dicts.items():
        extraction = dict(batch_size=args.batch_size, num_workers=args.num_workers,
                          autocast_dtype=check_precision(args.precision))  # fmt: skip
        if args.gallery is not None:
            search = dict(args.gallery_search)
            evaluation = evaluate_model_through_gallery(
                model, dataset_dict, args.gallery, args.gallery_k, search_params=search,
                flip=args.flip, image_size=image_size, **extraction,
            )  # fmt: skip
            print(gallery_cost(evaluation))
            split_files.setdefault(name, {}).update(
                gallery=args.gallery, gallery_k=args.gallery_k, gallery_search=search
            )
        else:
            rerank_options = {"candidate_precision": args.rerank_candidates}
            evaluation = evaluate_model(
                model, dataset_dict, rerank_options=rerank_options, **extraction, **settings
            )
        entries.append(
            evaluation_entry(
                name,
                evaluation,
                dataset_dict,
                **settings,
                **({"data_options": routed[name]} if routed[name] else {}),
                **split_files.get(name, {}),
            )
        )
    return results_document(entries, model=args.model)


def gallery_cost(evaluation: dict[str, Any]) -> str:
    """One line: the gallery's mAP and search time against the exact evaluation of the same features."""
    exact = evaluation["exact"]
    return (
        f"gallery: mAP {100 * evaluation['mAP']:.2f} in {evaluation['search_seconds']:.2f} s; exact: mAP "
        f"{100 * exact['mAP']:.2f} in {exact['seconds']:.2f} s (ANN costs {100 * (exact['mAP'] - evaluation['mAP']):.2f} mAP)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.bf16:
        print(
            "iaunet-eval: --bf16 is now spelt --precision bf16 (the old flag goes in the next release)",
            file=sys.stderr,
        )
        args.precision = "bf16"

    try:
        document = evaluate_datasets(args, parse_data_options(extra))
        if args.output is not None:
            write_results(args.output, document)
    except (FileNotFoundError, ValueError, OSError) as error:  # bad input the user can fix: one line, exit 2
        print(f"iaunet-eval: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    cross_domain = len(document["results"]) > 1
    title = f"{args.model}" + (" +flip" if args.flip else "") + (" +rerank" if args.rerank else "")
    print(("cross-domain evaluation of " if cross_domain else "evaluation of ") + title + " (percent)")
    print(
        format_results_table(document, CROSS_DOMAIN_METRICS)
        if cross_domain
        else format_results_table(document)
    )
    print(
        f"results written to {args.output}" if args.output else "no results file written (pass --output FILE)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
