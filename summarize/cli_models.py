"""`summarize models ...`: the model registry, the routing plan of a job, and pre-downloading models.

A Typer sub-app mounted by `cli.py`. Like the rest of the CLI it only parses, builds options and
calls the library (`registry`, `routing`, `io`, `detect`); heavy imports stay inside commands so
`summarize --help` stays instant. The routing options are spelled as `summarize run` spells them,
so a `plan` or `fetch` command line is a `run` command line minus the output options.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

# Defined before importing `cli`, which mounts it: whichever module is imported first, the other
# finds `models_app` already there (commands are attached to it below, before any call).
models_app = typer.Typer(
    help="The models: list the registry, plan which model does what for a job, fetch them for offline runs.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

from .cli import (  # noqa: E402
    AllowNC,
    DetectorName,
    DetectorOpt,
    IdCol,
    Inputs,
    KeepCol,
    LangCol,
    MaxChars,
    MinChars,
    MinScore,
    OnDup,
    OnDuplicate,
    Quiet,
    RegistryFile,
    StripHtml,
    SummaryModel,
    TextCol,
    TitleCol,
    To,
    Translate,
    TranslationModel,
    Verbose,
    fail,
    read_options,
    setup_logging,
    split_list,
)
from .errors import SummarizeError, UsageError  # noqa: E402

if TYPE_CHECKING:
    from .options import RunOptions
    from .registry import ModelInfo
    from .routing import Assignment, Plan

# Weights for other frameworks: transformers with torch never reads them, and they can be GBs.
_OTHER_FRAMEWORKS = [
    "*.h5", "*.msgpack", "*.ot", "*.onnx", "*.onnx_data", "*.tflite", "*.mlmodel",
    "onnx/*", "openvino/*", "coreml/*", "tf_model*", "flax_model*", "rust_model*",
]  # fmt: skip

# ---- routing options, spelled and explained as `summarize run` does (keep them in step) ----
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of a table.")]


def run_options(
    to: str, translate: str, summary_model: str | None, translation_model: str | None, registry: Path | None,
    allow_noncommercial: bool, detector: DetectorName, min_lang_score: float, min_lang_chars: int,
) -> RunOptions:
    """The `RunOptions` that `summarize run` would build from the same routing options."""
    from .options import DetectOptions, RunOptions

    return RunOptions(
        to=split_list(to), translate=split_list(translate), summary_model=summary_model,
        translation_model=translation_model, registry=str(registry) if registry else None,
        allow_noncommercial=allow_noncommercial,
        detect=DetectOptions(engine=detector.value, min_score=min_lang_score, min_chars=min_lang_chars),
    )


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
        from .langcodes import normalise
        from .registry import TASKS, Registry

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
def plan(
    inputs: Inputs,
    to: To = "en",
    translate: Translate = "summary",
    summary_model: SummaryModel = None,
    translation_model: TranslationModel = None,
    registry: RegistryFile = None,
    allow_noncommercial: AllowNC = False,
    id_col: IdCol = "id",
    text_col: TextCol = "text",
    title_col: TitleCol = "title",
    lang_col: LangCol = None,
    keep_col: KeepCol = None,
    strip_html: StripHtml = False,
    on_duplicate_id: OnDup = OnDuplicate.all,
    max_chars: MaxChars = 100_000,
    detector: DetectorOpt = DetectorName.ensemble,
    min_lang_score: MinScore = 0.5,
    min_lang_chars: MinChars = 6,
    as_json: AsJson = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Show which model will do which task for which languages, for a job, without loading any model.

    Reads and detects the inputs as `summarize run` does with the same options, then prints the
    route of every summary language and translation pair with its article count, each model's
    licence, and the work nothing can serve (those rows would fail in a run).
    """
    setup_logging(verbose, quiet)
    try:
        options = run_options(to, translate, summary_model, translation_model, registry, allow_noncommercial,
                              detector, min_lang_score, min_lang_chars)
        ropts = read_options(id_col, text_col, title_col, lang_col, keep_col, strip_html, on_duplicate_id, max_chars)
        from .routing import plan_inputs

        result = plan_inputs(inputs, options, ropts)
    except SummarizeError as exc:
        raise fail(exc) from None
    typer.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) if as_json else render_plan(result))


