"""`summarize extract`: the input stage alone, to check what the models will read before a long run."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..errors import SummarizeError
from .common import LogFormat, fail, pipe_closed, say, setup_logging
from .params import (
    COLUMNS,
    DETECTION,
    READING,
    ConfigOpt,
    Inputs,
    LogFormatOpt,
    Quiet,
    Verbose,
    detect_options,
    read_options,
    takes,
)


@takes(COLUMNS, READING, DETECTION)
def extract(
    inputs: Inputs,
    out: Annotated[str, typer.Option("--out", "-o", help="Output .parquet file, or - for JSONL on stdout.", show_default=False)],
    config: ConfigOpt = None,
    log_format: LogFormatOpt = LogFormat.text,
    quiet: Quiet = False,
    verbose: Verbose = False,
    **shared: Any,
) -> None:
    """Read, decode and extract every record, parse headers and dates, detect the language (no model is loaded).

    Writes, per record in input order, what `run` would give the models: id, title, text,
    published_at, lang, lang_score, flags, author, site_name, url and the lines removed
    (`summarize schema` lists the columns). `run` reads its input through the same stage.
    """
    setup_logging(verbose, quiet, log_format)
    try:
        from .. import io
        from ..api import extracted_rows
        from ..detect.detector import make_detector

        ropts = read_options(shared)
        io.check_inputs(inputs)
        io.check_columns(inputs, ropts)
        det = make_detector(detect_options(shared))
        rows = extracted_rows(io.read_records(inputs, ropts), det)
        n = io.write_detections(rows, out, io.new_run_id(), table="extracted")
    except SummarizeError as exc:
        raise fail(exc) from None
    except BrokenPipeError:
        raise pipe_closed() from None
    if not quiet:
        say(f"extracted {n} records; output in {out}", records=n, out=out)
