"""Console entry point `iaunet-push` (`iaunet-export` lives in `export_cli.py`)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ..inference import add_model_argument
from .push import push_model_folder
from .space import push_space


def _log_our_progress() -> None:
    """Show this package's INFO messages only; the exporters' and HTTP clients' stay at WARNING."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("iaunet_hf").setLevel(logging.INFO)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def build_push_parser() -> argparse.ArgumentParser:
    """iaunet-push's arguments: a model folder to a model repository, or a Space serving a Hub model."""
    parser = argparse.ArgumentParser(
        prog="iaunet-push",
        description="Check a saved IAUnet folder, render its model card for the target repository and push both "
        "to the Hub in one commit. HF_TOKEN and HF_ENDPOINT are honoured.",
    )
    add_model_argument(
        parser,
        help="folder written by save_pretrained (+ the image processor); with --space, the model's Hub id",
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--repo-id", help="target repository, org/name")
    target.add_argument(
        "--space", metavar="ORG/NAME", help="write and upload a Gradio Space serving --model with iaunet-app"
    )
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument(
        "--dataset-results",
        help="results file (iaunet-eval --output) whose entries fill the card's model-index "
        "(default: the folder's eval_results.json)",
    )
    parser.add_argument("--license", default="apache-2.0", help="license of the weights (card metadata)")
    parser.add_argument("--commit-message", help="commit message (default: describes the checkpoint)")
    parser.add_argument("--endpoint", help="Hub endpoint (default: HF_ENDPOINT or the public Hub)")
    return parser


def push_main(argv: Sequence[str] | None = None) -> int:
    """`iaunet-push --model DIR --repo-id ORG/NAME [--private] [--dataset-results results.json]`, or
    `iaunet-push --space ORG/NAME --model ORG/MODEL` (a Gradio Space serving the model)."""
    args = build_push_parser().parse_args(argv)
    _log_our_progress()
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # the folder check loads the weights: no bar for that

    from huggingface_hub import constants
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.errors import HTTPError as ClientHTTPError  # the HTTP client's base error class

    endpoint = args.endpoint or constants.ENDPOINT
    try:
        if args.space:
            info = push_space(args.space, args.model, private=args.private or None, endpoint=args.endpoint)
        else:
            info = push_model_folder(
                args.model,
                args.repo_id,
                results_path=args.dataset_results,
                private=args.private or None,
                license=args.license,
                commit_message=args.commit_message,
                endpoint=args.endpoint,
            )
    except (FileNotFoundError, ValueError) as error:  # checked before any network call
        print(f"iaunet-push: refused: {_one_line(error)}", file=sys.stderr)
        return 2
    except HfHubHTTPError as error:  # the checks passed; the Hub said no (token, permissions, ...)
        print(f"iaunet-push: the Hub at {endpoint} refused the upload: {_one_line(error)}", file=sys.stderr)
        return 1
    except ClientHTTPError as error:  # no answer: connection refused, DNS, timeout
        print(
            f"iaunet-push: cannot reach the Hub at {endpoint} ({type(error).__name__}: {_one_line(error)}); "
            "nothing was pushed",
            file=sys.stderr,
        )
        return 1
    print(info.commit_url)
    return 0
