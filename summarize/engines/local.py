"""The local engine: shards processed one after another by one `Pipeline` in this process.

`Engine` is what `api.run` needs from any engine (this one or `engines.ray`): everything else
about a run (reading, resume, writing, signals, the manifest) is shared, so both engines write
the same tables with the same guarantees.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from ..pipeline import Pipeline
from ..schema import Article, ArticleResult, Reject


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
