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
from .common import fail, setup_logging
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
    from ..registry import ModelInfo
    from ..routing import Assignment, Plan

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
        from ..langcodes import normalise
        from ..registry import TASKS, Registry

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


def render_plan(plan: Plan) -> str:
    """The plan as text for people: languages, summaries, translations, models, unserved work."""
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
        out += ["", "models (id, tasks, articles, family, licence)"]
        out.append(_table([[u.info.id, ",".join(u.tasks), str(u.articles), u.info.family,
                            _licence(u.info) if u.in_registry else "unknown (not in the registry: check it yourself)"]
                           for u in plan.models]))
    if plan.unserved:
        out += ["", "nothing can serve (these rows will have status error)"]
        out.append(_table([["summarize" if a.field is None else f"translate {a.field}", _what(a), str(a.articles),
                            a.error or ""] for a in plan.unserved]))
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
    licence, and the work nothing can serve (those rows would fail in a run).
    """
    setup_logging(verbose, quiet)
    try:
        from ..routing import plan_inputs

        result = plan_inputs(inputs, run_options(shared), read_options(shared))
    except SummarizeError as exc:
        raise fail(exc) from None
    typer.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) if as_json else render_plan(result))


# ----------------------------------------------------------------------------- fetch


@models_app.command()
@takes(ROUTING, COLUMNS, READING, DETECTION)
def fetch(
    inputs: Annotated[list[str] | None, typer.Argument(help="Input files to plan the models from (as for `summarize models plan`); or use --model.", show_default=False)] = None,
    model: Annotated[list[str] | None, typer.Option("--model", help="A model to fetch (Hub id); repeatable, with or without inputs.")] = None,
    revision: Annotated[str | None, typer.Option("--revision", help="Branch, tag or commit of the --model models to fetch (default: their main branch).")] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    **shared: Any,
) -> None:
    """Download the models a job will use into the Hugging Face cache, for later offline runs.

    With inputs, the models are those `summarize models plan` shows for the same options; with
    --model, the ones named. Local folders are skipped. Exit status 2 when any model could not be
    fetched (each failure is one line naming the model and why).
    """
    setup_logging(verbose, quiet)
    wanted: list[str] = []
    try:
        if not inputs and not model:
            raise UsageError("give input files (to fetch the models their plan uses) or --model ID")
        if inputs:
            from ..routing import plan_inputs

            wanted += plan_inputs(inputs, run_options(shared), read_options(shared)).model_ids()
    except SummarizeError as exc:
        raise fail(exc) from None
    from ..backends import is_local
    from ..backends.hub import fetch_model

    revisions = dict.fromkeys(model or [], revision)
    wanted += model or []

    failed = 0
    for mid in dict.fromkeys(wanted):
        if is_local(mid):
            if not quiet:
                typer.echo(f"summarize: {mid}: local folder, nothing to fetch", err=True)
            continue
        try:
            where = fetch_model(mid, revision=revisions.get(mid))
        except ModelError as exc:
            failed += 1
            typer.echo(f"summarize: error: {exc}", err=True)
            continue
        if not quiet:
            typer.echo(f"summarize: {mid}: in the cache at {where}", err=True)
    if failed:
        raise typer.Exit(2)
    if not wanted and not quiet:
        typer.echo("summarize: the plan needs no model", err=True)
