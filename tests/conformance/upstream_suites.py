"""The host libraries' own test suites, fetched from the sdists of the installed versions and run on our models.

A plugin is judged by its host's tests, not by ours: timm's ``tests/test_models.py`` and transformers' common model
tests (``ModelTesterMixin``, ``ConfigTester``, ``ImageProcessingTestMixin``) are taken unchanged from the sdist of
whatever version is installed (the pins, or the newest releases), cached, and run in a subprocess with pytest; the
JUnit report says what passed, failed and was skipped, and why.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).parent
CACHE = Path(os.environ.get("IAUNET_CONFORMANCE_CACHE", Path.home() / ".cache" / "iaunet-hf" / "conformance"))


@dataclass
class SuiteReport:
    """Outcome of one upstream run: test ids by outcome, and each skip's reason."""

    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    output: str = ""

    def summary(self) -> str:
        return f"{len(self.passed)} passed, {len(self.failed)} failed, {len(self.skipped)} skipped"


def sdist_tree(package: str) -> Path:
    """The unpacked sdist of the installed version of ``package``, downloaded once into the cache."""
    version = importlib.metadata.version(package)
    target = CACHE / f"{package}-{version}"
    if (target / ".complete").is_file():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
            + [f"{package}=={version}", "-d", scratch],
            check=True,
            capture_output=True,
        )
        (archive,) = Path(scratch).glob("*.tar.gz")
        with tarfile.open(archive) as tar:
            tar.extractall(scratch, filter="data")
        (unpacked,) = [path for path in Path(scratch).iterdir() if path.is_dir()]
        shutil.rmtree(target, ignore_errors=True)
        unpacked.rename(target)
    (target / ".complete").touch()
    return target


def _declare_our_module_as_a_feature_model(test_models: Path) -> None:
    """List our timm modules (``timm_models``, ``osnet``) where timm lists each module with
    ``forward_intermediates`` and the getter features.

    timm adds every such model module to ``FEAT_INTER_FILTERS`` in ``test_models.py``; the intermediates and
    pruning contracts run only for the modules listed there.
    """
    text = test_models.read_text()
    anchor = "FEAT_INTER_FILTERS = [\n"
    if anchor not in text:
        raise AssertionError(f"{test_models} no longer defines FEAT_INTER_FILTERS as {anchor!r}")
    test_models.write_text(text.replace(anchor, anchor + "    'timm_models', 'osnet',\n", 1))


def prepare_timm_suite(work: Path) -> Path:
    """timm's tests/test_models.py in ``work``, with a conftest that registers our models; returns the file."""
    source = sdist_tree("timm")
    (work / "tests").mkdir(parents=True)
    for name in ("__init__.py", "conftest.py", "test_models.py"):
        shutil.copy(source / "tests" / name, work / "tests" / name)
    shutil.copy(source / "pyproject.toml", work / "pyproject.toml")  # timm's pytest markers
    (work / "conftest.py").write_text("import iaunet_hf  # noqa: F401  (registers the iaunet_* models)\n")
    _declare_our_module_as_a_feature_model(work / "tests" / "test_models.py")
    return work / "tests" / "test_models.py"


def prepare_transformers_suite(work: Path) -> Path:
    """transformers' common test modules in ``work``/tests, with the stand-ins for the helper modules the sdist
    does not ship and our model test files in tests/models/iaunet/; returns that folder."""
    source = sdist_tree("transformers")
    shutil.copytree(source / "tests", work / "tests")
    shutil.copytree(HERE / "transformers_suite" / "standins", work, dirs_exist_ok=True)
    models = work / "tests" / "models" / "iaunet"
    models.mkdir(parents=True)
    for package in (work / "tests", work / "tests" / "models", models):
        (package / "__init__.py").touch()  # upstream's tests/ is a package; its sdist drops the markers
    for test_file in (HERE / "transformers_suite").glob("test_*.py"):
        shutil.copy(test_file, models / test_file.name)
    return models


def run_suite(work: Path, target: Path, *pytest_args: str, env: dict[str, str] | None = None) -> SuiteReport:
    """Run pytest on ``target`` inside ``work`` and read its JUnit report.

    One process: two pytest-xdist workers, each with torch's own threads, oversubscribe the cores and made timm's
    suite seven times slower (5.7 min against 50 s on 2 cores).
    """
    report_file = work / "report.xml"
    command = [sys.executable, "-m", "pytest", str(target.relative_to(work)), "-q", "-p", "no:cacheprovider"]
    command += [f"--junitxml={report_file}", "-W", "ignore::pytest.PytestUnknownMarkWarning"]
    run = subprocess.run(
        command + list(pytest_args),
        cwd=work,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
        capture_output=True,
        text=True,
    )
    report = SuiteReport(output=run.stdout[-6000:] + run.stderr[-3000:])
    if not report_file.is_file():
        raise AssertionError(f"the upstream suite did not run (exit {run.returncode}):\n{report.output}")
    for case in ElementTree.parse(report_file).iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        skipped = case.find("skipped")
        if case.find("failure") is not None or case.find("error") is not None:
            report.failed.append(test_id)
        elif skipped is not None:
            report.skipped[test_id] = skipped.get("message", "")
        else:
            report.passed.append(test_id)
    return report
