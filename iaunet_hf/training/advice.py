"""The command ``iaunet-train`` proposes after a stop, built to work as printed (run from the same folder).

It is the run's own command line (its recipe and every override, in order) with ``--optimizer.lr`` lowered and
``--resume`` set from the run's state: ``--resume latest`` (or the checkpoint's path) when a good checkpoint
exists, no ``--resume`` at all when none was saved yet, since a new run may use a folder without checkpoints.
The program is the one this process was started as (``iaunet-train``, its path, or ``python -m ...``).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from .checkpoints import CHECKPOINTS_DIR, latest_checkpoint
from .config import TrainingConfig
from .recipes import read_recipe, resolve_key

PROGRAM = "iaunet-train"
LEARNING_RATE_KEY = ("optimizer", "lr")
RESUME_KEY = ("checkpoint", "resume")
LEARNING_RATE_DIVISOR = 10
INDENT = "    "


def _same_path(found: str | None, wanted: str) -> bool:
    # not resolved: a virtualenv's python is a symlink to a system python that lacks its packages
    return found is not None and os.path.abspath(found) == os.path.abspath(wanted)


def invoked_program() -> list[str]:
    """How this process was started, as the start of a runnable command: ``iaunet-train`` when that is the one on
    PATH, else the script's path; ``python -m iaunet_hf.train``; ``iaunet-train`` when called from Python."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name.startswith("iaunet_hf."):
        python = "python" if _same_path(shutil.which("python"), sys.executable) else sys.executable
        return [python, "-m", spec.name.removesuffix(".__main__")]
    script = sys.argv[0] if sys.argv else ""
    if Path(script).stem == PROGRAM:
        return [PROGRAM] if _same_path(shutil.which(PROGRAM), script) else [script]
    return [PROGRAM]


def recipe_learning_rate(recipe: str) -> float | None:
    """The recipe's own ``optimizer.lr`` (None when it cannot be read)."""
    try:
        value = (read_recipe(recipe).get("optimizer") or {}).get("lr")
    except (OSError, ValueError):
        return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def lower_learning_rate(current: float, recipe_lr: float | None) -> tuple[float, str]:
    """(the learning rate to propose, why): a tenth of ``current``, but no more than the recipe's own (a run
    stopped at 1e30 is proposed the recipe's rate, not 1e29), rounded to the 3 digits the command prints."""
    tenth = float(f"{current / LEARNING_RATE_DIVISOR:.3g}")
    if recipe_lr is not None and 0 < recipe_lr < tenth:
        return recipe_lr, f"the recipe's own; a tenth of {current:.3g} would still be above it"
    return tenth, f"a tenth of {current:.3g}"


def rerun_command(
    recipe: str | None, overrides: Sequence[tuple[str, str]], learning_rate: float, resume: str | None
) -> str:
    """The command line again: ``--recipe`` (when the run was given one), the overrides without
    ``optimizer.lr`` and ``checkpoint.resume``, then ``--resume RESUME`` (when not None) and
    ``--optimizer.lr LEARNING_RATE``, quoted for a POSIX shell."""
    argv = [*invoked_program(), *(["--recipe", recipe] if recipe is not None else [])]
    for key, value in overrides:
        if resolve_key(key) not in (LEARNING_RATE_KEY, RESUME_KEY):
            argv += [f"--{key}", value]
    if resume is not None:
        argv += ["--resume", resume]
    argv += ["--optimizer.lr", f"{learning_rate:.3g}"]
    return shlex.join(argv)


def stop_advice(
    last_good_checkpoint: Path | None,
    recipe: str | None,
    overrides: Sequence[tuple[str, str]],
    config: TrainingConfig,
) -> str:
    """Two lines after a divergence stop: what to do in the run's state, then the exact command (indented)."""
    recipe_lr = recipe_learning_rate(recipe if recipe is not None else config.name)
    learning_rate, why = lower_learning_rate(config.optimizer.lr, recipe_lr)
    lowered = f"--optimizer.lr {learning_rate:.3g} ({why})"
    if last_good_checkpoint is None:
        resume = None
        what = (
            f"start the run again with {lowered} and without --resume; its output folder "
            f"{config.checkpoint.output_dir} can be reused as it is"
        )
    else:
        latest = latest_checkpoint(Path(config.checkpoint.output_dir) / CHECKPOINTS_DIR)
        resume = "latest" if latest == last_good_checkpoint else str(last_good_checkpoint)
        what = f"resume {last_good_checkpoint} with {lowered}"
    processes = int(os.environ.get("WORLD_SIZE", "1"))
    if processes > 1:
        what += f", launched as this run was ({processes} processes, accelerate launch or torchrun)"
    command = rerun_command(recipe, overrides, learning_rate, resume)
    return f"{PROGRAM}: {what}:\n{INDENT}{command}"
