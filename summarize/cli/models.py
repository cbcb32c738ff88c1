"""`summarize models ...`: the model registry, the routing plan of a job, and pre-downloading models.

A Typer sub-app mounted by `cli.app`. Like the rest of the CLI it only parses, builds options and
calls the library (`registry`, `routing`, `backends.hub`); heavy imports stay inside commands so
`summarize --help` stays instant. `plan` and `fetch` take the routing, reading and detection
options from `params`, as `summarize run` does, so their command line is a `run` command line
minus the output options.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import ModelError, SummarizeError, UsageError
from .common import fail, json_logs, say, setup_logging
from .params import (
    COLUMNS,
    DETECTION,
    READING,
    ROUTING,
    AsJson,
    Inputs,
    Quiet,
    RegistryFile,
    Verbose,
    read_options,
    run_options,
    takes,
)

models_app = typer.Typer(
    help="The models: list the registry, plan which model does what for a job, fetch them for offline runs.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

if TYPE_CHECKING:
    from ..models.downloads import DownloadPlan, ModelDownload
    from ..models.registry import ModelInfo
    from ..models.routing import Assignment, RoutePlan
    from ..options import ReadOptions, RunOptions

# A run that would download more than this asks first, on an interactive terminal only.
CONFIRM_BYTES = 1_000_000_000

# ------------------------------------------------------------------------------ list


def _langs(codes: frozenset[str]) -> str:
    if not codes:
        return "any"
    if len(codes) <= 6:
        return ",".join(sorted(codes))
    return f"{len(codes)} languages"


def _licence(info: ModelInfo) -> str:
    if not info.noncommercial:
        return info.licence
    return f"{info.licence} (non-commercial{', allowed by default' if info.allowed_by_default else ''})"


def _table(rows: list[list[str]], indent: str = "  ") -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


@models_app.command("list")
def list_models(
    registry: RegistryFile = None,
    task: Annotated[str | None, typer.Option("--task", help="Only summarization or translation models.")] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="Only models that read this language.")] = None,
    as_json: AsJson = False,
) -> None:
    """Show the model registry, in priority order: task, id, family, languages, licence.

    The first model that serves a language (pair) and whose licence is allowed wins; see
    `summarize models plan` for what a given job will use.
    """
    try:
        from ..models.langcodes import normalise
        from ..models.registry import TASKS, Registry

        if task is not None and task not in TASKS:
            raise UsageError(f"--task must be one of {', '.join(TASKS)}, not {task!r}")
        reg = Registry.load(registry)
    except SummarizeError as exc:
        raise fail(exc) from None
    code = normalise(lang) if lang else None
    models = [m for m in reg.models() if (task is None or m.task == task) and (code is None or m.reads(code))]
    if as_json:
        typer.echo(json.dumps({"sources": list(reg.sources), "models": [_model_dict(m) for m in models]}, indent=2))
        return
    if not models:
        typer.echo("no models match", err=True)
        return
    rows = [["task", "id", "family", "languages", "licence"]]
    for m in models:
        langs = _langs(m.languages) if m.task != "translation" else f"{_langs(m.languages)} -> {_langs(m.targets)}"
        marks = [k for k, on in (("default", m.default), ("english pivot", m.english_pivot)) if on]
        rows.append([m.task, m.id + (f" ({', '.join(marks)})" if marks else ""), m.family, langs, _licence(m)])
    typer.echo(_table(rows, indent=""))


def _model_dict(m: ModelInfo) -> dict[str, Any]:
    return {
        "id": m.id, "task": m.task, "family": m.family, "languages": sorted(m.languages),
        "targets": sorted(m.targets) if m.task == "translation" else None, "licence": m.licence,
        "noncommercial": m.noncommercial, "allowed_by_default": m.allowed_by_default, "default": m.default,
        "english_pivot": m.english_pivot, "target_token": m.target_token, "notes": m.notes,
    }


# ------------------------------------------------------------------------------ plan


def _what(a: Assignment) -> str:
    if a.field is None:
        return a.source_lang
    return f"{a.source_lang} -> {a.target_lang}"


def _size(m: ModelDownload) -> str:
    from ..models.downloads import format_size

    return format_size(m.size_bytes, m.estimate)


def size_sources(dl: DownloadPlan) -> str:
    """Where the sizes come from, e.g. `sizes: 16 recorded in the registry (read 2026-11-29); the
    Hub was not reached; ~ marks one figure for a model family`."""
    import re

    by: dict[str, int] = {}
    for m in dl.models:
        by[m.size_source] = by.get(m.size_source, 0) + 1
    parts = []
    if by.get("hub"):
        parts.append(f"{by['hub']} from the Hub's file metadata")
    if by.get("registry"):
        dates = sorted({d for m in dl.models for d in re.findall(r"\b20\d\d-\d\d-\d\d\b", m.source_note)})
        parts.append(f"{by['registry']} recorded in the registry" + (f" (read {', '.join(dates)})" if dates else ""))
    if by.get("local"):
        parts.append(f"{by['local']} measured on disk")
    if by.get("unknown"):
        parts.append(f"{by['unknown']} unknown")
    notes = ["sizes: " + (", ".join(parts) or "no models")]
    if dl.hub_online is False:
        notes.append("the Hub was not reached")
    if any(m.estimate for m in dl.models):
        notes.append("~ marks one figure for a model family")
    return "; ".join(notes)


def render_downloads(dl: DownloadPlan) -> str:
    """The download plan as text: each model's size and cache status, the total, the size sources."""
    rows = [["model", "size", "cache"]] + [[m.id, _size(m), m.status] for m in dl.models]
    return "\n".join([_table(rows, indent=""), "", dl.text(), size_sources(dl)])


