"""``iaunet-train`` / ``python -m iaunet_hf.train``: train a recipe, with ``--key value`` overrides of any field.

Any config field can be overridden as ``--section.field value`` (``--optimizer.lr 1e-4``) or, when the field name
is unique, as ``--field value`` / ``--field-name value`` (``--data-dir``, ``--output-dir``, ``--mixed-precision``).
Launch the same command under ``accelerate launch`` or ``torchrun`` for several GPUs or nodes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import yaml

from .config import available_recipes, load_config


def _parse_overrides(tokens: Sequence[str]) -> dict[str, str]:
    """``["--a.b", "1", "--c=2"]`` -> ``{"a.b": "1", "c": "2"}``; values are typed later by the config."""
    overrides: dict[str, str] = {}
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if not token.startswith("--") or token == "--":
            raise ValueError(f"unexpected argument {token!r}; expected --key value pairs")
        key, has_value, value = token[2:].partition("=")
        if not has_value:
            if index + 1 >= len(tokens) or tokens[index + 1].startswith("--"):
                raise ValueError(f"override --{key} has no value; expected --{key} VALUE")
            value = tokens[index + 1]
            index += 1
        overrides[key] = value
        index += 1
    return overrides


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iaunet-train",
        description="Train IAUnet with a recipe on accelerate. Extra --section.field VALUE arguments override the recipe.",
        epilog=(
            f"recipes: {', '.join(available_recipes())}. Common overrides: --data-dir PATH, --output-dir PATH, "
            "--mixed-precision {no,bf16,fp16}, --epochs N, --optimizer.lr X, --model.pretrained-file FILE; "
            "see --print-config for every field."
        ),
    )
    parser.add_argument("--recipe", default="market1501", help="a shipped recipe name or a YAML recipe file")
    parser.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        default=None,
        help="continue from the latest checkpoint in the output folder, or from the given checkpoint folder",
    )
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    try:
        overrides = _parse_overrides(rest)
        if args.resume is not None:
            overrides["checkpoint.resume"] = args.resume
        config = load_config(args.recipe, overrides)
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    if args.print_config:
        sys.stdout.write(yaml.safe_dump(config.to_dict(), sort_keys=False))
        return 0
    from .trainer import Trainer  # heavy imports only once there is something to train

    trainer = Trainer(config)
    result = trainer.train()
    metrics = ", ".join(
        f"{key} {value:.2f}" for key, value in result.metrics.items() if isinstance(value, float)
    )
    trainer.accelerator.print(f"final model: {result.model_dir}\n{metrics}")  # main process only
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
