"""The `summarize eval` and `summarize report` commands, added to the main app by `register(app)`.

Only parsing and calling the library here; scoring lives in `evaluate.py`, the page in `report.py`,
files in `io/evalfiles.py`. Heavy libraries are imported inside the commands so `--help` stays instant.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..errors import SummarizeError

OutDir = Annotated[
    Path,
    typer.Argument(help="Output folder of `summarize run` (holds run.json).", exists=True, file_okay=False, dir_okay=True, metavar="OUT",
                   show_default=False),
]


def _fail(exc: SummarizeError) -> typer.Exit:
    typer.echo(f"summarize: error: {exc}", err=True)
    return typer.Exit(exc.exit_code)


def eval_command(
    out: OutDir,
    references: Annotated[
        Path,
        typer.Option("--references", "-r", exists=True, dir_okay=False, show_default=False,
                     help="Reference file (.jsonl, .csv, .parquet) keyed by article id: a summary column, wide columns "
                          "such as summary_de / title_fr, or a long table id, field, lang, text."),
    ],
    ref_summary_col: Annotated[
        str | None,
        typer.Option("--ref-summary-col", help="Column of the reference summaries (in the article's language). [default: summary]",
                     show_default=False),
    ] = None,
    ref_id_col: Annotated[str, typer.Option("--ref-id-col", help="Column of the article ids in the reference file.")] = "id",
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as JSON instead of a table.")] = False,
    parquet: Annotated[
        Path | None,
        typer.Option("--parquet", dir_okay=False, show_default=False,
                     help="Where to write the per-article scores. [default: OUT/eval.parquet]"),
    ] = None,
) -> None:
    """Score a run's summaries and translations against references, per language and overall.

    ROUGE-1/2/L F1 with XL-Sum's multilingual tokenization and stemming (multilingual-rouge), chrF++ and
    BLEU with sacrebleu and a tokenizer suited to each language; counts of outputs scored and missing.
    Writes per-article scores to OUT/eval.parquet and the table to OUT/eval.json (shown by `summarize report`).
    """
    try:
        from ..quality.evalfiles import read_hypotheses, read_references, read_run_json, write_eval
        from ..quality.evaluate import evaluate, format_table, result_json

        run_id = read_run_json(out).get("run_id")
        result = evaluate(read_hypotheses(out), read_references(references, ref_summary_col, ref_id_col))
        target, _ = write_eval(result, parquet or out / "eval.parquet", run_id)
    except SummarizeError as exc:
        raise _fail(exc) from None
    data = {"run_id": run_id, **result_json(result)}
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False) if as_json else format_table(result))
    typer.echo(f"summarize: per-article scores in {target}", err=True)


def report_command(
    out: OutDir,
    html: Annotated[Path, typer.Option("--html", dir_okay=False, help="The HTML page to write.")] = Path("report.html"),
    eval_file: Annotated[
        Path | None,
        typer.Option("--eval", exists=True, dir_okay=False, show_default=False,
                     help="Scores to show: eval.json / `summarize eval --json` output, or an eval.parquet. "
                          "[default: OUT/eval.json when it exists]"),
    ] = None,
) -> None:
    """Write one self-contained HTML page (no network needed) that shows a run at a glance.

    Run summary, articles per language and status, flags (faithfulness per language), distributions of
    summary length and confidence per language, durations and throughput, models and licences, and the
    eval scores when given.
    """
    try:
        from ..quality.report import write_report

        path = write_report(out, html, eval_file)
    except SummarizeError as exc:
        raise _fail(exc) from None
    typer.echo(f"summarize: report in {path}", err=True)


def register(app: typer.Typer) -> None:
    """Add the `eval` and `report` commands to the main `summarize` app."""
    app.command("eval")(eval_command)
    app.command("report")(report_command)