def render_plan(plan: RoutePlan, downloads: DownloadPlan | None = None) -> str:
    """The plan as text for people: languages, summaries, translations, models (with their download
    size and cache status when `downloads` is given), unserved work, and the total to download."""
    langs = ", ".join(f"{k} {v}" for k, v in plan.languages.items()) or "none"
    out = [f"{plan.articles} articles ({plan.skipped} skipped, {plan.rejected} rejected); languages: {langs}"]
    if plan.summaries:
        out += ["", "summaries (language, articles, model)"]
        out.append(_table([[_what(a), str(a.articles), a.model or "-", "pivot" if a.route and a.route.is_pivot else ""]
                           for a in plan.summaries]))
    if plan.translations:
        out += ["", "translations (field, languages, articles, model)"]
        out.append(_table([[a.field or "", _what(a), str(a.articles), a.model or "-",
                            "pivot" if a.route and a.route.is_pivot else ""] for a in plan.translations]))
    if plan.models:
        sized = {m.id: m for m in downloads.models} if downloads else {}
        head = "models (id, tasks, articles, family, licence" + (", size, cache)" if downloads else ")")
        out += ["", head]
        rows = []
        for u in plan.models:
            row = [u.info.id, ",".join(u.tasks), str(u.articles), u.info.family,
                   _licence(u.info) if u.in_registry else "unknown (not in the registry: check it yourself)"]
            if downloads:
                m = sized.get(u.info.id)
                row += [_size(m), m.status] if m else ["?", "?"]
            rows.append(row)
        out.append(_table(rows))
    if plan.unserved:
        out += ["", "nothing can serve (these rows will have status error)"]
        out.append(_table([["summarize" if a.field is None else f"translate {a.field}", _what(a), str(a.articles),
                            a.error or ""] for a in plan.unserved]))
    if downloads is not None and plan.models:
        out += ["", f"downloads: {downloads.text()}", size_sources(downloads)]
    return "\n".join(out)


@models_app.command()
@takes(ROUTING, COLUMNS, READING, DETECTION)
def plan(
    inputs: Inputs,
    as_json: AsJson = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
    **shared: Any,
) -> None:
    """Show which model will do which task for which languages, for a job, without loading any model.

    Reads and detects the inputs as `summarize run` does with the same options, then prints the
    route of every summary language and translation pair with its article count, each model's
    licence, download size and cache status, the total still to download, and the work nothing
    can serve (those rows would fail in a run). Sizes come from the Hub's file metadata where it
    answers, else from the sizes recorded in the registry.
    """
    setup_logging(verbose, quiet)
    try:
        from ..models.downloads import plan_downloads
        from ..models.registry import Registry
        from ..models.routing import plan_inputs

        options = run_options(shared)
        reg = Registry.load(options.registry)
        result = plan_inputs(inputs, options, read_options(shared), registry=reg)
        dl = plan_downloads(result.model_ids(), registry=reg)
    except SummarizeError as exc:
        raise fail(exc) from None
    if as_json:
        typer.echo(json.dumps({**result.to_dict(), "downloads": dl.to_dict()}, indent=2, ensure_ascii=False))
    else:
        typer.echo(render_plan(result, dl))


# ----------------------------------------------------------------------------- fetch


