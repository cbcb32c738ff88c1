"""The Ray engine: detection, planning, generation and the writing of part files on Ray actors.

Reading, resume, commits, signals and the manifest stay in `summarize.api.run` on the driver.
The driver reads the input as it goes: it keeps at most a window of shards (a few per worker)
read ahead of the last one committed, puts each into the object store as one Arrow block and
sends it to a `ShardActor` of an `ActorPool` of `workers` actors (each loads each model once).
So the driver's memory does not grow with the input, and the first shard is committed as soon
as it is done.

With a `RunWriter` bound (`bind_writer`, what `api.run` does for a Parquet folder or object-store
`--out`), each actor writes its shard's part files itself to the shared `--out` (names depend
only on the run and the shard, so a retried shard overwrites its own parts) and returns only a
small descriptor; the driver commits, in input order (`_summarize/commits/<run>-<shard>.json`).

A node that dies takes its actors and the shards they held: the pool starts new actors where
there is room (a node added later included), the lost shards go back to the queue, and a shard
is given up (`WorkerError`, rerun with `--resume`) only after its actor died `max_task_retries + 1`
times while running it. When the run ends, parts this run wrote that no marker lists (a lost
worker's, or those of shards after an early stop) are deleted, so every article is in the output
exactly once and nothing a dead node wrote stays visible. Delta and `--out -`: the driver writes
everything, workers write nothing.

Ray's own log lines and the workers' output become `logging` records (loggers `ray` and
`summarize.engines.ray.worker`), so they follow the application's format (`--log-format json`)
and level (`--quiet`) and never reach stdout, which may carry data.

Ray is imported here only; `summarize --help` and the local engine never import it.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import ray

from .. import io
from ..errors import UsageError
from ..options import RunOptions
from ..reuse import add_counts
from ..schema import Article, ArticleResult, Detection, Reject
from .ray_pool import ActorPool, WorkerError
from .ray_worker import ShardActor, ShardDone, block

__all__ = ["FORWARDED_ENV", "RayEngine", "WorkerError"]

log = logging.getLogger(__name__)
worker_log = logging.getLogger(f"{__name__}.worker")

# Environment the actors need to behave as the driver was told to (offline, quiet libraries).
# A local Ray instance inherits the driver's environment anyway; a cluster does not.
FORWARDED_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TRANSFORMERS_VERBOSITY", "HF_HUB_DISABLE_PROGRESS_BARS",
                 "TOKENIZERS_PARALLELISM", "HF_HUB_VERBOSITY", "PYTHONWARNINGS", "_RJEM_MALLOC_CONF")
POLL_S = 1.0  # the longest the driver blocks at once: every wait is re-checked at least this often
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


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
    listed: set[str] = field(default_factory=set)

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
            return
        self.writer.commit(*done)
        self.listed.update(p["path"] for p in done[1])

    def finish(self) -> None:
        self.writer.finish()


@dataclass
class _Shard:
    """A shard read and not yet handed back: its input, its result once done, its tries."""

    articles: list[Article]
    rejects: list[Reject]
    ref: Any = None  # its block in the object store, kept for retries
    done: ShardDone | None = None
    tries: int = 0


class RayEngine:
    """Runs `Pipeline.process` for each shard on a pool of Ray actors; results in input order.

    Attributes:
        options: The run's options; each actor builds its `Pipeline` from them.
        workers: Actors in the pool (each loads the models once).
        gpus_per_worker: GPUs reserved per actor (0 on CPU nodes; 0.5 packs two small models on a GPU).
        cpus_per_worker: CPUs reserved per actor; Ray sets the actor's OMP_NUM_THREADS (torch's
            intra-op threads) to it.
        max_task_retries: Times a shard is retried after the actor running it died.
        wait_s: How long to wait for an actor to start (the first ones, or a lost one's
            replacement): with none running the run then stops, with some it goes on with them.
        log_level: Level of Ray's own log records and of the workers' output in this process.
        models_used: Models the actors loaded, as `Pipeline.models_used`, merged.
        lost: Actors lost during the last run (a node gone, a worker killed).
    """

    def __init__(self, options: RunOptions, *, workers: int = 1, gpus_per_worker: float = 0.0,
                 address: str | None = None, cpus_per_worker: float = 1.0, max_task_retries: int = 3,
                 wait_s: float = 300.0, log_level: int = logging.WARNING) -> None:
        if workers < 1:
            raise UsageError("--workers must be >= 1")
        if gpus_per_worker < 0 or cpus_per_worker < 0:
            raise UsageError("--gpus-per-worker and the CPUs per worker must be >= 0")
        if not wait_s > 0:
            raise UsageError("--ray-wait must be > 0 seconds")
        self.options = options
        self.workers = workers
        self.gpus_per_worker = gpus_per_worker
        self.cpus_per_worker = cpus_per_worker
        self.max_task_retries = max_task_retries
        self.wait_s = wait_s
        self.log_level = log_level
        self.models_used: dict[str, dict[str, Any]] = {}
        self.reuse: dict[str, dict[str, int]] = {}  # generated/reused rows the actors reported
        self.lost = 0
        self._committer: _Committer | None = None
        self._memory: tuple[str | None, str, bool] = (None, "", options.reuse)
        # Connect now, before `api.run` installs its SIGINT/SIGTERM handlers: `ray.init` sets a
        # SIGTERM handler of its own in the driver, which would otherwise replace the run's.
        # Ray logs while it starts (a new local instance warns about token authentication): its
        # records go to the application's handlers from the start, not to the handler Ray made.
        _route_logs(log_level)
        if not ray.is_initialized():
            try:
                # No address means a new local instance, as --ray-address says; Ray itself would
                # join whatever cluster /tmp/ray/ray_current_cluster last named, even a dead one.
                ray.init(address=address or "local", ignore_reinit_error=True, logging_level=log_level,
                         configure_logging=False, log_to_driver=True)
            except (ConnectionError, ValueError) as exc:
                raise UsageError(f"cannot connect to Ray at {address or 'a new local instance'}: {exc}") from exc
        _route_logs(log_level)

    def bind_memory(self, out_dir: Any, run_id: str, *, enabled: bool) -> None:
        """Let the actors use the reuse memory of `out_dir` (None: within each actor only): each
        reads the store once and stores what it makes itself (`ray_worker.ShardActor`)."""
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

        Reads `shards` as it goes, at most a window of a few shards per worker ahead of the
        last one handed back; starts the actor pool on the first shard with articles.
        """
        window = max(4, self.workers * 3)
        self.lost = 0
        source = iter(shards)
        held: dict[int, _Shard] = {}
        todo: deque[int] = deque()
        read = given = 0
        exhausted = False
        pool: ActorPool | None = None
        try:
            while True:
                while not exhausted and read - given < window:
                    try:
                        arts, rej = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    held[read] = _Shard(arts, rej)
                    if arts:
                        todo.append(read)
                    read += 1
                if todo and pool is None:
                    pool = ActorPool(self._spawn, self.workers, wait_s=self.wait_s)
                if pool is not None:
                    self._dispatch(pool, todo, held)
                s = held.get(given)
                if s is not None and (s.done is not None or not s.articles):
                    del held[given]
                    yield self._handback(given, s)
                    given += 1
                    continue
                if exhausted and not held:
                    if pool is not None:
                        pool.finished()
                    return
                assert pool is not None  # a shard with articles is waiting, so the pool exists
                pool.check(given)
                self._wait(pool, todo, held)
        finally:
            if pool is not None:
                self.lost = pool.lost
                pool.close()
            if self._committer is not None:
                removed = self._committer.writer.sweep(self._committer.listed)
                if removed:
                    log.info("removed %d part file(s) no commit lists (lost workers, or shards after a stop)",
                             len(removed), extra={"fields": {"removed": removed[:20]}})

    def _dispatch(self, pool: ActorPool, todo: deque[int], held: dict[int, _Shard]) -> None:
        while todo:
            member = pool.free()
            if member is None:
                return
            i = todo.popleft()
            s = held[i]
            if s.ref is None:
                s.ref = ray.put(block(i, s.articles, s.rejects if self._committer else []))
            pool.submit(member, i, s.ref)

    def _wait(self, pool: ActorPool, todo: deque[int], held: dict[int, _Shard]) -> None:
        refs = pool.refs()
        if not refs:  # nothing to wait on (should not happen: a lost actor is replaced at once)
            time.sleep(POLL_S)
            return
        ready, _ = ray.wait(refs, num_returns=1, timeout=POLL_S)
        for ref in ready:
            shard, done, lost = pool.collect(ref)
            if lost:
                held[lost[0]].tries += 1
                if held[lost[0]].tries > self.max_task_retries:
                    raise WorkerError(
                        f"shard {lost[0]} ({len(held[lost[0]].articles)} articles) was running on a Ray worker that "
                        f"died, {held[lost[0]].tries} times; the shards before it are written, rerun with --resume "
                        "to continue")
                todo.extendleft(sorted((i for i in lost if held[i].done is None), reverse=True))
            elif shard is not None:
                self._check(done)
                held[shard].done = done

    def _handback(self, index: int, s: _Shard) -> tuple[list[ArticleResult], list[Reject]]:
        done = s.done
        if done is None:  # a shard of rejects only: the driver writes it
            if self._committer is not None:
                self._committer.pending.append(None)
            return [], s.rejects
        if self._committer is not None and done.parts is not None:
            self._committer.pending.append((index, done.parts, done.written or {}))
            results: list[Any] = [_Tally(st, Detection(lang, 0.0)) for st, lang in zip(done.statuses, done.langs, strict=True)]
        else:
            results = list(done.results or [])
        return results, s.rejects

    def _check(self, done: ShardDone) -> None:
        if done.error is not None:
            raise done.error
        self.models_used.update(done.models)
        add_counts(self.reuse, done.reuse)

    def _spawn(self) -> Any:
        remote = ray.remote(ShardActor).options(
            num_cpus=self.cpus_per_worker,
            num_gpus=self.gpus_per_worker or None,
            runtime_env={"env_vars": {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}},
            # The pool replaces a lost actor itself, where there is room, so Ray must not
            # restart it (a restarted actor waits for its resources without bound).
            max_restarts=0,
            max_task_retries=0,
            scheduling_strategy="SPREAD",
        )
        return remote.remote(self.options, self._committer.writer if self._committer else None,
                             io.files.storage_options(), self._memory)


