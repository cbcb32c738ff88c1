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
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from . import __version__, io
from .errors import OutputError
from .options import ReadOptions, RunOptions
from .pipeline import Pipeline
from .schema import ERROR, SCHEMA_VERSION, TABLES, Article, ArticleResult, Reject

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

    @property
    def exit_code(self) -> int:
        """0 when every article is ok or skipped and nothing was rejected, else 1."""
        return 1 if self.counts.get(ERROR, 0) or self.rejected or self.stopped_early else 0


def count_records(inputs: Sequence[str]) -> int | None:
    """How many records the inputs hold (cheaply, for the progress bar); None when unknown."""
    total = 0
    for inp in inputs:
        if inp == io.STDIN:
            return None
        p = Path(inp)
        try:
            if p.is_dir():
                total += sum(1 for f in p.rglob("*") if f.is_file() and f.suffix.lower() in io.TEXT_SUFFIXES)
            elif p.suffix.lower() == ".parquet":
                import pyarrow.parquet as pq

                total += pq.ParquetFile(p).metadata.num_rows
            elif p.suffix.lower() in io.JSONL_SUFFIXES:
                with p.open("rb") as fh:
                    total += sum(1 for line in fh if line.strip())
            else:
                return None  # CSV records may span lines
        except OSError:
            return None
    return total


def prepare_out(out: Path, *, overwrite: bool) -> None:
    """Refuse to mix runs in one folder unless told to replace what is there."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise OutputError(f"--out {out} is not empty; use --overwrite to replace it (or --resume to continue a run)")
        for t in (*TABLES, "wide.parquet", "run.json"):
            target = out / t
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    out.mkdir(parents=True, exist_ok=True)
    probe = out / f".write-test-{uuid.uuid4().hex[:8]}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"cannot write to --out {out}: {exc.strerror or exc}") from exc


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


def run(
    inputs: Sequence[str | Path],
    out: str | Path,
    options: RunOptions | None = None,
    read_options: ReadOptions | None = None,
    *,
    overwrite: bool = False,
    pipeline: Pipeline | None = None,
    progress: Callable[[int], None] | None = None,
    stdin: IO[bytes] | None = None,
    **option_fields: Any,
) -> RunInfo:
    """Run a whole job: read `inputs`, summarize and translate, write the tables to `out`.

    Options come as a `RunOptions` or as its field names (`to=["en"]`, `summary_model=...`).
    Returns the `RunInfo` also written to `out/run.json`.
    """
    if options is None:
        if "to" in option_fields:
            option_fields["to"] = tuple(option_fields["to"])
        options = RunOptions(**option_fields)
    read_options = read_options or ReadOptions()
    names = [str(i) for i in inputs]
    io.check_inputs(names)
    io.check_columns(names, read_options)
    out_dir = Path(out)
    prepare_out(out_dir, overwrite=overwrite)
    pipe = pipeline or Pipeline(options)
    run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    info = RunInfo(run_id=run_id, out_dir=str(out_dir), started=_now(), inputs=names)
    meta = {
        "schema_version": SCHEMA_VERSION, "run_id": run_id, "tool": "summarize", "tool_version": __version__,
        "options": json.dumps(options.to_dict(), default=str),
    }
    writer = io.RunWriter(out_dir, run_id, options.output_hash(), read_options.keep_cols, meta)
    status: Counter[str] = Counter()
    langs: Counter[str] = Counter()
    t0 = time.perf_counter()
    try:
        for arts, rejects in shards(io.read_records(names, read_options, stdin=stdin), options.shard_size):
            results: list[ArticleResult] = pipe.process(arts) if arts else []
            writer.write(results, rejects)
            info.rejected += len(rejects)
            for r in results:
                status[r.status] += 1
                langs[r.detection.lang] += 1
            if progress:
                progress(len(results) + len(rejects))
            if options.max_errors is not None and status[ERROR] + info.rejected >= options.max_errors:
                info.stopped_early = f"stopped after {status[ERROR] + info.rejected} errors (--max-errors {options.max_errors})"
                log.error(info.stopped_early)
                break
    finally:
        writer.finish()
        info.counts = dict(status)
        info.languages = dict(langs)
        info.models = pipe.models_used
        info.finished = _now()
        manifest = {
            "schema_version": SCHEMA_VERSION, "tool": "summarize", "tool_version": __version__,
            **info.__dict__, "seconds": round(time.perf_counter() - t0, 3),
            "options": options.to_dict(), "read_options": read_options.__dict__,
            "options_hash": options.output_hash(), "rows": writer.written,
        }
        io.write_json(out_dir / "run.json", manifest)
    return info


def summarize_articles(articles: Iterable[Article], options: RunOptions | None = None,
                       pipeline: Pipeline | None = None) -> Iterator[ArticleResult]:
    """Summarize and translate articles in memory, yielding typed results in order."""
    pipe = pipeline or Pipeline(options)
    yield from pipe.run(articles)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
