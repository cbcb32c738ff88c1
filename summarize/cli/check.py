"""`summarize check DIR`: parse, call `io.check.check_dataset`, print each violation, set the exit code."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..errors import SummarizeError
from .common import LogFormat, fail, say, setup_logging
from .params import STORAGE, LogFormatOpt, Quiet, Verbose, storage_options, takes


@takes(STORAGE)
def check(
    out: Annotated[str, typer.Argument(help="A dataset folder (or object-store URL, s3://...) written by `summarize run`.", show_default=False)],
    log_format: LogFormatOpt = LogFormat.text,
    quiet: Quiet = False,
    verbose: Verbose = False,
    **shared: Any,
) -> None:
    """Check a dataset's contract: unique keys, every translation and segment belonging to the
    current version of its article, the declared schema, commits (every listed file there, no
    uncommitted file) and the manifest against the tables. Prints each violation; exit status 1
    when there is one, 0 when there is none, 2 when DIR is not a dataset."""
    setup_logging(verbose, quiet, log_format)
    try:
        from .. import io
        from ..io.check import check_dataset

        io.configure_storage(storage_options(shared))
        found = check_dataset(io.as_path(out))
    except SummarizeError as exc:
        raise fail(exc) from None
    for v in found:
        say(str(v), level="error", rule=v.rule, table=v.table, detail=v.detail)
    if found or not quiet:
        say(f"{len(found)} violation(s) in {out}" if found else f"{out}: no violations",
            violations=len(found), out=out, exit_code=1 if found else 0)
    raise typer.Exit(1 if found else 0)
