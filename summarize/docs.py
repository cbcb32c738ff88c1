"""The generated pages of the documentation: the CLI reference and the output schema.

`python -m summarize.docs` writes `docs/cli.md` (every command's `--help`, from the Typer app) and
`docs/schema.md` (what `summarize schema` prints, from `schema.py`). A test compares the committed
pages with `render_pages()`, so neither page can drift from the code.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Help is wrapped at a fixed width so the page does not depend on the terminal that generated it.
WIDTH = 100

CLI_HEADER = """# CLI reference

Every command's `--help`, generated from the code by `python -m summarize.docs` (a test fails when this
page and the code differ). Option values can also come from `summarize.toml` and `SUMMARIZE_*`
variables; see [Pipelines](pipelines.md#configuration-logs-and-checks).
"""

SCHEMA_HEADER = """# Output schema

What `summarize schema` prints (`summarize schema --json` gives the same as JSON), generated from the
table definitions the writer uses by `python -m summarize.docs`; a test fails when this page and the
code differ. How the tables are written, resumed and appended to is in [Datasets](datasets.md).

"""


def commands() -> Iterator[tuple[str, Any]]:
    """Every command of the `summarize` app as (name, click command), the app itself first as ``""``,
    groups before their subcommands, in the order `--help` lists them."""
    import typer.main

    from .cli import app

    # Typer vendors its own Click, so groups are told apart by shape, not by class.
    def walk(cmd: Any, name: str) -> Iterator[tuple[str, Any]]:
        yield name, cmd
        for sub_name, sub in (getattr(cmd, "commands", None) or {}).items():
            yield from walk(sub, f"{name} {sub_name}".strip())

    yield from walk(typer.main.get_command(app), "")


def command_help(name: str) -> str:
    """`summarize NAME --help` as printed at a terminal of `WIDTH` columns (no config file or
    environment applied: the defaults are the code's)."""
    import typer.main

    from .cli import app

    cmd: Any = typer.main.get_command(app)
    ctx = cmd.context_class(cmd, info_name="summarize", terminal_width=WIDTH, max_content_width=WIDTH)
    for part in name.split():
        cmd = cmd.commands[part]
        ctx = cmd.context_class(cmd, info_name=part, parent=ctx, terminal_width=WIDTH, max_content_width=WIDTH)
    return "\n".join(line.rstrip() for line in cmd.get_help(ctx).splitlines()).strip() + "\n"


def cli_markdown() -> str:
    """The CLI reference page: one section per command with its `--help` text."""
    parts = [CLI_HEADER]
    for name, _cmd in commands():
        title = f"summarize {name}".strip()
        parts.append(f"## `{title}`\n\n```text\n{command_help(name)}```\n")
    return "\n".join(parts)


def schema_page() -> str:
    """The schema page: a short header, then exactly what `summarize schema` prints."""
    from .schema import schema_markdown

    return SCHEMA_HEADER + schema_markdown()


def render_pages() -> dict[str, str]:
    """The generated pages, by path relative to the repository root."""
    return {"docs/cli.md": cli_markdown(), "docs/schema.md": schema_page()}


def main(root: str = ".") -> None:
    """Write the generated pages under `root` (`python -m summarize.docs [ROOT]`)."""
    for rel, text in render_pages().items():
        path = Path(root) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main(*sys.argv[1:])