# ----------------------------------------------------------------------------- fetch


def _looks_like_path(model: str) -> bool:
    return model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model


def _why(model: str, exc: BaseException) -> str:
    """One clause saying why a model could not be fetched, without the Hub's multi-line prose."""
    from huggingface_hub import errors as hf
    from huggingface_hub import is_offline_mode

    if isinstance(exc, hf.HFValidationError):
        if _looks_like_path(model):
            return "no such local folder, and not a Hub id"
        return "not a valid Hub model id"
    if isinstance(exc, hf.GatedRepoError):
        return "the model is gated: accept its terms on its Hub page and log in (hf auth login)"
    if isinstance(exc, hf.RepositoryNotFoundError):
        return "no such model on the Hub (or it is private: log in with hf auth login)"
    if isinstance(exc, hf.RevisionNotFoundError):
        return "the Hub has no such revision of it"
    if isinstance(exc, hf.LocalEntryNotFoundError | hf.OfflineModeIsEnabled):
        if is_offline_mode():
            return "HF_HUB_OFFLINE is set and it is not in the Hugging Face cache; fetch it where the Hub is reachable"
        return "the Hub cannot be reached and it is not in the Hugging Face cache"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def fetch_model(model: str) -> str:
    """Download a Hub model's files for transformers (not other frameworks' weights) into the
    Hugging Face cache, or find them there; returns the snapshot folder. Raises what
    huggingface_hub raises."""
    from huggingface_hub import list_repo_files, snapshot_download

    ignore = list(_OTHER_FRAMEWORKS)
    try:
        files = list_repo_files(model)
    except Exception:
        files = []  # offline or unreachable: snapshot_download then uses the cache or says why
    if any(f.endswith(".safetensors") for f in files):
        # transformers prefers safetensors; the legacy pickles would double the download.
        ignore += ["pytorch_model*.bin", "*.pt"]
    return str(snapshot_download(model, ignore_patterns=ignore))


@models_app.command()
def fetch(
    inputs: Annotated[list[str] | None, typer.Argument(help="Input files to plan the models from (as for `summarize plan`); or use --model.", show_default=False)] = None,
    model: Annotated[list[str] | None, typer.Option("--model", help="A model to fetch (Hub id); repeatable, with or without inputs.")] = None,
    to: To = "en",
    translate: Translate = "summary",
    summary_model: SummaryModel = None,
    translation_model: TranslationModel = None,
    registry: RegistryFile = None,
    allow_noncommercial: AllowNC = False,
    id_col: IdCol = "id",
    text_col: TextCol = "text",
    title_col: TitleCol = "title",
    lang_col: LangCol = None,
    keep_col: KeepCol = None,
    strip_html: StripHtml = False,
    on_duplicate_id: OnDup = OnDuplicate.all,
    max_chars: MaxChars = 100_000,
    detector: DetectorOpt = DetectorName.ensemble,
    min_lang_score: MinScore = 0.5,
    min_lang_chars: MinChars = 6,
    quiet: Quiet = False,
    verbose: Verbose = False,
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
            options = run_options(to, translate, summary_model, translation_model, registry, allow_noncommercial,
                                  detector, min_lang_score, min_lang_chars)
            ropts = read_options(id_col, text_col, title_col, lang_col, keep_col, strip_html, on_duplicate_id, max_chars)
            from .routing import plan_inputs

            wanted += plan_inputs(inputs, options, ropts).model_ids()
    except SummarizeError as exc:
        raise fail(exc) from None
    wanted += model or []
    from .backends import is_local

    failed = 0
    for mid in dict.fromkeys(wanted):
        if is_local(mid):
            if not quiet:
                typer.echo(f"summarize: {mid}: local folder, nothing to fetch", err=True)
            continue
        try:
            where = fetch_model(mid)
        except Exception as exc:
            failed += 1
            typer.echo(f"summarize: error: cannot fetch model '{mid}': {_why(mid, exc)}", err=True)
            continue
        if not quiet:
            typer.echo(f"summarize: {mid}: in the cache at {where}", err=True)
    if failed:
        raise typer.Exit(2)
    if not wanted and not quiet:
        typer.echo("summarize: the plan needs no model", err=True)
