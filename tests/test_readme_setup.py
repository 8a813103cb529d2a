"""The README's two set-up commands stay the ones CI and newcomers run."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setup_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_readme_has_exactly_two_setup_commands_with_pinned_torch():
    commands = _setup_commands()
    assert len(commands) == 2
    assert all("-c constraints.txt" in command and "python3 -m venv .venv" in command for command in commands)
    assert "scripts/demo.py" in commands[0] and "pytest" in commands[1]
    pins = (ROOT / "constraints.txt").read_text().split()
    assert "torch==2.14.1" in pins and "torchvision==0.29.1" in pins


def test_ci_runs_the_readme_test_command():
    ci_commands = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if "pytest" in line]
    assert ci_commands == [_setup_commands()[1]]


def test_ci_also_runs_the_newest_releases_and_the_lint():
    run = (ROOT / ".ci" / "run").read_text()
    newest = (ROOT / ".ci" / "newest").read_text()
    assert "bash .ci/newest" in run and "ruff check ." in run and "ruff format --check ." in run
    # torch and torchvision stay pinned; every other package resolves to its newest release
    assert "-c .ci/torch-pins.txt" in newest and "constraints.txt > .ci/torch-pins.txt" in newest
    assert "tests/conformance" in newest and "tests/test_toolchain.py" in newest


def test_the_type_hints_ship():
    # pyproject.toml's package-data lists py.typed; without the file users' type checkers ignore the hints
    assert "py.typed" in (ROOT / "pyproject.toml").read_text()
    assert (ROOT / "iaunet_hf" / "py.typed").is_file()
