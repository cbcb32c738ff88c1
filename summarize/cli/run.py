"""`summarize run`, `summarize detect` and `summarize schema`: parse, build options, call the library.

Heavy libraries (torch, transformers, Polars, tqdm) are imported inside the commands so that
`summarize --help` answers at once.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from enum import StrEnum
from typing import Annotated, Any

import typer

from ..errors import SummarizeError, UsageError
from ..options import (
    OUTPUT_NEUTRAL,
    OUTPUT_NEUTRAL_GENERATION,
    DetectOptions,
    EngineName,
    ReadOptions,
    RunOptions,
    TableFormat,
    WriteOptions,
)
from .common import LogFormat, Progress, fail, json_logs, pipe_closed, say, setup_logging, split_list
from .models import ask_download, tell_download
from .params import (
    COLUMNS,
    DETECTION,
    GENERATION,
    READING,
    ROUTING,
    STORAGE,
    ConfigOpt,
    Inputs,
    LogFormatOpt,
    OptionalInputs,
    Quiet,
    Verbose,
    detect_options,
    read_options,
    run_options,
    storage_options,
    takes,
)


class OutFormat(StrEnum):
    tables = "tables"
    wide = "wide"


_DETECT = DetectOptions()
_RUN = RunOptions()
_WRITE = WriteOptions()
log = logging.getLogger(__name__)


@takes(ROUTING, GENERATION, COLUMNS, READING, DETECTION, STORAGE)
def run(
    ctx: typer.Context,
    out: Annotated[str, typer.Option("--out", "-o", metavar="DIR", help="Output folder (articles/, translations/, segments/, rejects/, run.json, _summarize/), or - to stream article rows as JSONL on stdout.", show_default=False)],
    inputs: OptionalInputs = None,
    max_errors: Annotated[int | None, typer.Option("--max-errors", help="Stop after this many failed or rejected records.")] = _RUN.max_errors,
    shard_size: Annotated[int, typer.Option("--shard-size", help="Articles processed and written together (bounds memory).")] = _RUN.shard_size,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an output folder written by summarize (other folders are refused; only our files are deleted).")] = _WRITE.overwrite,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run in --out: skip articles already written. Without INPUT..., the inputs and options recorded in --out/run.json are used; given ones must match them.")] = _WRITE.resume,
    append: Annotated[bool, typer.Option("--append", help="Add this run to the dataset in --out (same schema; a new kept column is added as nullable); earlier runs stay.")] = _WRITE.append,
    allow_duplicate_batch: Annotated[bool, typer.Option("--allow-duplicate-batch", help="With --append: accept an input the dataset already holds (same content).")] = _WRITE.allow_duplicate_batch,
    upsert: Annotated[bool, typer.Option("--upsert", help="With --table-format delta: append, replacing the rows of every article already there (same id) in all tables.")] = _WRITE.upsert,
    table_format: Annotated[TableFormat, typer.Option("--table-format", help="parquet: Parquet part files; delta: each table a Delta Lake table (shards committed as transactions).")] = _WRITE.table_format,
    partition_by: Annotated[str | None, typer.Option("--partition-by", metavar="KEYS", help="Hive-style partition folders: lang, date (UTC date of published_at), or lang,date; unknown values go to lang=und / date=unknown.")] = None,
    out_format: Annotated[OutFormat, typer.Option("--format", help="tables: the Parquet tables; wide: also one flat wide.parquet (a column per field and language).")] = OutFormat.tables,
    engine: Annotated[EngineName, typer.Option("--engine", help="local: this process; ray: a pool of Ray actors (the `ray` extra), on this machine or a cluster.")] = EngineName.local,
    # The Ray engine's own defaults (engines/ray.py imports Ray, so they are not read from there).
    ray_address: Annotated[str | None, typer.Option("--ray-address", metavar="ADDRESS", help="Ray cluster to join (e.g. ray://head:10001 or auto); default: start Ray locally.")] = None,
    workers: Annotated[int, typer.Option("--workers", help="Ray engine: number of model actors.")] = 1,
    gpus_per_worker: Annotated[float, typer.Option("--gpus-per-worker", help="Ray engine: GPUs reserved per actor (0 for CPU nodes).")] = 0.0,
    cpus_per_worker: Annotated[float, typer.Option("--cpus-per-worker", help="Ray engine: CPUs reserved per actor (its torch threads).")] = 1.0,
    ray_wait: Annotated[float, typer.Option("--ray-wait", help="Ray engine: seconds to wait for a worker to start (the first ones, or a lost one's replacement); then the run goes on with those running, or stops if none is.", min=1)] = 300.0,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Download what the run needs without asking (a terminal is asked above 1 GB; a pipeline never is).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the resolved options and the model plan, load no model, write nothing.")] = False,
    verify_lang: Annotated[bool, typer.Option("--verify-lang", help="Check languages given by --lang-col and flag confident disagreement.")] = _DETECT.verify_lang,
    config: ConfigOpt = None,
    log_format: LogFormatOpt = LogFormat.text,
    quiet: Quiet = False,
    verbose: Verbose = False,
    **shared: Any,
) -> None:
    """Summarize every article and translate the summary (and on request title and text) into each --to language.

    Writes Parquet tables to --out. Exit status: 0 when every article is ok or skipped, 1 when an
    article failed or a record was rejected, 2 for usage errors.
    """
    setup_logging(verbose, quiet, log_format)
    try:
        options = run_options(shared, max_errors=max_errors, shard_size=shard_size, verify_lang=verify_lang)
        ropts = read_options(shared)
        write = WriteOptions(overwrite=overwrite, resume=resume, append=append, upsert=upsert,
                             allow_duplicate_batch=allow_duplicate_batch, table_format=table_format,
                             partition_by=split_list(partition_by), wide=out_format == OutFormat.wide)
        from .. import io, validate

        io.configure_storage(storage_options(shared))
        if not inputs:
            if not resume:
                raise UsageError("give the input files (INPUT...); only --resume takes them from the run in --out")
            inputs, options, ropts, write = _recorded(ctx, out, options, ropts, write)
        if dry_run:
            validate.before_run(options, None)
            raise typer.Exit(_dry_run(inputs, options, ropts))
        eng = None
        if engine == EngineName.ray:
            import logging

            from ..engines.ray import RayEngine

            eng = RayEngine(options, workers=workers, gpus_per_worker=gpus_per_worker, cpus_per_worker=cpus_per_worker,
                            address=ray_address, wait_s=ray_wait,
                            log_level=logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING)
        info = _run_with_progress(inputs, out, options, ropts, write, quiet=quiet, engine=eng,
                                  fetch=ray_address is None,  # a cluster resolves its models itself
                                  confirm=None if yes else ask_download)
    except SummarizeError as exc:
        raise fail(exc) from None
    except BrokenPipeError:
        raise pipe_closed() from None
    counts = ", ".join(f"{v} {k}" for k, v in sorted(info.counts.items())) or "no articles"
    where = "stdout" if out == "-" else out
    extra = f", {info.resumed} already done" if info.resumed else ""
    extra += reuse_phrase(info.reuse)
    stopped = f"; interrupted by {info.interrupted}, rerun with --resume to finish" if info.interrupted else ""
    # The counts are this batch's; a dataset that holds more (earlier batches) says so apart.
    if info.dataset_counts and info.dataset_counts != info.counts:
        totals = ", ".join(f"{v} {k}" for k, v in sorted(info.dataset_counts.items()))
        where = f"{where} (dataset totals: {totals})"
    if not quiet or info.exit_code:
        say(f"this batch: {counts}, {info.rejected} rejected{extra}; output in {where}{stopped}",
            counts=info.counts, dataset_counts=info.dataset_counts, rejected=info.rejected, reuse=info.reuse,
            resumed=info.resumed, interrupted=info.interrupted, out=where, exit_code=info.exit_code)
    raise typer.Exit(info.exit_code)


def reuse_phrase(reuse: dict[str, dict[str, int]]) -> str:
    """`; generated/reused: articles 3/5, translations 2/8, segments 4/20` (empty when nothing was made)."""
    parts = [f"{t} {c.get('generated', 0)}/{c.get('reused', 0)}" for t, c in reuse.items()
             if c.get("generated", 0) or c.get("reused", 0)]
    return f"; generated/reused: {', '.join(parts)}" if parts else ""


# Flags that never change what a run writes: `--resume` without inputs takes them from the
# command line, everything else from the run it continues.
_RUN_CONTROL = frozenset({
    "max_errors", "shard_size", "resume", "engine", "ray_address", "ray_wait", "workers", "gpus_per_worker", "cpus_per_worker",
    "yes", "dry_run", "config", "log_format", "quiet", "verbose", "storage_option",
    *OUTPUT_NEUTRAL, *OUTPUT_NEUTRAL_GENERATION,
})  # fmt: skip


def _recorded(ctx: typer.Context, out: str, options: RunOptions, ropts: ReadOptions,
              write: WriteOptions) -> tuple[list[str], RunOptions, ReadOptions, WriteOptions]:
    """`--resume` without inputs: the inputs, options and write options recorded in `out/run.json`.

    Flags given that change the output (not only how fast or where the run works) are taken as
    given and compared with the run's by `summarize.run`, which refuses a difference as it does
    for a full command line."""
    from ..runs import recorded_run

    rec = recorded_run(out)
    # Typer vendors its own Click, so the source is told by name; a config file's value counts as given.
    given = {name for name in ctx.params if getattr(ctx.get_parameter_source(name), "name", "DEFAULT") != "DEFAULT"}
    changing = sorted(given - _RUN_CONTROL - {"out", "inputs"})
    if changing:
        log.info("--resume: the inputs come from %s/run.json; options given (%s) must match the run's",
                 out, ", ".join(changing))
        return rec.inputs, options, ropts, write
    neutral = {k: getattr(options, k) for k in OUTPUT_NEUTRAL if k in given}
    gen = {k: getattr(options.summary, k) for k in OUTPUT_NEUTRAL_GENERATION if k in given}
    merged = replace(rec.options, **neutral,
                     summary=replace(rec.options.summary, **gen), translation=replace(rec.options.translation, **gen))
    return rec.inputs, merged, rec.read_options, replace(rec.write, resume=True)


def _run_with_progress(inputs: list[str], out: str, options: RunOptions, ropts: ReadOptions, write: WriteOptions, *,
                       quiet: bool, engine: Any = None, fetch: bool = True, confirm: Any = None) -> Any:
    from ..api import run as run_api
    from ..io import count_records

    bar = Progress(count_records(inputs), quiet=quiet)
    try:
        return run_api(inputs, out, options, ropts, write=write, progress=bar.update, engine=engine, fetch=fetch,
                       confirm=confirm, notify=None if quiet else tell_download,
                       fetch_progress=not quiet and not json_logs())
    finally:
        bar.close()


def _dry_run(inputs: list[str], options: RunOptions, ropts: ReadOptions) -> int:
    """Print the resolved options and, per task, which model serves which languages; the exit
    code is 2 when the plan leaves work unserved (those rows would be errors in a real run)."""
    import json

    from .. import io
    from ..models.routing import plan_inputs

    io.check_inputs(inputs)
    io.check_columns(inputs, ropts)
    doc: dict[str, Any] = {"options": options.to_dict(), "read_options": ropts.__dict__}
    plan = plan_inputs(inputs, options, ropts)
    doc["plan"] = plan.to_dict()
    typer.echo(json.dumps(doc, indent=2, default=str))
    if plan.unserved:
        say(f"the plan leaves {len(plan.unserved)} task(s) unserved (see plan.unserved)", level="error", exit_code=2)
        return 2
    return 0


@takes(COLUMNS, DETECTION)
def detect(
    inputs: Inputs,
    out: Annotated[str, typer.Option("--out", "-o", metavar="FILE", help="Output .parquet file, or - for JSONL on stdout.", show_default=False)],
    config: ConfigOpt = None,
    log_format: LogFormatOpt = LogFormat.text,
    quiet: Quiet = False,
    verbose: Verbose = False,
    **shared: Any,
) -> None:
    """Detect the language of every record (no model is loaded).

    Writes id, lang, lang_score, lang_mix, detector, status and error per record, in input order.
    """
    setup_logging(verbose, quiet, log_format)
    try:
        from .. import io
        from ..api import detection_rows
        from ..detect.detector import make_detector

        det = make_detector(detect_options(shared))
        rows = detection_rows(io.read_records(inputs, read_options(shared)), det)
        run_id = io.new_run_id()
        n = io.write_detections(rows, out, run_id)
    except SummarizeError as exc:
        raise fail(exc) from None
    except BrokenPipeError:
        raise pipe_closed() from None
    if not quiet:
        say(f"detected {n} records; output in {out}", records=n, out=out)


def schema(
    as_json: Annotated[bool, typer.Option("--json", help="Print the schema as JSON.")] = False,
) -> None:
    """Print every output table's columns, Arrow types, nullability and meanings, the partition
    columns, wide.parquet and the detect output."""
    import json

    from ..schema import schema_dict, schema_markdown

    typer.echo(json.dumps(schema_dict(), indent=2) if as_json else schema_markdown())


@takes(STORAGE)
def compact(
    out: Annotated[str, typer.Argument(help="A dataset folder (or object-store URL, s3://...) written by `summarize run`.", metavar="OUT", show_default=False)],
    target_mb: Annotated[int, typer.Option("--target-mb", help="Size of the merged files, in MB (one file per partition folder below it).")] = 128,
    vacuum_hours: Annotated[float, typer.Option("--vacuum-hours", help="Delta: delete data files that no table version of the last this many hours needs (time travel further back stops working; 0 keeps only the latest version). The log is checkpointed and entries past the log retention are removed.")] = 168.0,
    memory_rows: Annotated[int | None, typer.Option("--memory-rows", help="Most entries the reuse memory keeps (the newest; default $SUMMARIZE_MEMORY_ROWS or 1,000,000).")] = None,
    memory_days: Annotated[float | None, typer.Option("--memory-days", help="Drop reuse-memory entries older than this many days (default: keep them).")] = None,
    log_format: LogFormatOpt = LogFormat.text,
    quiet: Quiet = False,
    verbose: Verbose = False,
    **shared: Any,
) -> None:
    """Merge a dataset's small files into larger ones (Delta: optimize, checkpoint and vacuum) and
    print the files and bytes on disk before and after. Holds the dataset's lock; the rows stay the same."""
    setup_logging(verbose, quiet, log_format)
    try:
        from .. import io
        from ..io.compact import compact as compact_dataset

        io.configure_storage(storage_options(shared))
        if vacuum_hours < 0:
            raise UsageError("--vacuum-hours must be >= 0")
        result = compact_dataset(io.as_path(out), target_mb * 2**20, vacuum_hours, memory_rows=memory_rows,
                                 memory_days=memory_days)
    except SummarizeError as exc:
        raise fail(exc) from None
    before, after = sum(result.before.values()), sum(result.after.values())
    mb = (sum(result.bytes_before.values()) / 1e6, sum(result.bytes_after.values()) / 1e6)
    mem = result.memory
    memory = (f"; reuse memory {mem.files_before} -> {mem.files_after} files, {mem.rows_before} -> {mem.rows_after} "
              "entries") if mem else ""
    vacuumed = f"; vacuum removed {sum(result.vacuumed.values())} files older than {vacuum_hours:g} h" if result.vacuumed else ""
    say(f"{before} files ({mb[0]:.2f} MB) before, {after} ({mb[1]:.2f} MB) after{vacuumed}; "
        + ", ".join(f"{t} {result.before[t]} -> {result.after.get(t, 0)}" for t in result.before) + memory,
        before=result.before, after=result.after, bytes_before=result.bytes_before, bytes_after=result.bytes_after,
        vacuumed=result.vacuumed, out=out, memory=mem.__dict__ if mem else None)
