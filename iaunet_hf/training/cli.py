"""``iaunet-train`` / ``python -m iaunet_hf.train``: train a recipe, with ``--key value`` overrides of any field.

Any config field can be overridden as ``--section.field value`` (``--optimizer.lr 1e-4``), any keyword of the
timm architecture as ``--model.<keyword>`` (``--model.iau_modules '[ciau]'``), any dataset builder option as
``--data.<option>`` (``--data.name_pattern ...``), and a field whose name is unique as ``--field value`` /
``--field-name value`` (``--data-dir``, ``--output-dir``, ``--mixed-precision``). Errors a user can fix print one
line and exit with status 2; a run stopped by divergence exits with status 1 and prints the command to go on
(``advice.py``). Launch the same command under ``accelerate launch`` or ``torchrun`` for several GPUs.

``--resume`` continues a run from its own saved configuration: the recipe is not read again, and only the
options given on the command line are compared with the run's, then applied or refused (``resume.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from collections.abc import Sequence

import yaml

from ..model import IAUnetOptions
from ..overrides import override_pairs
from .advice import stop_advice
from .classification import trainer_for
from .config import TrainingConfig
from .divergence import NonFiniteLossError
from .recipes import available_recipes, load_config
from .resume import resumed_config

USAGE_ERROR = 2
DEFAULT_RECIPE = "market1501"


def field_listing() -> str:
    """Every ``--section.field`` of a recipe, section by section (``model`` with every architecture keyword)."""
    hints, sections = typing.get_type_hints(TrainingConfig), []
    for name, cls in hints.items():
        if dataclasses.is_dataclass(cls):
            fields = [f.name for f in dataclasses.fields(cls) if f.name != "options"]
            if name == "model":
                fields += [*IAUnetOptions.keywords(), "drop_rate", "global_pool"]
            sections.append(f"{name}: {', '.join(fields)}")
    return "; ".join(sections)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iaunet-train",
        description="Train IAUnet with a recipe on accelerate. Extra --section.field VALUE arguments override the recipe.",
        epilog=(
            f"recipes: {', '.join(available_recipes())}. Common overrides: --data-dir PATH, --output-dir PATH, "
            "--mixed-precision {no,bf16,fp16}, --epochs N, --optimizer.lr X, --model.iau_stages '[2]', "
            "--model.pretrained_file FILE; see --print-config for every field (FIELD spelled as in the docs and recipes). "
            f"Every --section.field: {field_listing()}; data also takes the dataset builder's options."
        ),
    )
    parser.add_argument(
        "--recipe",
        default=None,
        help=f"a shipped recipe (base or ablation) or a YAML file (default: {DEFAULT_RECIPE}; with --resume: "
        "the run's own saved configuration)",
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        default=None,
        help="continue from the latest checkpoint in the output folder, or from the given checkpoint folder, "
        "with the run's saved configuration (options given here are applied, or refused when they cannot change)",
    )
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    return parser


def fail(message: str) -> int:
    """One line on stderr, no traceback; the exit status of a usage error."""
    sys.stderr.write(f"iaunet-train: error: {' '.join(str(message).split())}\n")
    return USAGE_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    args, rest = build_parser().parse_known_args(argv)
    try:
        pairs = override_pairs(rest)
        overrides = dict(pairs)
        if args.resume is not None:
            overrides["checkpoint.resume"] = args.resume
            config = resumed_config(args.recipe, overrides, DEFAULT_RECIPE)
        else:
            config = load_config(args.recipe or DEFAULT_RECIPE, overrides)
    except (ValueError, FileNotFoundError) as error:
        return fail(str(error))
    if args.print_config:
        sys.stdout.write(yaml.safe_dump(config.to_dict(), sort_keys=False))
        return 0

    try:
        trainer = trainer_for(config)
    except (ValueError, FileNotFoundError) as error:  # bad data, a refused resume: nothing was written
        return fail(str(error))
    try:
        result = trainer.train()
    except NonFiniteLossError as error:  # nothing broken was saved; say how to go on, as a command to run
        advice = stop_advice(error.last_good_checkpoint, args.recipe, pairs, config)
        sys.stderr.write(f"iaunet-train: stopped: {error}\n{advice}\n")
        return 1
    metrics = ", ".join(
        f"{key} {value:.2f}" for key, value in result.metrics.items() if isinstance(value, float)
    )
    trainer.accelerator.print(f"final model: {result.model_dir}\n{metrics}")  # main process only
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
