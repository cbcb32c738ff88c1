"""The `summarize` Typer app: its commands, option values from files and the environment, `main()`."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import UsageError, environment_error
from ..version import __version__
from . import check, extract, models, quality, run
from .common import Command

JEMALLOC_ENV = "_RJEM_MALLOC_CONF"  # the variable Rust's jemallocator (Polars') reads
JEMALLOC_CONF = "dirty_decay_ms:0,muzzy_decay_ms:0"

app = typer.Typer(
    name="summarize",
    help="Summarize and translate batches of news articles in any language into Parquet tables with full metadata.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
app.command("run", cls=Command)(run.run)
app.command("detect", cls=Command)(run.detect)
app.command("extract", cls=Command)(extract.extract)
app.command("schema", cls=Command)(run.schema)
app.command("compact", cls=Command)(run.compact)
app.command("check", cls=Command)(check.check)
quality.register(app)
app.add_typer(models.models_app, name="models", help="List the model registry, plan which model does what for a job, fetch models for offline runs.")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"summarize {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Summarize and translate batches of news articles into Parquet.

    Start with `summarize run INPUT... --out DIR`; `summarize detect` only detects languages.
    """


def build_default_map(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None,
                      warn: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Click's `default_map` from the config file and `SUMMARIZE_*` variables (flags still win);
    unknown variables go to `warn`."""
    from .. import config as cfg

    path = cfg.config_path(argv, cwd)
    data = cfg.load_file(path) if path else {}
    root = typer.main.get_command(app)
    commands: dict[str, list[tuple[str, bool]]] = {}

    # Typer vendors its own Click, so commands are told apart by shape, not by class.
    def walk(cmd: Any, prefix: str) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, f"{prefix}.{name}" if prefix else name)
        else:
            commands[prefix] = [(p.name, bool(getattr(p, "multiple", False))) for p in cmd.params
                                if getattr(p, "param_type_name", "") == "option" and p.name and p.name != "config"]

    walk(root, "")
    flat = cfg.default_map(commands, data, cfg.environment() if env is None else env, source=str(path or "environment"),
                          warn=warn)
    nested: dict[str, Any] = {}
    for key, values in flat.items():
        node = nested
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = values
    return nested


def main() -> None:
    """Console entry point: options from summarize.toml / --config and SUMMARIZE_* variables, then flags."""
    from .common import _FORMAT, OWNS_STDERR, LogFormat, say, wants_json

    OWNS_STDERR[0] = True
    # Polars' allocator (jemalloc) keeps freed pages of idle threads for good unless told to give
    # them back: a driver's memory then grows with the input (by ~500 bytes an article, measured)
    # although nothing is held. Read once, when Polars first loads, which is after this.
    os.environ.setdefault(JEMALLOC_ENV, JEMALLOC_CONF)

    # Options are not parsed yet: --log-format is read from argv, so these lines are JSON too.
    _FORMAT[0] = LogFormat.json if wants_json(sys.argv[1:]) else LogFormat.text
    try:
        default_map = build_default_map(sys.argv[1:], warn=lambda msg: say(msg, level="warning"))
    except UsageError as exc:
        say(str(exc), level="error", exit_code=2)
        sys.exit(2)
    try:
        _main(default_map)
    except Exception as exc:
        # The machine failed, not the code (a read-only or full disk, an unreachable object store):
        # one sentence with exit 2, as for any other error the user must fix; a bug keeps its traceback.
        err = environment_error(exc)
        if err is None:
            raise
        say(str(err), level="error", exit_code=err.exit_code)
        sys.exit(err.exit_code)


def _main(default_map: dict[str, Any]) -> None:
    from .common import _FORMAT, LogFormat, say

    if _FORMAT[0] != LogFormat.json:
        app(default_map=default_map)
        return
    # Under --log-format json, Click's own usage errors (an unknown flag, a bad value) become one
    # JSON line too; standalone mode would print them as plain text.
    from typer.exceptions import TyperException

    try:
        code = app(default_map=default_map, standalone_mode=False)
    except typer.Abort:
        say("aborted", level="error", exit_code=1)
        sys.exit(1)
    except TyperException as exc:  # Click's usage errors, as Typer vendors them
        status = int(getattr(exc, "exit_code", 2))
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        say(message, level="error", exit_code=status)
        sys.exit(status)
    sys.exit(code if isinstance(code, int) else 0)
