"""The Ray engine: detection, planning and generation on a pool of Ray Data actors.

Reading, resume, writing, signals and the manifest stay in `summarize.api.run` on the driver,
exactly as with the local engine; only `Pipeline.process` moves to the actors. The driver
puts every shard into the object store as one Arrow block (Ray spills it to disk when memory
runs short, so the driver's own memory stays flat), builds ONE dataset over all of them and
maps it through ONE pool of `workers` actors, each holding one `Pipeline` (so each model is
loaded once per actor for the whole run). Results stream back in input order and are regrouped
by shard, so the writer commits one part per shard with the usual atomic guarantees.

Ray is imported here only; `summarize --help` and the local engine never import it.
"""

from __future__ import annotations

import logging
import os
import pickle
import warnings
from collections.abc import Generator, Iterable, Iterator
from contextlib import closing
from itertools import groupby
from typing import Any

import pyarrow as pa
import ray

from ..errors import SummarizeError, UsageError
from ..options import RunOptions
from ..pipeline import Pipeline
from ..schema import Article, ArticleResult, Reject

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
    Per-article failures are already per-row results of `Pipeline.process`; an expected error
    that stops a run locally (a model that cannot be loaded) is sent back as data, so the
    driver can raise it as itself instead of as a Ray traceback.
    """

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.pipeline: Pipeline | None = None

    def __call__(self, batch: pa.Table) -> pa.Table:
        shards = batch.column("shard").to_pylist()
        articles: list[Article] = [pickle.loads(b) for b in batch.column("article").to_pylist()]
        try:
            if self.pipeline is None:
                self.pipeline = Pipeline(self.options)
            results: list[ArticleResult] = []
            # Defensive: should Ray ever hand over several shards at once, each is still
            # processed on its own, as the local engine would.
            for _, group in groupby(zip(shards, articles, strict=True), key=lambda pair: pair[0]):
                results.extend(self.pipeline.process([a for _, a in group]))
        except SummarizeError as exc:
            return _rows(shards, [b""] * len(shards), models=b"", error=pickle.dumps(exc))
        blobs = [pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL) for r in results]
        return _rows(shards, blobs, models=pickle.dumps(self.pipeline.models_used), error=b"")


def _rows(shards: list[int], results: list[bytes], *, models: bytes, error: bytes) -> pa.Table:
    # Models and errors are per batch: they ride on the first row only.
    n = len(shards)
    return pa.table({
        "shard": pa.array(shards, pa.int64()),
        "result": pa.array(results, pa.binary()),
        "models": pa.array([models] + [b""] * (n - 1), pa.binary()),
        "error": pa.array([error] + [b""] * (n - 1), pa.binary()),
    })


def _block(index: int, articles: list[Article]) -> pa.Table:
    # Articles travel pickled: their `extra` columns may hold any type, which Arrow would
    # have to unify across shards; the frozen dataclasses pickle as they are.
    return pa.table({
        "shard": pa.array([index] * len(articles), pa.int64()),
        "article": pa.array([pickle.dumps(a, protocol=pickle.HIGHEST_PROTOCOL) for a in articles], pa.binary()),
    })


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
        # Connect now, before `api.run` installs its SIGINT/SIGTERM handlers: `ray.init` sets a
        # SIGTERM handler of its own in the driver, which would otherwise replace the run's.
        if not ray.is_initialized():
            try:
                ray.init(address=address, ignore_reinit_error=True, logging_level=logging.WARNING)
            except (ConnectionError, ValueError) as exc:
                raise UsageError(f"cannot connect to Ray at {address or 'a new local instance'}: {exc}") from exc

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
                refs.append(ray.put(_block(len(counts), arts)))
            counts.append(len(arts))
            rejects.append(rej)
        done = 0  # shards yielded so far
        results: list[ArticleResult] = []
        with closing(self._results(refs)) as stream:
            for shard, result in stream:
                while counts[done] == 0:  # a shard of rejects only
                    yield [], rejects[done]
                    done += 1
                if shard != done:
                    raise RuntimeError(f"Ray returned shard {shard} while shard {done} was expected")
                results.append(result)
                if len(results) == counts[done]:
                    yield results, rejects[done]
                    results, done = [], done + 1
        for i in range(done, len(counts)):
            if counts[i]:
                raise WorkerError(f"Ray returned no results for shard {i} ({counts[i]} articles)")
            yield [], rejects[i]

    def _results(self, refs: list[Any]) -> Generator[tuple[int, ArticleResult], None, None]:
        """(shard, result) for every article, in input order, as the actors finish them."""
        if not refs:
            return
        lost = tuple(getattr(ray.exceptions, name) for name in _LOST if hasattr(ray.exceptions, name))
        batches = iter(self._dataset(refs).iter_batches(batch_size=None, batch_format="pyarrow"))
        try:
            for batch in batches:
                self._check(batch)
                for shard, blob in zip(batch.column("shard").to_pylist(), batch.column("result").to_pylist(),
                                       strict=True):
                    yield shard, pickle.loads(blob)
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
            fn_constructor_args=(self.options,),
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
            self.models_used.update(pickle.loads(models))
