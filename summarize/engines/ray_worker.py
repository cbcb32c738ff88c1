"""What runs on a Ray worker: one shard in (an Arrow block), one small `ShardDone` out.

The driver puts each shard into the object store as one Arrow block (the articles as Arrow
columns; kept columns as a struct, or as JSON text when their values do not share a type) and
hands its reference to a `ShardActor`. The actor holds one `Pipeline` for the whole run (each
model is loaded once per actor) and processes the shard exactly as the local engine would.

With a writer (a folder or object-store `--out` in Parquet), the actor writes the shard's part
files itself and returns only their descriptors plus each article's status and language; without
one (Delta, `--out -`) the results travel back whole and the driver writes them.

The engine makes `ShardActor` a Ray actor class; this module imports Ray only inside it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

import pyarrow as pa

from .. import io
from ..errors import SummarizeError
from ..options import RunOptions
from ..pipeline import Pipeline
from ..reuse import counts as reuse_counts
from ..schema import Article, ArticleResult, Reject


@dataclass(frozen=True)
class ShardDone:
    """What a worker sends back for one shard.

    Attributes:
        shard: The shard's index in the run.
        statuses: Per article, its status (what the driver counts).
        langs: Per article, its detected language.
        models: Models this actor has loaded, as `Pipeline.models_used`.
        parts: Descriptors of the part files the worker wrote (None: no writer, see `results`).
        written: Rows written per table, with `parts`.
        results: The results themselves when the worker wrote nothing.
        error: An expected error that stops the run (a model that cannot be loaded), sent back
            as data so that the driver raises it as itself rather than as a Ray traceback.
        node: The Ray node the shard ran on (for the log of a lost node).
    """

    shard: int
    statuses: list[str] = field(default_factory=list)
    langs: list[str] = field(default_factory=list)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    parts: list[dict[str, Any]] | None = None
    written: dict[str, int] | None = None
    results: list[ArticleResult] | None = None
    error: SummarizeError | None = None
    node: str = ""
    reuse: dict[str, dict[str, int]] = field(default_factory=dict)  # generated/reused rows (`reuse.counts`)


class ShardActor:
    """One per Ray worker: one `Pipeline`, built on the first shard and kept for the whole run."""

    def __init__(self, options: RunOptions, writer: io.RunWriter | None, storage: dict[str, str],
                 memory: tuple[str | None, str, bool] = (None, "", True)) -> None:
        import ray  # only ever constructed as a Ray actor

        self.options = options
        self.writer = writer
        io.configure_storage(storage)  # the driver's --storage-option, for the shared --out
        self.pipeline: Pipeline | None = None
        self.memory_at, self.run_id, self.reuse = memory
        self._read: set[str] = set()  # this run's memory files the actor has read or written
        self.node = ray.get_runtime_context().get_node_id()

    def ready(self) -> dict[str, Any]:
        """Where this actor runs: answered once the actor is placed and constructed."""
        return {"node": self.node, "pid": os.getpid()}

    def process(self, block: pa.Table) -> ShardDone:
        shard = int(block.column("shard")[0].as_py())
        articles = articles_of(block)
        try:
            if self.pipeline is None:
                self.pipeline = Pipeline(self.options)
                # Each actor reads the store once, read-only, and adds its own files; before each
                # later shard it reads the files other actors added to this run (below).
                where = io.as_path(self.memory_at) if self.memory_at else None
                if where is not None and self.reuse:
                    self._read = {f.name for f in io.memory.memory_files(where) if f.name.startswith(f"{self.run_id}-")}
                self.pipeline.use_memory(io.memory.load(where) if where is not None and self.reuse else {},
                                         enabled=self.reuse)
            elif self.memory_at and self.reuse and self.pipeline.memory is not None:
                # What the other actors stored since this one last looked: a text another actor
                # summarized earlier in the run is reused here too (one listing of the folder).
                self.pipeline.memory.learn(io.memory.news(io.as_path(self.memory_at), self.run_id, self._read))
            results: list[ArticleResult] = []
            # A block is one shard; should it ever hold several, each is processed on its own.
            for _, group in groupby(zip(block.column("shard").to_pylist(), articles, strict=True), key=lambda p: p[0]):
                results.extend(self.pipeline.process([a for _, a in group]))
        except SummarizeError as exc:
            return ShardDone(shard, error=exc, node=self.node)
        statuses, langs = [r.status for r in results], [r.detection.lang for r in results]
        models = dict(self.pipeline.models_used)
        reuse = reuse_counts(results)
        memory = self.pipeline.memory
        if self.memory_at and memory is not None:  # before the driver commits: see io/memory.py
            name = f"{self.run_id}-{shard + 1:06d}"
            io.memory.append(io.as_path(self.memory_at), name, memory.drain(), self.run_id)
            self._read.add(f"{name}{io.memory.SUFFIX}")
        if self.writer is None:
            return ShardDone(shard, statuses, langs, models, results=results, node=self.node)  # the driver counts them
        rejects = [Reject(**r) for r in block.column("rejects")[0].as_py() or []]
        try:
            parts, written = self.writer.write_parts(results, rejects, shard)
        except SummarizeError as exc:
            return ShardDone(shard, error=exc, node=self.node)
        return ShardDone(shard, statuses, langs, models, parts=parts, written=written, node=self.node, reuse=reuse)


_ARTICLE_FIELDS = ("id", "row_index", "source", "line", "text", "title", "lang", "published", "author", "site_name", "url")
_REJECT = pa.struct([("source", pa.string()), ("line", pa.int64()), ("error", pa.string()), ("raw", pa.string()),
                     ("fatal", pa.bool_())])


def block(index: int, articles: list[Article], rejects: list[Reject]) -> pa.Table:
    """One shard as Arrow columns; kept columns (`extra`) as a struct (as JSON text when their
    values do not share a type, e.g. an int in one row and a string in the next)."""
    n = len(articles)
    cols: dict[str, Any] = {"shard": pa.array([index] * n, pa.int64())}
    for name in _ARTICLE_FIELDS:
        cols[name] = [getattr(a, name) for a in articles]
    cols["flags"] = pa.array([list(a.flags) for a in articles], pa.list_(pa.string()))
    cols["removed"] = pa.array([list(a.removed) for a in articles], pa.list_(pa.string()))
    extras = [a.extra for a in articles]
    try:
        cols["extra"] = pa.array(extras) if any(extras) else pa.nulls(n, pa.null())
        cols["extra_json"] = pa.nulls(n, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        cols["extra"] = pa.nulls(n, pa.null())
        cols["extra_json"] = pa.array([json.dumps(e, default=str) for e in extras], pa.string())
    rej = [{"source": r.source, "line": r.line, "error": r.error, "raw": r.raw, "fatal": r.fatal} for r in rejects]
    cols["rejects"] = pa.array([rej] + [None] * (n - 1), pa.list_(_REJECT))
    for name in ("published", "title", "lang", "author", "site_name", "url"):
        if all(v is None for v in cols[name]):
            cols[name] = pa.nulls(n, pa.string())
    try:
        return pa.table(cols)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # a published column of mixed types: as text
        cols["published"] = pa.array([None if v is None else str(v) for v in cols["published"]], pa.string())
        return pa.table(cols)


def articles_of(batch: pa.Table) -> list[Article]:
    """The articles of a block, as `block` laid them out."""
    rows = batch.select([*_ARTICLE_FIELDS, "flags", "removed", "extra", "extra_json"]).to_pylist()
    out = []
    for r in rows:
        extra = json.loads(r["extra_json"]) if r["extra_json"] is not None else (r["extra"] or {})
        out.append(Article(r["id"], r["row_index"], r["source"], r["line"], r["text"], r["title"], r["lang"],
                           extra, tuple(r["flags"] or ()), r["published"], r["author"], r["site_name"], r["url"],
                           tuple(r["removed"] or ())))
    return out
