"""What every command shares besides its options: logging set-up, list parsing, error mapping."""

from __future__ import annotations

import logging
import os
import sys
from enum import Enum

import typer

from ..errors import SummarizeError


class LogFormat(str, Enum):
    text = "text"
    json = "json"


class JsonFormatter(logging.Formatter):
    """One JSON object per log line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        doc = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname.lower(),
            "logger": record.name, "message": record.getMessage(),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def setup_logging(verbose: bool, quiet: bool, log_format: LogFormat = LogFormat.text) -> None:
    """Log to stderr only (stdout may carry data); the library itself adds no handlers."""
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.INFO
    if not verbose:
        # Read when transformers / huggingface_hub are first imported (lazily, later): keep their
        # own bars and advice off stderr so our progress bar and log lines stay readable.
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("HF_HUB_VERBOSITY", "error")
    handler = logging.StreamHandler(sys.stderr)
    if log_format == LogFormat.json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("transformers", "huggingface_hub", "urllib3", "httpx", "httpx2", "filelock", "ray", "ray.data"):
        logging.getLogger(noisy).setLevel(max(level, logging.ERROR))


def split_list(value: str | None) -> tuple[str, ...]:
    """`en, fr` -> ("en", "fr")."""
    if not value:
        return ()
    return tuple(v.strip() for v in value.split(",") if v.strip())


def fail(exc: SummarizeError) -> typer.Exit:
    """Print an expected error as one line on stderr; the caller raises the returned exit."""
    typer.echo(f"summarize: error: {exc}", err=True)
    return typer.Exit(exc.exit_code)