@models_app.command()
@takes(ROUTING, COLUMNS, READING, DETECTION)
def fetch(
    inputs: Annotated[list[str] | None, typer.Argument(help="Input files to plan the models from (as for `summarize models plan`); or use --model.", show_default=False)] = None,
    model: Annotated[list[str] | None, typer.Option("--model", help="A model to fetch (Hub id); repeatable, with or without inputs.")] = None,
    revision: Annotated[str | None, typer.Option("--revision", help="Branch, tag or commit of the --model models to fetch (default: their main branch).")] = None,
    as_json: AsJson = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
    **shared: Any,
) -> None:
    """Download the models a job will use into the Hugging Face cache, for later offline runs.

    With inputs, the models are those `summarize models plan` shows for the same options; with
    --model, the ones named. First prints each model's download size and cache status and the
    total still to download, then fetches with progress on stderr (none with --quiet). Local
    folders are skipped. With --json, one JSON document on stdout at the end: the download plan
    and, per model, where it is in the cache or why it could not be fetched. Exit status 2 when
    any model could not be fetched (each failure is one line naming the model and why).
    """
    setup_logging(verbose, quiet)
    wanted: list[str] = []
    try:
        if not inputs and not model:
            raise UsageError("give input files (to fetch the models their plan uses) or --model ID")
        from ..models.downloads import plan_downloads
        from ..models.registry import Registry

        options = run_options(shared)
        reg = Registry.load(options.registry)
        if inputs:
            from ..models.routing import plan_inputs

            wanted += plan_inputs(inputs, options, read_options(shared), registry=reg).model_ids()
        wanted += model or []
        dl = plan_downloads(wanted, registry=reg)
    except SummarizeError as exc:
        raise fail(exc) from None
    from ..models.hub import fetch_model

    revisions = dict.fromkeys(model or [], revision)
    if not as_json:
        typer.echo(render_downloads(dl) if dl.models else "the plan needs no model")
    results: dict[str, dict[str, Any]] = {}
    failed = 0
    for m in dl.models:
        if m.local:
            results[m.id] = {"ok": True, "path": m.id, "error": None}
            if not quiet:
                typer.echo(f"summarize: {m.id}: local folder, nothing to fetch", err=True)
            continue
        try:
            where = fetch_model(m.id, revision=revisions.get(m.id), progress=not quiet and not m.cached)
        except ModelError as exc:
            failed += 1
            results[m.id] = {"ok": False, "path": None, "error": str(exc)}
            typer.echo(f"summarize: error: {exc}", err=True)
            continue
        results[m.id] = {"ok": True, "path": where, "error": None}
        if not quiet:
            typer.echo(f"summarize: {m.id}: in the cache at {where}", err=True)
    if as_json:
        doc = dl.to_dict()
        for entry in doc["models"]:
            entry.update(results.get(entry["id"], {}))
        typer.echo(json.dumps({**doc, "failed": failed}, indent=2, ensure_ascii=False))
    if failed:
        raise typer.Exit(2)


# ------------------------------------------------------------------- before a run


def _interactive() -> bool:
    """Someone can answer a question: stdin and stderr are terminals (never in a pipeline or CI)."""
    import sys

    return sys.stdin.isatty() and sys.stderr.isatty()


def _forced_local(options: RunOptions) -> list[str] | None:
    """The models of the run when every one it can load is a folder on disk: a forced summarizer
    and (with targets) a forced translator, which bypass the registry's routes; else None."""
    from ..models.downloads import is_local

    forced = [options.summary_model] + ([options.translation_model] if options.to else [])
    return [m for m in forced if m] if all(m is not None and is_local(m) for m in forced) else None


def preflight_downloads(inputs: list[str], options: RunOptions, read_opts: ReadOptions, *, quiet: bool,
                        yes: bool) -> None:
    """Before `summarize run` loads a model: say what it will download, ask on a terminal when
    that is over `CONFIRM_BYTES` (unless `yes`), then fetch it with progress, so that a run fails
    on a model it cannot get before any work, and within seconds when the Hub is unreachable.

    Reads and detects the inputs once (as `models plan` does) to learn the models; skipped for
    stdin, which cannot be read twice (the loads then fetch as they go), and when both models are
    forced local folders (nothing can be downloaded, so the pass would only cost time). Raises ModelError for
    the first model that cannot be fetched; exits 1 when the question is answered no."""
    if "-" in inputs:
        return
    from ..backends.source import fetch_error
    from ..models.downloads import format_size, plan_downloads
    from ..models.hub import fetch_model
    from ..models.registry import Registry
    from ..models.routing import plan_inputs

    reg = Registry.load(options.registry)
    # Reading and detecting every input only to learn the models is skipped when they are known.
    ids = _forced_local(options)
    dl = plan_downloads(ids if ids is not None else plan_inputs(inputs, options, read_opts, registry=reg).model_ids(),
                        registry=reg)
    if not quiet and dl.models:
        say(dl.text(), downloads=dl.to_dict())
    if dl.unfetchable:
        raise fetch_error(dl.unfetchable[0].id, ConnectionError("the Hub cannot be reached"))
    todo = dl.to_download
    if not todo:
        return
    ask = not yes and dl.download_bytes > CONFIRM_BYTES and _interactive()
    if ask and not typer.confirm(f"summarize: {format_size(dl.download_bytes)} to download first. Continue?",
                                 default=False, err=True):
        say("nothing downloaded; --yes (or yes = true in the config) skips this question")
        raise typer.Exit(1)
    for i, m in enumerate(todo, 1):
        if not quiet:
            say(f"downloading {i}/{len(todo)}: {m.id} ({_size(m)})")
        fetch_model(m.id, progress=not quiet and not json_logs())