def _route_logs(level: int) -> None:
    """Ray's driver-side log records go to the application's handlers (Ray puts a handler of its
    own on the `ray` logger at import); the workers' output, which Ray prints on this process's
    stdout and stderr with coloured prefixes, becomes records of `summarize.engines.ray.worker`."""
    ray_logger = logging.getLogger("ray")
    ray_logger.handlers.clear()
    ray_logger.propagate = True
    ray_logger.setLevel(level)
    worker_log.setLevel(level)
    try:
        from ray._private.worker import global_worker_stdstream_dispatcher as dispatcher
    except ImportError:  # a Ray without it prints the workers' output itself
        return
    dispatcher.remove_handler("ray_print_logs")
    dispatcher.remove_handler("summarize")
    dispatcher.add_handler("summarize", _forward)


def _forward(data: dict[str, Any]) -> None:
    """One batch of a worker's (or a raylet's) output lines, as log records."""
    pid = data.get("pid")
    raw = data.get("lines", [])
    if pid == "autoscaler":  # its log, every few seconds; Ray shows only the events in it, so do we
        try:
            from ray._private.worker import filter_autoscaler_events
        except ImportError:
            return
        raw = list(filter_autoscaler_events(raw))
    lines = [_ANSI.sub("", line).rstrip() for line in raw]
    lines = [line for line in lines if line.strip()]
    if not lines:
        return
    fields = {"pid": pid, "ip": data.get("ip"), "actor": data.get("actor_name") or data.get("task_name") or None,
              "stream": "stderr" if data.get("is_err") else "stdout"}
    if pid in ("raylet", "autoscaler"):  # one message over several lines (a state dump)
        worker_log.warning("(%s) %s", pid, "\n".join(lines), extra={"fields": fields})
        return
    level = logging.WARNING if data.get("is_err") else logging.INFO
    for line in lines:
        worker_log.log(level, "(worker pid=%s) %s", pid, line, extra={"fields": fields})
