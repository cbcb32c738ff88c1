"""What every command shares besides its options: logging set-up, list parsing, error mapping."""

from __future__ import annotations

import logging
import os
import sys
from enum import Enum
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand

from ..errors import SummarizeError


class LogFormat(str, Enum):
    text = "text"
    json = "json"


# The format the current command logs in: `say` and `fail` write JSON lines too when it is json,
# so that with --log-format json every line on stderr parses.
_FORMAT: list[LogFormat] = [LogFormat.text]
# Whether this process is the console command (`app.main`), which owns descriptor 2 and may
# route native code's writes to it through the JSON helper (`native`).
OWNS_STDERR: list[bool] = [False]
EXIT_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a process a closed pipe killed


def _utc(created: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(created, dt.UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object per log line, for log collectors; times are UTC with their offset."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        doc: dict[str, object] = {
            "time": _utc(record.created), "level": record.levelname.lower(),
            "logger": record.name, "message": record.getMessage(),
        }
        doc.update(getattr(record, "fields", {}))
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


class Command(TyperCommand):
    """A command whose help names an argument by its metavar alone, as Click spells it (`INPUT...`,
    `[INPUT]...` when optional): Typer would add the Python type (`<list[str]>`) and braces, which
    say nothing to someone typing file names."""

    def get_params(self, ctx: typer.Context) -> list:  # type: ignore[type-arg, override]
        params = super().get_params(ctx)
        for p in params:
            if isinstance(p, TyperArgument) and p.metavar:
                name = p.metavar if p.required else f"[{p.metavar}]"
                usage = name + ("..." if p.nargs != 1 else "")
                p.display_type_rich = lambda ctx: None  # type: ignore[method-assign]
                p._usage_display_name = lambda usage=usage: usage  # type: ignore[method-assign, misc]
        return params


def json_logs() -> bool:
    """Whether stderr carries only JSON lines (--log-format json): no bars, no plain text."""
    return _FORMAT[0] == LogFormat.json


def say(message: str, *, level: str = "info", **fields: object) -> None:
    """A line for the user on stderr: plain text, or one JSON object under --log-format json."""
    if _FORMAT[0] == LogFormat.json:
        import time

        record = logging.LogRecord("summarize", logging.getLevelName(level.upper()), "", 0, message, None, None)
        record.created = time.time()
        record.__dict__["fields"] = fields
        sys.stderr.write(JsonFormatter().format(record) + "\n")
        sys.stderr.flush()
    else:
        prefix = f"{level}: " if level in ("error", "warning") else ""
        typer.echo(f"summarize: {prefix}{message}", err=True)


def wants_json(argv: list[str], env: dict[str, str] | None = None) -> bool:
    """Whether a command line (or SUMMARIZE_LOG_FORMAT) asks for JSON logs, before options are parsed."""
    for i, arg in enumerate(argv):
        if arg == "--log-format" and i + 1 < len(argv):
            return argv[i + 1] == "json"
        if arg.startswith("--log-format="):
            return arg.split("=", 1)[1] == "json"
    return (os.environ if env is None else env).get("SUMMARIZE_LOG_FORMAT") == "json"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler for whatever `sys.stderr` is when a record is emitted, not when it was made: a
    command run inside another program (a test's CliRunner, a notebook) swaps stderr for a while,
    and a handler holding the swapped stream would write to a closed file afterwards."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def setup_logging(verbose: bool, quiet: bool, log_format: LogFormat = LogFormat.text) -> None:
    """Log to stderr only (stdout may carry data); the library itself adds no handlers."""
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.INFO
    if not verbose:
        # Read when transformers / huggingface_hub are first imported (lazily, later): keep their
        # own bars and advice off stderr so our progress bar and log lines stay readable.
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("HF_HUB_VERBOSITY", "error")
    _FORMAT[0] = log_format
    handler = _StderrHandler()
    if log_format == LogFormat.json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    if log_format == LogFormat.json and OWNS_STDERR[0]:
        from .native import route_native_stderr

        route_native_stderr(level)  # Ray's C++ core, torch's C++ warnings: JSON lines too
    # Python warnings (a library's UserWarning, a DeprecationWarning shown by default) become log
    # records of `py.warnings` at WARNING: --quiet silences them, --log-format json carries them.
    # Off and on again: a second command in one process (tests, a notebook) may find
    # `warnings.showwarning` reset since, which a plain second `captureWarnings(True)` would keep.
    logging.captureWarnings(False)
    logging.captureWarnings(True)
    for noisy in ("transformers", "huggingface_hub", "urllib3", "httpx", "httpx2", "filelock", "ray", "ray.data"):
        logging.getLogger(noisy).setLevel(max(level, logging.ERROR))
    # The page extractors log an ERROR for every page in which they find no tree or no article
    # ("empty HTML tree"): the row already says so (`extract_fallback`, `bad_published`), so their
    # lines show only under --verbose, where they help to see why.
    for per_page in ("trafilatura", "htmldate", "courlan", "justext", "readability"):
        logging.getLogger(per_page).setLevel(logging.DEBUG if verbose else logging.CRITICAL)


def split_list(value: str | None) -> tuple[str, ...]:
    """`en, fr` -> ("en", "fr")."""
    if not value:
        return ()
    return tuple(v.strip() for v in value.split(",") if v.strip())


def fail(exc: SummarizeError) -> typer.Exit:
    """Print an expected error as one line on stderr; the caller raises the returned exit."""
    say(str(exc), level="error", exit_code=exc.exit_code)
    return typer.Exit(exc.exit_code)


def pipe_closed() -> typer.Exit:
    """stdout's reader went away (`| head -1`): end quietly with EXIT_PIPE.

    stdout is pointed at /dev/null first, or Python's final flush would fail again and print
    a traceback-like warning.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return typer.Exit(EXIT_PIPE)


class Progress:
    """A progress bar on a terminal; elsewhere (a log file, a pipe) a log line at intervals.

    A bar redrawn with carriage returns is noise in a log, and breaks JSON logs line by line.
    """

    def __init__(self, total: int | None, *, quiet: bool, every_s: float = 30.0, stream: object = None) -> None:
        import time

        self.stream = stream or sys.stderr
        self.total, self.done, self.every_s = total, 0, every_s
        self.start = self.last = time.monotonic()
        self.bar = None
        self.quiet = quiet
        if not quiet and getattr(self.stream, "isatty", lambda: False)():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="article", file=self.stream, dynamic_ncols=True)

    def update(self, n: int) -> None:
        import time

        self.done += n
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.monotonic()
        if not self.quiet and now - self.last >= self.every_s:
            self.last = now
            rate = self.done / max(now - self.start, 1e-9)
            of = f"/{self.total}" if self.total is not None else ""
            logging.getLogger("summarize.progress").info(
                "progress: %d%s records, %.1f/s", self.done, of, rate,
                extra={"fields": {"done": self.done, "total": self.total, "per_s": round(rate, 2)}})

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
