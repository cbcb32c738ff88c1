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
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from . import __version__, io
from .options import ReadOptions, RunOptions
from .pipeline import Pipeline
from .routing import detection_of
from .schema import ERROR, SCHEMA_VERSION, Article, ArticleResult, Reject
from .text import content_hash

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
    load_seconds: float = 0.0
    first_shard_seconds: float | None = None

    @property
    def exit_code(self) -> int:
        """130/143 when interrupted by SIGINT/SIGTERM; else 0 when every article is ok or
        skipped and nothing was rejected; else 1."""
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


def skip_done(records: Iterable[Article | Reject], existing: io.Existing | None) -> Iterator[Article | Reject]:
    """Drop records a previous run of the same job already wrote (resume)."""
    if existing is None:
        yield from records
        return
    left = dict(existing.articles)
    for rec in records:
        if isinstance(rec, Reject):
            if (rec.source, rec.line) in existing.rejects:
                continue
        else:
            key = (rec.id, content_hash(rec.title, rec.text))
            if left.get(key, 0) > 0:
                left[key] -= 1
                continue
        yield rec


def detection_rows(records: Iterable[Article | Reject], detector: Any) -> Iterator[dict[str, Any]]:
    """One row per record for `summarize detect` (columns of `io.DETECT_SCHEMA`), in input order.

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


class Engine(Protocol):
    """Turns shards of articles into results, in order; the local engine or Ray.

    Everything else about a run (reading, resume, writing, signals, the manifest) is shared, so
    both engines write the same tables with the same guarantees.
    """

    models_used: dict[str, dict[str, Any]]

    def process(self, shards: Iterable[tuple[list[Article], list[Reject]]]) -> Iterator[tuple[list[ArticleResult], list[Reject]]]:
        """Results for each shard, in input order, with the shard's rejects passed through."""
        ...


class LocalEngine:
    """This process: one `Pipeline`, shard after shard."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    @property
    def models_used(self) -> dict[str, dict[str, Any]]:
        return self.pipeline.models_used

    def process(self, shards: Iterable[tuple[list[Article], list[Reject]]]) -> Iterator[tuple[list[ArticleResult], list[Reject]]]:
        for arts, rejects in shards:
            yield (self.pipeline.process(arts) if arts else []), rejects


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
    overwrite: bool = False,
    resume: bool = False,
    partition_by: Sequence[str] = (),
    wide: bool = False,
    pipeline: Pipeline | None = None,
    engine: Engine | None = None,
    progress: Callable[[int], None] | None = None,
    stdin: IO[bytes] | None = None,
    **option_fields: Any,
) -> RunInfo:
    """Run a whole job: read `inputs`, summarize and translate, write the tables to `out`.

    Options come as a `RunOptions` or as its field names (`to=["en"]`, `summary_model=...`).
    `out` is a folder, or `-` to stream article rows as JSONL on stdout. Returns the `RunInfo`
    also written to `out/run.json`. SIGINT/SIGTERM stop after the shard in flight; the
    interruption is recorded and `RunInfo.exit_code` is 130/143.
    """
    if options is None:
        for key in ("to", "translate"):
            if key in option_fields and not isinstance(option_fields[key], str):
                option_fields[key] = tuple(option_fields[key])
            elif key in option_fields:
                option_fields[key] = tuple(v.strip() for v in option_fields[key].split(","))
        options = RunOptions(**option_fields)
    read_options = read_options or ReadOptions()
    names = [str(i) for i in inputs]
    io.check_inputs(names)
    io.check_columns(names, read_options)
    to_stdout = str(out) == io.STDIN
    out_dir = Path(str(out))
    ohash = options.output_hash()
    existing = None if to_stdout else io.prepare_out(out_dir, overwrite=overwrite, resume=resume, options_hash=ohash)
    eng = engine or LocalEngine(pipeline or Pipeline(options))
    run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    info = RunInfo(run_id=run_id, out_dir=str(out), started=_now(), inputs=names)
    meta = {
        "schema_version": SCHEMA_VERSION, "run_id": run_id, "tool": "summarize", "tool_version": __version__,
        "options": json.dumps(options.to_dict(), default=str), "options_hash": ohash,
    }
    writer: io.RunWriter | io.JsonlWriter
    if to_stdout:
        writer = io.JsonlWriter(run_id, ohash, read_options.keep_cols)
    else:
        writer = io.RunWriter(out_dir, run_id, ohash, read_options.keep_cols, meta, tuple(partition_by))
    status: Counter[str] = Counter()
    langs: Counter[str] = Counter()
    t0 = time.perf_counter()
    info.resumed = sum(existing.articles.values()) if existing else 0

    def manifest(state: str) -> None:
        if to_stdout:
            return
        info.counts, info.languages = io.totals(out_dir) if existing else (dict(status), dict(langs))
        info.models = {**io.read_manifest(out_dir).get("models", {}), **eng.models_used} if existing else eng.models_used
        info.load_seconds = round(sum(m.get("load_seconds", 0.0) for m in eng.models_used.values()), 3)
        doc = {
            "schema_version": SCHEMA_VERSION, "tool": "summarize", "tool_version": __version__, "state": state,
            **info.__dict__, "seconds": round(time.perf_counter() - t0, 3),
            "options": options.to_dict(), "read_options": read_options.__dict__, "partition_by": list(partition_by),
            "options_hash": ohash, "rows_written": writer.written,
        }
        try:
            io.write_json(out_dir / "run.json", doc)
        except OSError as exc:
            log.error("cannot write %s: %s", out_dir / "run.json", exc)

    manifest("running")
    try:
        with _Signals() as signals:
            records = skip_done(io.read_records(names, read_options, stdin=stdin), existing)
            for results, rejects in eng.process(shards(records, options.shard_size)):
                writer.write(results, rejects)
                if info.first_shard_seconds is None:  # time to the first output a reader can use
                    info.first_shard_seconds = round(time.perf_counter() - t0, 3)
                info.rejected += sum(1 for r in rejects if r.fatal)
                info.duplicates += sum(1 for r in rejects if not r.fatal)
                for r in results:
                    status[r.status] += 1
                    langs[r.detection.lang] += 1
                if progress:
                    progress(len(results) + len(rejects))
                if options.max_errors is not None and status[ERROR] + info.rejected >= options.max_errors:
                    info.stopped_early = f"stopped after {status[ERROR] + info.rejected} errors (--max-errors {options.max_errors})"
                    log.error(info.stopped_early)
                    break
                if signals.received is not None:
                    info.interrupted = signal.Signals(signals.received).name
                    break
    except KeyboardInterrupt:
        info.interrupted = info.interrupted or "SIGINT"
    finally:
        info.finished = _now()
        if not to_stdout and info.interrupted is None and sys.exc_info()[0] is None:
            writer.finish()
        failed = sys.exc_info()[0] is not None and info.interrupted is None
        manifest("failed" if failed else "interrupted" if info.interrupted else "stopped" if info.stopped_early else "done")
    if wide and not to_stdout and info.interrupted is None:
        io.write_wide(out_dir)
    return info


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
