"""The Ray engine: detection, planning, generation and the writing of part files on Ray Data actors.

Reading, resume, commits, signals and the manifest stay in `summarize.api.run` on the driver.
The driver puts every shard into the object store as one Arrow block (the articles as Arrow
columns: id, text, title, kept columns as a struct, ...; Ray spills blocks to disk when memory
runs short), builds ONE dataset over all of them and maps it through ONE pool of `workers`
actors, each holding one `Pipeline` (each model is loaded once per actor for the whole run).

With a `RunWriter` bound (`bind_writer`, what `api.run` does for a folder or an object store
`--out`), each actor writes its shard's part files itself to the shared `--out` (names depend
only on the run and the shard, so a retried shard overwrites its own parts) and returns only a
small descriptor per shard: the parts, row counts, and per article its status and language. The
driver only commits, in input order (`_summarize/commits/<run>-<shard>.json`). A worker lost
after writing parts but before the driver committed them leaves parts no marker lists: the
retried shard overwrites them, and if the driver is lost too, `--resume` deletes them. So every
article is in the output exactly once.

Without a bound writer (`--out -`), results travel back as Arrow rows of pickled results (the
JSONL stream is written by the driver).

Ray is imported here only; `summarize --help` and the local engine never import it.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import warnings
from collections.abc import Generator, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

import pyarrow as pa
import ray

from .. import io
from ..errors import SummarizeError, UsageError
from ..options import RunOptions
from ..pipeline import Pipeline
from ..reuse import add_counts
from ..reuse import counts as reuse_counts
from ..schema import Article, ArticleResult, Detection, Reject

# Environment the actors need to behave as the driver was told to (offline, quiet libraries).
# A local Ray instance inherits the driver's environment anyway; a cluster does not.
FORWARDED_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TRANSFORMERS_VERBOSITY", "HF_HUB_DISABLE_PROGRESS_BARS",
                 "TOKENIZERS_PARALLELISM")


# Ray's exceptions for a worker, node or object lost (not for an error raised by our code).
_LOST = ("RayActorError", "WorkerCrashedError", "NodeDiedError", "ObjectLostError", "OutOfMemoryError")


class WorkerError(SummarizeError):
    """Ray could not finish a shard (a worker died more often than it may be retried)."""


class _PipelineActor:
    """One per Ray worker: one `Pipeline`, built on the first batch and kept for the whole run.

    Every batch is one shard (one block, `batch_size=None`), processed exactly as the local
    engine processes it, so batching inside the shard and therefore the outputs are the same.
    With a writer, the actor writes the shard's part files and returns descriptors only.
    Per-article failures are already per-row results of `Pipeline.process`; an expected error
    that stops a run locally (a model that cannot be loaded) is sent back as data, so the
    driver can raise it as itself instead of as a Ray traceback.
    """

    def __init__(self, options: RunOptions, writer: io.RunWriter | None, storage: dict[str, str],
                 memory: tuple[str | None, str, bool] = (None, "", True)) -> None:
        self.options = options
        self.writer = writer
        io.configure_storage(storage)  # the driver's --storage-option, for the shared --out
        self.pipeline: Pipeline | None = None
        self.memory_at, self.run_id, self.reuse = memory

    def __call__(self, batch: pa.Table) -> pa.Table:
        shards = batch.column("shard").to_pylist()
        articles = _articles(batch)
        try:
            if self.pipeline is None:
                self.pipeline = Pipeline(self.options)
                # Each actor reads the store once, read-only, and adds its own files: the memory as
                # the run started plus what this actor made (not what other actors make meanwhile).
                where = io.as_path(self.memory_at) if self.memory_at else None
                self.pipeline.use_memory(io.memory.load(where) if where is not None and self.reuse else {},
                                         enabled=self.reuse)
            results: list[ArticleResult] = []
            # Defensive: should Ray ever hand over several shards at once, each is still
            # processed on its own, as the local engine would.
            for _, group in groupby(zip(shards, articles, strict=True), key=lambda pair: pair[0]):
                results.extend(self.pipeline.process([a for _, a in group]))
            models = json.dumps(self.pipeline.models_used, default=str)
            memory = self.pipeline.memory
            if self.memory_at and memory is not None:  # before the driver commits: see io/memory.py
                io.memory.append(io.as_path(self.memory_at), f"{self.run_id}-{shards[0] + 1:06d}", memory.drain(),
                                 self.run_id)
            if self.writer is None:
                blobs = [pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL) for r in results]
                return _rows(shards, blobs, results, models=models)
            rejects = [Reject(**r) for r in batch.column("rejects")[0].as_py() or []]
            parts, written = self.writer.write_parts(results, rejects, shards[0])
            return _rows(shards, [b""] * len(shards), results, models=models,
                         parts=json.dumps({"parts": parts, "written": written, "reuse": reuse_counts(results)}))
        except SummarizeError as exc:
            return _rows(shards, [b""] * len(shards), None, models="", error=pickle.dumps(exc))


def _rows(shards: list[int], blobs: list[bytes], results: list[ArticleResult] | None, *, models: str,
          parts: str = "", error: bytes = b"") -> pa.Table:
    # Models, parts and errors are per batch: they ride on the first row only. The exception
    # stays pickled: it is raised as itself on the driver, it is not data.
    n = len(shards)
    first = ([models], [parts], [error]) if n else ([], [], [])
    return pa.table({
        "shard": pa.array(shards, pa.int64()),
        "status": pa.array([r.status for r in results] if results else [""] * n, pa.string()),
        "lang": pa.array([r.detection.lang for r in results] if results else [""] * n, pa.string()),
        "result": pa.array(blobs, pa.binary()),
        "models": pa.array(first[0] + [""] * (n - 1), pa.string()),
        "parts": pa.array(first[1] + [""] * (n - 1), pa.string()),
        "error": pa.array(first[2] + [b""] * (n - 1), pa.binary()),
    })


_ARTICLE_FIELDS = ("id", "row_index", "source", "line", "text", "title", "lang", "published")


def _block(index: int, articles: list[Article], rejects: list[Reject]) -> pa.Table:
    """One shard as Arrow columns; kept columns (`extra`) as a struct (as JSON text when their
    values do not share a type, e.g. an int in one row and a string in the next)."""
    n = len(articles)
    cols: dict[str, Any] = {"shard": pa.array([index] * n, pa.int64())}
    for name in _ARTICLE_FIELDS:
        cols[name] = [getattr(a, name) for a in articles]
    cols["flags"] = pa.array([list(a.flags) for a in articles], pa.list_(pa.string()))
    extras = [a.extra for a in articles]
    try:
        cols["extra"] = pa.array(extras) if any(extras) else pa.nulls(n, pa.null())
        cols["extra_json"] = pa.nulls(n, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        cols["extra"] = pa.nulls(n, pa.null())
        cols["extra_json"] = pa.array([json.dumps(e, default=str) for e in extras], pa.string())
    rej = [{"source": r.source, "line": r.line, "error": r.error, "raw": r.raw, "fatal": r.fatal} for r in rejects]
    cols["rejects"] = pa.array([rej] + [None] * (n - 1),
                               pa.list_(pa.struct([("source", pa.string()), ("line", pa.int64()), ("error", pa.string()),
                                                   ("raw", pa.string()), ("fatal", pa.bool_())])))
    for name in ("published", "title", "lang"):
        if all(v is None for v in cols[name]):
            cols[name] = pa.nulls(n, pa.string())
    try:
        return pa.table(cols)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # a published column of mixed types: as text
        cols["published"] = pa.array([None if v is None else str(v) for v in cols["published"]], pa.string())
        return pa.table(cols)


def _articles(batch: pa.Table) -> list[Article]:
    rows = batch.select([*_ARTICLE_FIELDS, "flags", "extra", "extra_json"]).to_pylist()
    out = []
    for r in rows:
        extra = json.loads(r["extra_json"]) if r["extra_json"] is not None else (r["extra"] or {})
        out.append(Article(r["id"], r["row_index"], r["source"], r["line"], r["text"], r["title"], r["lang"],
                           extra, tuple(r["flags"] or ()), r["published"]))
    return out


@dataclass(frozen=True)
class _Tally:
    """What the driver learns of an article a worker wrote: its status and language (all that
    `api.run` counts); the rows themselves are in the worker's part files."""

    status: str
    detection: Detection


