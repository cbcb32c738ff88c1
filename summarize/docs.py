"""Keeping the README's generated sections in step with the code."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .schema import schema_markdown

START, END = "<!-- schema:start -->", "<!-- schema:end -->"


def render_readme(text: str) -> str:
    """The README text with its schema section regenerated."""
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    return pattern.sub(lambda _m: f"{START}\n{schema_markdown()}{END}", text)


def main(path: str = "README.md") -> None:
    """Rewrite the README's generated sections in place (`python -m summarize.docs`)."""
    p = Path(path)
    p.write_text(render_readme(p.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
