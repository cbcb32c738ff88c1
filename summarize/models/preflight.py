"""Before a run loads a model: learn which models it needs, say what they cost, fetch them.

`summarize.run` calls `prepare` (so the Python API plans and fetches as the CLI does); the CLI
only supplies the question it asks on a terminal and the lines it prints. The models are learned
from a bounded sample of the input (`SAMPLE_RECORDS`), never from all of it: start-up costs the
same for a hundred articles and for ten million, and the input is read and detected once, by
the run. A language that first appears after the sample is served all the same: the backend
fetches its model when it first loads it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import SummarizeError
from ..options import ReadOptions, RunOptions
from . import routing
from .downloads import DownloadPlan, ModelDownload, format_size, is_local, plan_downloads
from .registry import Registry
from .routing import RoutePlan

log = logging.getLogger(__name__)

#: Records read (and detected) to learn a run's models. Enough to meet every language a batch
#: of news has in any quantity; the rare rest is fetched on first use.
SAMPLE_RECORDS = 2000
#: A run that would download more than this asks first, on an interactive terminal only.
CONFIRM_BYTES = 1_000_000_000


class Declined(SummarizeError):
    """The download question was answered no; nothing was downloaded (exit 1)."""


@dataclass(frozen=True)
class Preflight:
    """What the pre-flight found and did.

    Attributes:
        downloads: The models the sample's plan needs, as downloads (sizes, cache status).
        plan: The routing plan of the sample; None when both models are forced local folders
            (no input is read then: nothing could be downloaded).
        fetched: Ids of the models downloaded now.
    """

    downloads: DownloadPlan
    plan: RoutePlan | None
    fetched: tuple[str, ...] = ()


def forced_local(options: RunOptions) -> list[str] | None:
    """The models of the run when every one it can load is a folder on disk: a forced summarizer
    and (with targets) a forced translator, which bypass the registry's routes; else None."""
    forced = [options.summary_model] + ([options.translation_model] if options.to else [])
    return [m for m in forced if m] if all(m is not None and is_local(m) for m in forced) else None


def sample_plan(inputs: Sequence[str], options: RunOptions, read_options: ReadOptions | None = None, *,
                registry: Registry | None = None, limit: int = SAMPLE_RECORDS) -> RoutePlan:
    """The routing plan of at most `limit` records, shared out over the inputs (each input's
    first records), so that every input file is sampled and memory does not grow with input size."""
    per_input = max(1, limit // max(1, len(inputs)))
    return routing.plan_inputs(inputs, options, read_options, registry=registry, limit=per_input)


def plan_models(inputs: Sequence[str], options: RunOptions, read_options: ReadOptions | None = None, *,
                registry: Registry | None = None, limit: int = SAMPLE_RECORDS) -> Preflight:
    """The download plan of a run: its models' sizes and cache status, from a sample of the input
    (none read when both models are forced local folders, or the input is stdin, which cannot be
    read twice; the loads then fetch as they go)."""
    reg = registry or Registry.load(options.registry)
    ids = forced_local(options)
    plan = None
    if ids is None:
        if "-" in inputs:
            ids = [m for m in (options.summary_model, options.translation_model) if m]
        else:
            plan = sample_plan(inputs, options, read_options, registry=reg, limit=limit)
            ids = plan.model_ids()
    return Preflight(plan_downloads(ids, registry=reg), plan)


def prepare(inputs: Sequence[str], options: RunOptions, read_options: ReadOptions | None = None, *,
            confirm: Callable[[DownloadPlan], bool] | None = None, notify: Callable[[str, DownloadPlan], None] | None = None,
            progress: bool = False, limit: int = SAMPLE_RECORDS) -> Preflight:
    """Plan the run's models from a sample, say what will be downloaded, ask `confirm` when that
    is over `CONFIRM_BYTES`, then fetch each model, so that a run fails on a model it cannot get
    before any work, and within seconds when the Hub is unreachable.

    `notify(line, plan)` receives the one-line summary and each `downloading i/n` line (default:
    the log); `confirm(plan)` returns False to decline (raises `Declined`); `progress` shows the
    Hub client's download bars. Raises ModelError for the first model that cannot be fetched."""
    from ..backends.source import fetch_error
    from .hub import fetch_model

    say = notify or (lambda line, _plan: log.info("%s", line))
    pre = plan_models(inputs, options, read_options, limit=limit)
    dl = pre.downloads
    if dl.models:
        say(dl.text(), dl)
    if dl.unfetchable:
        raise fetch_error(dl.unfetchable[0].id, ConnectionError("the Hub cannot be reached"))
    todo = dl.to_download
    if not todo:
        return pre
    if confirm is not None and dl.download_bytes > CONFIRM_BYTES and not confirm(dl):
        raise Declined(f"{format_size(dl.download_bytes)} to download declined; nothing downloaded")
    for i, m in enumerate(todo, 1):
        say(f"downloading {i}/{len(todo)}: {m.id} ({size_text(m)})", dl)
        fetch_model(m.id, progress=progress)
    return Preflight(dl, pre.plan, tuple(m.id for m in todo))


def size_text(m: ModelDownload) -> str:
    """A model's download size for people (`310 MB`, `~2.3 GB`, `?`)."""
    return format_size(m.size_bytes, m.estimate)


__all__ = ["CONFIRM_BYTES", "SAMPLE_RECORDS", "Declined", "Preflight", "forced_local", "plan_models", "prepare",
           "sample_plan", "size_text"]