@dataclass
class _Committer:
    """`api.run`'s writer when workers write the parts: `write` commits the shard the engine
    just yielded (its parts as the worker described them), or writes a shard of rejects only
    itself, in this process."""

    writer: io.RunWriter
    pending: list[tuple[int, list[dict[str, Any]], dict[str, int]] | None] = field(default_factory=list)

    @property
    def written(self) -> dict[str, int]:
        return self.writer.written

    @property
    def commits(self) -> int:
        return self.writer.commits

    def write(self, results: Any, rejects: list[Reject]) -> None:
        done = self.pending.pop(0) if self.pending else None
        if done is None:
            self.writer.write(results, rejects)
        else:
            self.writer.commit(*done)

    def finish(self) -> None:
        self.writer.finish()


class RayEngine:
    """Runs `Pipeline.process` for each shard on a pool of Ray Data actors, in input order.

    Attributes:
        options: The run's options; each actor builds its `Pipeline` from them.
        workers: Actors in the pool (each loads the models once).
        gpus_per_worker: GPUs reserved per actor (0 on CPU nodes; 0.5 packs two small models on a GPU).
        cpus_per_worker: CPUs reserved per actor; Ray sets the actor's OMP_NUM_THREADS (torch's
            intra-op threads) to it.
        max_task_retries: Times a shard is retried after its actor died (Ray restarts the actor).
        models_used: Models the actors loaded, as `Pipeline.models_used`, merged.
    """

    def __init__(self, options: RunOptions, *, workers: int = 1, gpus_per_worker: float = 0.0,
                 address: str | None = None, cpus_per_worker: float = 1.0, max_task_retries: int = 3) -> None:
        if workers < 1:
            raise UsageError("--workers must be >= 1")
        if gpus_per_worker < 0 or cpus_per_worker < 0:
            raise UsageError("--gpus-per-worker and the CPUs per worker must be >= 0")
        self.options = options
        self.workers = workers
        self.gpus_per_worker = gpus_per_worker
        self.cpus_per_worker = cpus_per_worker
        self.max_task_retries = max_task_retries
        self.models_used: dict[str, dict[str, Any]] = {}
        self.reuse: dict[str, dict[str, int]] = {}  # generated/reused rows the actors reported
        self._committer: _Committer | None = None
        self._memory: tuple[str | None, str, bool] = (None, "", options.reuse)
        # Connect now, before `api.run` installs its SIGINT/SIGTERM handlers: `ray.init` sets a
        # SIGTERM handler of its own in the driver, which would otherwise replace the run's.
        if not ray.is_initialized():
            try:
                ray.init(address=address, ignore_reinit_error=True, logging_level=logging.WARNING)
            except (ConnectionError, ValueError) as exc:
                raise UsageError(f"cannot connect to Ray at {address or 'a new local instance'}: {exc}") from exc

    def bind_memory(self, out_dir: Any, run_id: str, *, enabled: bool) -> None:
        """Let the actors use the reuse memory of `out_dir` (None: within each actor only): each
        reads the store once and stores what it makes itself (`_PipelineActor`)."""
        self._memory = (io.files.uri(out_dir) if out_dir is not None else None, run_id, enabled)

    def bind_writer(self, writer: Any) -> Any:
        """Let the actors write `writer`'s part files themselves; returns the writer `api.run`
        uses instead, which only commits (any other writer, the JSONL stream, is kept as is)."""
        if not isinstance(writer, io.RunWriter):
            return writer
        self._committer = _Committer(writer)
        return self._committer

    def process(self, shards: Iterable[tuple[list[Article], list[Reject]]]) -> Iterator[tuple[list[ArticleResult], list[Reject]]]:
        """Results for each shard, in input order, with the shard's rejects passed through.

        All shards are read (and put into the object store) before the first result comes
        back: one dataset for the whole run is what keeps one actor pool, and so one load of
        each model per actor.
        """
        counts: list[int] = []
        rejects: list[list[Reject]] = []
        refs = []
        for arts, rej in shards:
            if arts:
                refs.append(ray.put(_block(len(counts), arts, rej if self._committer else [])))
            counts.append(len(arts))
            rejects.append(rej)
        done = 0  # shards yielded so far
        results: list[Any] = []
        written: dict[str, Any] = {}
        pending = self._committer.pending if self._committer else []
        with closing(self._results(refs)) as stream:
            for shard, result, parts in stream:
                while counts[done] == 0:  # a shard of rejects only: the driver writes it
                    pending.append(None)
                    yield [], rejects[done]
                    done += 1
                if shard != done:
                    raise RuntimeError(f"Ray returned shard {shard} while shard {done} was expected")
                results.append(result)
                if parts:
                    written = json.loads(parts)
                    add_counts(self.reuse, written.get("reuse", {}))
                if len(results) == counts[done]:
                    if self._committer is not None:
                        pending.append((done, written["parts"], written["written"]))
                    yield results, rejects[done]
                    results, done = [], done + 1
        for i in range(done, len(counts)):
            if counts[i]:
                raise WorkerError(f"Ray returned no results for shard {i} ({counts[i]} articles)")
            pending.append(None)
            yield [], rejects[i]

    def _results(self, refs: list[Any]) -> Generator[tuple[int, Any, str], None, None]:
        """(shard, result, parts) for every article, in input order, as the actors finish them:
        the result itself, or with a bound writer a `_Tally`; `parts` (JSON descriptors of the
        shard's part files) on the first row of a shard."""
        if not refs:
            return
        lost = tuple(getattr(ray.exceptions, name) for name in _LOST if hasattr(ray.exceptions, name))
        batches = iter(self._dataset(refs).iter_batches(batch_size=None, batch_format="pyarrow"))
        try:
            for batch in batches:
                self._check(batch)
                cols = [batch.column(c).to_pylist() for c in ("shard", "result", "status", "lang", "parts")]
                for shard, blob, status, lang, parts in zip(*cols, strict=True):
                    result = _Tally(status, Detection(lang, 0.0)) if self._committer else pickle.loads(blob)
                    yield shard, result, parts
        except lost as exc:
            # Our own code's errors keep their Ray traceback, as they would locally; a worker
            # that died on the same shard more often than it may be retried is an expected end.
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise WorkerError(
                f"a Ray worker died and the shard it held failed {self.max_task_retries + 1} times ({type(exc).__name__}: "
                f"{first}); the shards before it are written, rerun with --resume to continue"
            ) from exc
        finally:
            # Stops the streaming execution when the run breaks off early (a signal, --max-errors).
            close = getattr(batches, "close", None)
            if close is not None:
                close()

    def _dataset(self, refs: list[Any]) -> Any:
        with warnings.catch_warnings():
            # Ray 2.5x deprecates passing max_restarts/max_task_retries this way (gone in 2.64)
            # but offers no named parameter for them yet; its own default retries a shard forever.
            warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated", category=Warning)
            ds = self._map(ray.data.from_arrow_refs(refs))
        ctx = ds.context
        ctx.execution_options.preserve_order = True
        ctx.enable_progress_bars = False  # the CLI has its own bar, counted in articles
        ctx.print_on_execution_start = False
        return ds

    def _map(self, ds: Any) -> Any:
        return ds.map_batches(
            _PipelineActor,
            fn_constructor_args=(self.options, self._committer.writer if self._committer else None,
                                 io.files.storage_options(), self._memory),
            batch_size=None,  # one block = one shard = one batch
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=self.workers),
            num_cpus=self.cpus_per_worker,
            num_gpus=self.gpus_per_worker or None,
            runtime_env={"env_vars": {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}},
            # A dead actor is restarted as often as it takes (a lost node, a preempted VM), but
            # one shard is retried only a few times, so an input that kills its worker every
            # time ends the run instead of looping.
            max_restarts=-1,
            max_task_retries=self.max_task_retries,
        )

    def _check(self, batch: pa.Table) -> None:
        if not batch.num_rows:
            return
        error = batch.column("error")[0].as_py()
        if error:
            raise pickle.loads(error)
        models = batch.column("models")[0].as_py()
        if models:
            self.models_used.update(json.loads(models))
