"""Summarize and translate batches of news articles into Parquet with full metadata."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .api import RunInfo
    from .pipeline import Pipeline


def run(*args: Any, **kwargs: Any) -> RunInfo:
    """Run a whole job; see `summarize.api.run`. Imported lazily so `import summarize` stays light."""
    from .api import run as _run

    return _run(*args, **kwargs)


def __getattr__(name: str) -> Any:
    if name == "Pipeline":
        from .pipeline import Pipeline

        return Pipeline
    if name in ("RunOptions", "ReadOptions", "GenerationOptions", "DetectOptions"):
        from . import options

        return getattr(options, name)
    raise AttributeError(name)


__all__ = ["DetectOptions", "GenerationOptions", "Pipeline", "ReadOptions", "RunOptions", "__version__", "run"]
