"""The Python API: run a whole job (inputs -> output folder) or summarize articles in memory.

The CLI is a thin layer over `run`. From a notebook or an Airflow task:

    import summarize
    info = summarize.run(["articles.jsonl"], "out/", to=["en", "fr"])
    print(info.counts)
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from . import io, validate
from .engines.local import Engine, LocalEngine
from .errors import UsageError
from .models import preflight
from .models.routing import detection_of
from .options import ReadOptions, RunOptions, TableFormat, WriteOptions, choice
from .pipeline import Pipeline
from .reuse import Memory, add_counts
from .reuse import counts as reuse_counts
from .runs import model_fingerprints, output_options
from .schema import ERROR, SCHEMA_VERSION, Article, Reject
from .text import content_hash
from .version import __version__

if TYPE_CHECKING:
    from .models.downloads import DownloadPlan

log = logging.getLogger(__name__)


@dataclass
class RunInfo:
    """What a finished (or stopped) run did; also written to `run.json`."""

    run_id: str
    out_dir: str
    started: str
    finished: str | None = None
    inputs: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    languages: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    models: dict[str, Any] = field(default_factory=dict)
    stopped_early: str | None = None
    interrupted: str | None = None
    resumed: int = 0
    duplicates: int = 0
    dataset_counts: dict[str, int] = field(default_factory=dict)  # the whole dataset's articles by status
    load_seconds: float = 0.0
    first_shard_seconds: float | None = None
    reuse: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """130/143 when interrupted by SIGINT/SIGTERM with work left; else 0 when every article
        of the output (a resumed run's earlier ones included) is ok or skipped and nothing was
        rejected; else 1. A signal after the last article does not count as an interruption."""
        if self.interrupted:
            return 143 if self.interrupted == "SIGTERM" else 130
        return 1 if self.counts.get(ERROR, 0) or self.rejected or self.stopped_early else 0


def shards(records: Iterable[Article | Reject], size: int) -> Iterator[tuple[list[Article], list[Reject]]]:
    """Group a record stream into shards of at most `size` articles (rejects ride along)."""
    arts: list[Article] = []
    rejects: list[Reject] = []
    for rec in records:
        if isinstance(rec, Reject):
            rejects.append(rec)
            log.warning("rejected %s:%s: %s", rec.source, rec.line, rec.error)
        else:
            arts.append(rec)
        if len(arts) >= size:
            yield arts, rejects
            arts, rejects = [], []
    if arts or rejects:
        yield arts, rejects


def skip_done(records: Iterable[Article | Reject], existing: io.Existing | None,
              prior_rejects: Counter[str] | None = None) -> Iterator[Article | Reject]:
    """Drop records a previous run of the same job already wrote (resume); the fatal rejects it
    wrote are counted in `prior_rejects["fatal"]`, so the exit code follows the whole output."""
    if existing is None:
        yield from records
        return
    left = dict(existing.articles)
    for rec in records:
        if isinstance(rec, Reject):
            if (_alias(rec.source, existing.aliases), rec.line) in existing.rejects:
                if prior_rejects is not None and rec.fatal:
                    prior_rejects["fatal"] += 1
                continue
        else:
            key = (rec.id, content_hash(rec.title, rec.text))
            if left.get(key, 0) > 0:
                left[key] -= 1
                continue
        yield rec


def _alias(source: str, aliases: dict[str, str]) -> str:
    """`source` as the first run spelled its input (same content, another path spelling)."""
    for now, then in aliases.items():
        if source == now or source.startswith(now.rstrip("/") + "/"):
            return then + source[len(now):]
    return source


def detection_rows(records: Iterable[Article | Reject], detector: Any) -> Iterator[dict[str, Any]]:
    """One row per record for `summarize detect` (the columns of `schema.FILES["detections"]`), in input order.

    An article's language is taken as `run` takes it (a given `--lang-col` value, normalised and
    trusted, else the detector's verdict); a record that could not be read gives an error row.
    """
    for rec in records:
        if isinstance(rec, Reject):
            yield {"id": None, "lang": "und", "lang_score": 0.0, "lang_mix": [], "detector": detector.name,
                   "status": "error", "error": f"{rec.source}:{rec.line}: {rec.error}"}
            continue
        d = detection_of(rec, detector)
        yield {"id": rec.id, "lang": d.lang, "lang_score": d.score,
               "lang_mix": [{"lang": lang, "share": share} for lang, share in d.mix], "detector": d.detector,
               "status": "ok", "error": d.reason if d.lang == "und" else None}


def extracted_rows(records: Iterable[Article | Reject], detector: Any) -> Iterator[dict[str, Any]]:
    """One row per record for `summarize extract` (the columns of `schema.FILES["extracted"]`), in
    input order: the article exactly as `run` reads it (the same `io.read_records`, the same
    language as `routing.detection_of` gives the pipeline, the same published date and flags)."""
    for rec in records:
        yield io.extracted_reject_row(rec) if isinstance(rec, Reject) else io.extracted_row(rec, detection_of(rec, detector))


class _Ahead:
    """Shards read one ahead, so that a signal during the last shard is known to stop nothing."""

    def __init__(self, shards: Iterable[tuple[list[Article], list[Reject]]]) -> None:
        self._it = iter(shards)
        self._next = next(self._it, None)
        self.yielded = 0

    def __iter__(self) -> Iterator[tuple[list[Article], list[Reject]]]:
        while self._next is not None:
            current, self._next = self._next, next(self._it, None)
            self.yielded += 1
            yield current

    @property
    def exhausted(self) -> bool:
        return self._next is None


class _Signals:
    """SIGINT/SIGTERM: the first finishes the shard in flight and stops; a second drops it."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signum
        log.warning("%s received: finishing the shard in flight, then stopping (again to stop now)",
                    signal.Signals(signum).name)

    def __exit__(self, *_exc: object) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def run(
    inputs: Sequence[str | Path],
    out: str | Path,
    options: RunOptions | None = None,
    read_options: ReadOptions | None = None,
    *,
    write: WriteOptions | None = None,
    overwrite: bool = False,
    resume: bool = False,
    partition_by: Sequence[str] = (),
    wide: bool = False,
    append: bool = False,
    allow_duplicate_batch: bool = False,
    upsert: bool = False,
    table_format: str = "parquet",
    pipeline: Pipeline | None = None,
    engine: Engine | None = None,
    progress: Callable[[int], None] | None = None,
    stdin: IO[bytes] | None = None,
    storage_options: dict[str, str] | None = None,
    fetch: bool = True,
    confirm: Callable[[DownloadPlan], bool] | None = None,
    notify: Callable[[str, DownloadPlan], None] | None = None,
    fetch_progress: bool = False,
    **option_fields: Any,
) -> RunInfo:
    """Run a whole job: read `inputs`, summarize and translate, write the tables to `out`.

    Options come as a `RunOptions` or as its field names (`to=["en"]`, `summary_model=...`).
    How the output folder is written comes as a `WriteOptions` or as its field names
    (`overwrite=True`, `table_format="delta"`, ...). `out` is a folder, or `-` to stream article
    rows as JSONL on stdout. Returns the `RunInfo` also written to `out/run.json`. SIGINT/SIGTERM
    stop after the shard in flight; the interruption is recorded and `RunInfo.exit_code` is
    130/143. `append` adds this run to an existing dataset; `table_format="delta"` writes Delta
    Lake tables, where `upsert` replaces the rows of articles already there (same id).
    `storage_options` (object_store keys such as `aws_endpoint_url`) apply to `s3://`-style
    inputs and `out`. Options that exclude each other are refused (UsageError) as the CLI
    refuses them: both go through `validate.before_run`.

    Before any work the models the run needs are learned from a sample of the input and fetched
    (`preflight.prepare`; `fetch=False` leaves every fetch to the model loads): `confirm` is
    asked before a download over `preflight.CONFIRM_BYTES`, `notify` gets the lines that say
    what is downloaded (default: the log), `fetch_progress` shows the Hub client's bars.
    """
    if storage_options is not None:
        io.configure_storage(storage_options)
    if options is None:
        for key in ("to", "translate"):
            if key in option_fields and not isinstance(option_fields[key], str):
                option_fields[key] = tuple(option_fields[key])
            elif key in option_fields:
                option_fields[key] = tuple(v.strip() for v in option_fields[key].split(","))
        options = RunOptions(**option_fields)
    elif option_fields:
        raise UsageError(f"give the run options as `options` or as keywords, not both ({', '.join(option_fields)})")
    flags = WriteOptions(overwrite=overwrite, resume=resume, append=append, upsert=upsert,
                         allow_duplicate_batch=allow_duplicate_batch, table_format=choice(TableFormat, table_format, "--table-format"),
                         partition_by=tuple(partition_by), wide=wide)
    if write is None:
        write = flags
    elif flags != WriteOptions():
        raise UsageError("give the write options as `write` or as keywords, not both")
    read_options = read_options or ReadOptions()
    names = [str(i) for i in inputs]
    # Everything that can be refused is checked before the output folder is touched.
    validate.before_run(options, str(out), write)
    io.check_inputs(names)
    io.check_columns(names, read_options)
    kept = io.kept_columns(names, read_options)
    partition_by = write.partition_by
    to_stdout = str(out) == io.STDIN
    # Tables are keyed by article id. A batch added to a dataset (or read with `last`) has its ids
    # settled before any model loads; any other run rejects a duplicate as it reads it.
    scan = io.prepare(names, read_options, keyed=not to_stdout, adds=write.adds)
    out_dir = io.as_path(str(out))
    if not to_stdout and (write.adds or write.resume):
        kept = io.adopt_kept(kept, io.kept_types(out_dir))
    fingerprints = model_fingerprints(options)
    ohash = options.output_hash(fingerprints)
    run_id = io.new_run_id()
    ident: dict[str, Any] = {}
    plan = None
    if not to_stdout:
        ident = io.identity(names, output_options(options, read_options, partition_by, fingerprints))
        mode: dict[str, Any] = {"append": write.adds, "allow_duplicate": write.allow_duplicate_batch,
                                "table_format": write.table_format}
        plan = io.check_out(out_dir, overwrite=write.overwrite, resume=write.resume, ident=ident,
                            declared=io.declared(kept, partition_by), **mode)
        if plan.action == "append" and scan is not None:
            io.check_new_ids(out_dir, scan, write.table_format, upsert=write.upsert)
    hashes = {i["name"]: i["blake2b"] for i in ident.get("inputs", []) if i.get("blake2b")}
    if fetch and pipeline is None:
        preflight.prepare(names, options, read_options, confirm=confirm, notify=notify, progress=fetch_progress)
    eng = engine or LocalEngine(pipeline or Pipeline(options))
    info = RunInfo(run_id=run_id, out_dir=str(out), started=_now(), inputs=[io.escape_name(n) for n in names])
    meta = io.file_metadata(run_id, "", {"options": json.dumps(options.to_dict(), default=str), "options_hash": ohash})
    declared = io.declared(kept, partition_by)
    dataset: io.Dataset | None = None
    writer: Any  # io.RunWriter, io.JsonlWriter or io.delta.DeltaWriter (same write/finish/written/commits)
    if to_stdout:
        writer = io.JsonlWriter(run_id, ohash, kept)
    else:
        assert plan is not None
        dataset = io.Dataset.open(plan, run_id, overwrite=write.overwrite, resume=write.resume, ident=ident,
                                  declared=declared, **mode)
        try:
            if write.table_format == TableFormat.delta:
                from .io.delta import DeltaWriter

                delta = DeltaWriter(out_dir, run_id, ohash, kept, meta, partition_by, hashes, upsert=write.upsert,
                                    batch=io.batch_runs(out_dir, ident) if write.resume else set())
                if dataset.existing is not None:
                    dataset.existing = delta.committed(dataset.existing)
                writer = delta
            else:
                writer = io.RunWriter(out_dir, run_id, ohash, kept, meta, partition_by, hashes)
                bind = getattr(eng, "bind_writer", None)
                if bind is not None:  # the engine's workers write the parts; this process only commits them
                    writer = bind(writer)
        except BaseException:
            dataset.rollback()
            raise
    existing = dataset.existing if dataset else None
    memory = _use_memory(eng, out_dir if dataset else None, options, run_id)
    status: Counter[str] = Counter()
    langs: Counter[str] = Counter()
    t0 = time.perf_counter()
    info.resumed = sum(existing.articles.values()) if existing else 0
    prior: Counter[str] = Counter()
    made: dict[str, dict[str, int]] = {}  # generated/reused rows per table (`reuse.counts`)

    def manifest(state: str, *, latest: bool) -> None:
        info.reuse = {t: dict(c) for t, c in made.items()}
        add_counts(info.reuse, getattr(eng, "reuse", {}))  # counted on the workers (Ray)
        if dataset is None:
            info.counts, info.languages = dict(status), dict(langs)
            return
        # This batch's articles (a resumed batch: with those its earlier runs wrote); the dataset's
        # totals apart, labelled as such.
        batch = io.batch_runs(out_dir, ident) | {run_id} if existing else None
        info.counts, info.languages = io.totals(out_dir, batch) if existing else (dict(status), dict(langs))
        info.dataset_counts = io.totals(out_dir)[0] if writer.commits or existing else {}
        info.models = {**io.read_manifest(out_dir).get("models", {}), **eng.models_used} if existing else eng.models_used
        info.load_seconds = round(sum(m.get("load_seconds", 0.0) for m in eng.models_used.values()), 3)
        doc = {
            "schema_version": SCHEMA_VERSION, "tool": "summarize", "tool_version": __version__, "state": state,
            **info.__dict__, "seconds": round(time.perf_counter() - t0, 3),
            "options": options.to_dict(), "read_options": read_options.__dict__, "write": write.to_dict(),
            "partition_by": list(partition_by),
            "kept": declared["kept"], "options_hash": ohash, "fingerprints": fingerprints, "identity": ident, "rows_written": writer.written,
            "commits": writer.commits, "table_format": write.table_format, "append": write.adds,
            "upsert": write.upsert, **({"delta_versions": writer.versions} if write.table_format == TableFormat.delta else {}),
        }
        try:
            dataset.write_manifest(doc, latest=latest)
        except OSError as exc:
            # While a failure is on its way up, its own one sentence says what went wrong (a disk
            # turned read-only fails the manifest too): this is then a detail, not a second error.
            level = logging.WARNING if sys.exc_info()[0] is not None else logging.ERROR
            log.log(level, "cannot write the manifest of %s: %s", out_dir, exc)

    manifest("running", latest=False)
    untitled = 0
    rolled_back = False
    try:
        with _Signals() as signals:
            records = skip_done(io.read_records(names, read_options, stdin=stdin, keyed=not to_stdout,
                                                superseded=scan.superseded() if scan else frozenset()), existing, prior)
            ahead = _Ahead(shards(records, options.shard_size))
            for done, (results, rejects) in enumerate(eng.process(ahead), start=1):
                if dataset is not None:
                    dataset.lock.check()  # a run whose lock was taken over must not commit more
                if memory is not None and dataset is not None:  # before the commit: see io/memory.py
                    io.memory.append(out_dir, f"{run_id}-{done:06d}", memory.drain(), run_id)
                writer.write(results, rejects)
                add_counts(made, reuse_counts(results))
                if info.first_shard_seconds is None:  # time to the first output a reader can use
                    info.first_shard_seconds = round(time.perf_counter() - t0, 3)
                if writer.commits == 1:
                    manifest("running", latest=True)
                info.rejected += sum(1 for r in rejects if r.fatal)
                info.duplicates += sum(1 for r in rejects if not r.fatal)
                for r in results:
                    status[r.status] += 1
                    langs[r.detection.lang] += 1
                    # (Ray sends back tallies, not articles: no count there)
                    untitled += bool(getattr(r, "article", None) is not None and not r.article.title)
                if progress:
                    progress(len(results) + len(rejects))
                if options.max_errors is not None and status[ERROR] + info.rejected >= options.max_errors:
                    info.stopped_early = f"stopped after {status[ERROR] + info.rejected} errors (--max-errors {options.max_errors})"
                    log.error(info.stopped_early)
                    break
                if signals.received is not None:
                    if ahead.exhausted and done == ahead.yielded:
                        log.info("%s received after the last article: the run is complete", signal.Signals(signals.received).name)
                        continue
                    info.interrupted = signal.Signals(signals.received).name
                    break
    except KeyboardInterrupt:
        info.interrupted = info.interrupted or "SIGINT"
    finally:
        info.finished = _now()
        info.rejected += prior["fatal"]
        failed = sys.exc_info()[0] is not None and info.interrupted is None
        if dataset is not None and writer.commits == 0 and (failed or info.interrupted):
            # Nothing was committed: leave the folder as it was, runnable again without --overwrite.
            dataset.rollback()
            rolled_back = True
        else:
            try:
                if not to_stdout and not failed and info.interrupted is None:
                    writer.finish()
                    if write.table_format == TableFormat.parquet:  # few files per batch, whatever the shard size
                        io.merge_batch(out_dir, run_id, io.batch_runs(out_dir, ident) | {run_id}, meta)
                elif dataset is not None and write.table_format == TableFormat.parquet and writer.commits:
                    io.show_held(out_dir, run_id, ident, meta)  # an interrupted run on an object store
                state = "failed" if failed else "interrupted" if info.interrupted else "stopped" if info.stopped_early else "done"
                manifest(state, latest=True)
            finally:
                if dataset is not None:
                    dataset.release()
    if "title" in options.translate and untitled:
        # Not an error (a text file may have no title line), but a user who asked for title
        # translations should not have to find out from a short translations table.
        log.warning("--translate title: %d article(s) had no title, so they have no title translations "
                    "(a .txt file's title is its first line when a blank line follows it; a .md file's is "
                    "its leading '# ' heading)", untitled)
    if write.wide and dataset is not None and info.interrupted is None and not rolled_back:
        io.write_wide(out_dir, kept, meta)
    return info


def _use_memory(eng: Any, out_dir: Any, options: RunOptions, run_id: str) -> Memory | None:
    """Give the engine the reuse memory of `out_dir` (None for stdout: within the run only); the
    local engine's memory is returned for the caller to store, an engine that stores its own
    (Ray's workers) gets the folder."""
    bind = getattr(eng, "bind_memory", None)
    if bind is not None:
        bind(out_dir, run_id, enabled=options.reuse)
        return None
    pipeline = getattr(eng, "pipeline", None)
    if pipeline is None:
        return None
    stored = io.memory.load(out_dir) if out_dir is not None and options.reuse else {}
    memory: Memory = pipeline.use_memory(stored, enabled=options.reuse)
    return memory


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
