"""The shell and Python blocks of README.md and docs/*.md, found with mktestdocs, in document order."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mktestdocs import grab_code_blocks

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("python", "bash", "console")


@dataclass(frozen=True)
class Block:
    """One fenced block: its file (relative to the repository), language, first line and source."""

    file: str
    language: str
    line: int
    source: str

    @property
    def first_line(self) -> str:
        return next(line.strip() for line in self.source.splitlines() if line.strip())

    @property
    def key(self) -> tuple[str, str]:
        return self.file, self.first_line

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks_of(path: Path) -> list[Block]:
    """The file's python and bash blocks in the order they appear (mktestdocs grabs one language at a time)."""
    text = path.read_text()
    found = []
    for language in LANGUAGES:
        start = 0
        for source in grab_code_blocks(text, lang=language):
            first = next(line.strip() for line in source.splitlines() if line.strip())
            position = text.index(first, text.index(f"```{language}", start))
            start = position
            found.append(
                (
                    position,
                    Block(str(path.relative_to(ROOT)), language, text.count("\n", 0, position) + 1, source),
                )
            )
    return [block for _, block in sorted(found, key=lambda pair: pair[0])]


def all_blocks() -> list[Block]:
    return [block for path in markdown_files() for block in blocks_of(path)]
