"""Every option more than one command takes, declared once, with its default read from `options.py`.

A command lists its own options in its signature and names the shared groups it takes with
`@takes(COLUMNS, ROUTING, ...)`; the group options are added to the signature Typer reads and
reach the command as keyword arguments, from which `read_options`, `detect_options` and
`run_options` build the frozen options the library takes. The defaults come from the options
dataclasses, so `summarize --help` and the Python API cannot disagree.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ..errors import UsageError
from ..models.registry_file import default_summarizer
from ..options import (
    Backend,
    DetectOptions,
    DetectorName,
    Device,
    Extract,
    GenerationOptions,
    LongInput,
    OnDuplicate,
    ReadOptions,
    RunOptions,
    default_translation_generation,
)
from .common import LogFormat, split_list

_READ = ReadOptions()
_DETECT = DetectOptions()
_RUN = RunOptions()
_SUMMARY = GenerationOptions()
_TRANSLATION = default_translation_generation()


# ---- options every command spells the same way, used one by one --------------------------------
_INPUT_HELP = ("Input files: .jsonl/.ndjson, .csv/.tsv, .parquet, .txt/.md/.html files (one article each) or a folder of "
               "them, or - for JSONL on stdin.")
Inputs = Annotated[list[str], typer.Argument(help=_INPUT_HELP, metavar="INPUT", show_default=False)]
OptionalInputs = Annotated[list[str] | None, typer.Argument(help=_INPUT_HELP + " With --resume and none given: the inputs of the run in --out.", metavar="INPUT", show_default=False)]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML file of option values (default: ./summarize.toml if present); SUMMARIZE_* environment variables override it, flags override both.", dir_okay=False)]
LogFormatOpt = Annotated[LogFormat, typer.Option("--log-format", help="Log lines on stderr as text or JSON (for log collectors).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar; only errors on stderr.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging on stderr.")]
RegistryFile = Annotated[Path | None, typer.Option("--registry", help="Your own model registry TOML, merged over the shipped one.", exists=True, dir_okay=False)]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of a table.")]


# ---- option groups -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Shared:
    """One option of a group: its parameter name, its Typer declaration and its default."""

    name: str
    annotation: Any
    default: Any


def _opt(name: str, kind: Any, flag: str, default: Any, help: str, **extra: Any) -> Shared:
    return Shared(name, Annotated[kind, typer.Option(flag, help=help, **extra)], default)


#: Which input columns hold what, and how raw text is taken.
COLUMNS = (
    _opt("id_col", str, "--id-col", _READ.id_col, "Column with the article id (missing ids are derived from the content).", metavar="COLUMN"),
    _opt("text_col", str, "--text-col", _READ.text_col, "Column with the article text.", metavar="COLUMN"),
    _opt("title_col", str, "--title-col", _READ.title_col, "Column with the title (optional in the input).", metavar="COLUMN"),
    _opt("lang_col", str | None, "--lang-col", _READ.lang_col, "Column with a known language (an ISO 639-1, 639-2 or 639-3 code, or a tag such as pt-BR); trusted unless --verify-lang.", metavar="COLUMN"),
    _opt("follow_symlinks", bool, "--follow-symlinks", _READ.follow_symlinks, "Read symbolic links in an input folder that lead out of it (by default each is skipped with a reject row)."),
    _opt("extract", Extract, "--extract", _READ.extract, "Pages and text dumps: main = the article alone (main-content extraction for HTML with its title, date, author, site and URL; a text dump's header lines to title/date/source and its standalone chrome lines removed, all kept in `removed`); all = every visible text of a page (markup stripped; dumps as for main); none = texts as given."),
    _opt("strip_html", bool, "--strip-html", _READ.strip_html, "The old spelling of --extract all."),
)
#: What a run keeps from the input, and how it treats duplicates and runaway texts.
READING = (
    _opt("keep_col", list[str] | None, "--keep-col", None, "Input column to carry through to the articles table (repeatable); NAME:TYPE fixes its type (str, int, float, bool, date, timestamp).", metavar="NAME[:TYPE]"),
    _opt("published_col", str | None, "--published-col", _READ.published_col, "Column with the publication time, parsed into published_at (default: `published` when the input has it).", metavar="COLUMN"),
    _opt("on_duplicate_id", OnDuplicate, "--on-duplicate-id", _READ.on_duplicate_id, "Duplicate ids: keep all (for tables, which are keyed by id, a later duplicate is rejected as an error, and an --append or --upsert batch with one is refused), keep the first or the last version (the others go to rejects), or reject them as errors."),
    _opt("max_chars", int, "--max-chars", _READ.max_chars, "Cut texts and titles longer than this many characters (flagged input_truncated, title_truncated)."),
)
#: Language detection.
DETECTION = (
    _opt("detector", DetectorName, "--detector", _DETECT.engine, "Language detection engine: the ensemble (langdetect + fastText, lingua for hard cases) or one engine alone."),
    _opt("min_lang_score", float, "--min-lang-score", _DETECT.min_score, "Below this detector confidence the language is `und`."),
    _opt("min_lang_chars", int, "--min-lang-chars", _DETECT.min_chars, "Texts with fewer letters than this are `und` (too short to tell)."),
)
#: What to produce and which models may produce it: a `models plan` line is a `run` line minus the outputs.
ROUTING = (
    _opt("to", str, "--to", ",".join(_RUN.to), "Target languages, comma-separated ISO 639-1 codes.", metavar="LANGS"),
    _opt("translate", str, "--translate", ",".join(_RUN.translate), "Fields to translate, comma-separated: summary, title, text.", metavar="FIELDS"),
    _opt("summary_model", str | None, "--summary-model", _RUN.summary_model, "Force one summarization model (Hub id or local folder) for every language; default: routed per language "
         f"(XL-Sum mT5 for its {len(default_summarizer().languages)} languages, else a pivot through English).", metavar="MODEL"),
    _opt("translation_model", str | None, "--translation-model", _RUN.translation_model, "Force one translation model (Hub id or local folder: Marian, M2M100, mBART-50, NLLB, T5); default: routed per pair (opus-mt, then opus-mt-mul-en, then M2M100).", metavar="MODEL"),
    Shared("registry", RegistryFile, None),
    _opt("allow_noncommercial", bool, "--allow-noncommercial", _RUN.allow_noncommercial, "Let routing use non-commercial models such as NLLB."),
)
#: Decoding and batching (`summarize run` only).
GENERATION = (
    _opt("max_new_tokens", int, "--max-new-tokens", _SUMMARY.max_new_tokens, "Most tokens in a summary."),
    _opt("min_new_tokens", int, "--min-new-tokens", _SUMMARY.min_new_tokens, "Fewest tokens in a summary before it may end (0 = no minimum; benchmarks force equal lengths with it)."),
    _opt("beams", int, "--beams", _SUMMARY.num_beams, "Beam width for summaries (1 = greedy)."),
    _opt("no_repeat_ngram_size", int, "--no-repeat-ngram-size", _SUMMARY.no_repeat_ngram_size, "Forbid repeated n-grams of this size in summaries (0 = off)."),
    _opt("repetition_penalty", float, "--repetition-penalty", _SUMMARY.repetition_penalty, "Penalty (>1) on repeated tokens in summaries."),
    _opt("translation_beams", int, "--translation-beams", _TRANSLATION.num_beams, "Beam width for translations."),
    _opt("translation_max_new_tokens", int, "--translation-max-new-tokens", _TRANSLATION.max_new_tokens, "Cap on tokens per translated sentence (the limit is proportional to the sentence)."),
    _opt("batch_size", int, "--batch-size", _SUMMARY.batch_size, "Most inputs per model call."),
    _opt("max_batch_tokens", int, "--max-batch-tokens", _SUMMARY.max_batch_tokens, "Most padded input tokens per model call."),
    _opt("long_input", LongInput, "--long-input", _RUN.long_input, "Articles over the model's input limit: chunk (map-reduce) or truncate."),
    _opt("device", Device, "--device", _RUN.device, "Where models run."),
    _opt("backend", Backend, "--backend", _RUN.backend, "Inference engine: auto (CTranslate2 on CPU when installed, else torch), torch (transformers) or ct2 (CTranslate2); a model CTranslate2 cannot convert runs on torch."),
    _opt("compute_type", str | None, "--compute-type", _RUN.compute_type, "CTranslate2 compute type: default int8 on CPU; int8_bfloat16 on GPU (int8_float16 without bf16, never float16 for T5-family models).", metavar="TYPE"),
    _opt("max_loaded_models", int | None, "--max-loaded-models", _RUN.max_loaded_models, "Most models kept in memory at once (least recently used dropped); default: as many as --model-memory holds."),
    _opt("model_memory", float | None, "--model-memory", _RUN.model_memory, "GiB of model weights kept loaded across shards (least recently used dropped past it); default: half the free RAM, or 80% of the free GPU memory."),
    _opt("prompt", str | None, "--prompt", _RUN.prompt, "Summary prompt template: a name from prompts/ or a file (default: by model family).", metavar="NAME|FILE"),
    _opt("min_logprob", float, "--min-logprob", _RUN.min_logprob, "Flag outputs low_confidence below this mean log-probability per generated token, in nats (-inf: never)."),
    _opt("reuse", bool, "--reuse/--no-reuse", _RUN.reuse, "Reuse summaries and sentence translations the output already holds for the same text, model and options (docs/reuse.md); --no-reuse generates everything again."),
)

#: Object storage (`s3://`, `gs://`, `az://`, any fsspec URL) for inputs and --out.
STORAGE = (
    _opt("storage_option", list[str] | None, "--storage-option", None, "KEY=VALUE for object storage URLs (repeatable), e.g. aws_endpoint_url=http://host:9000 or aws_region=eu-west-1; credentials come from the standard environment and config files when not given.", metavar="KEY=VALUE"),
)

F = TypeVar("F", bound=Callable[..., Any])


def takes(*groups: tuple[Shared, ...]) -> Callable[[F], F]:
    """Add the groups' options to a command's signature (after its own); the command receives
    them through its `**shared` keyword arguments."""

    def add(command: F) -> F:
        # Typer reads `__signature__` as it is, so the command's own (string) annotations are
        # resolved here, against the command's module.
        sig = inspect.signature(command, eval_str=True)
        own = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        extra = [inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, annotation=o.annotation, default=o.default)
                 for group in groups for o in group]
        command.__signature__ = sig.replace(parameters=[*own, *extra])  # type: ignore[attr-defined]
        return command

    return add


# ---- options objects from option values --------------------------------------------------------


def storage_options(values: Mapping[str, Any]) -> dict[str, str]:
    """`--storage-option KEY=VALUE` pairs as a dict; a pair without `=` is a usage error."""
    out: dict[str, str] = {}
    for pair in values.get("storage_option") or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--storage-option takes KEY=VALUE, not {pair!r}")
        out[key.strip()] = value
    return out


def read_options(values: Mapping[str, Any]) -> ReadOptions:
    """`ReadOptions` from the COLUMNS (and, where the command has them, READING) values."""
    dup = values.get("on_duplicate_id")
    return ReadOptions(
        id_col=values["id_col"], text_col=values["text_col"], title_col=values["title_col"],
        lang_col=values["lang_col"], keep_cols=tuple(values.get("keep_col") or ()), strip_html=values["strip_html"],
        on_duplicate_id=dup if dup is not None else _READ.on_duplicate_id,
        max_chars=values.get("max_chars", _READ.max_chars), published_col=values.get("published_col"),
        follow_symlinks=values.get("follow_symlinks", _READ.follow_symlinks),
        extract=Extract(values.get("extract", _READ.extract)),
    )


def detect_options(values: Mapping[str, Any], *, verify_lang: bool = _DETECT.verify_lang) -> DetectOptions:
    """`DetectOptions` from the DETECTION values."""
    return DetectOptions(engine=values["detector"], min_score=values["min_lang_score"],
                         min_chars=values["min_lang_chars"], verify_lang=verify_lang)


def run_options(values: Mapping[str, Any], **run: Any) -> RunOptions:
    """`RunOptions` from the ROUTING and DETECTION values, plus GENERATION's where given, plus
    `run`'s keyword arguments (RunOptions fields such as `max_errors`)."""
    fields: dict[str, Any] = {}
    if "beams" in values:
        batching = {"batch_size": values["batch_size"], "max_batch_tokens": values["max_batch_tokens"]}
        fields = {
            "summary": replace(_SUMMARY, max_new_tokens=values["max_new_tokens"], num_beams=values["beams"],
                               no_repeat_ngram_size=values["no_repeat_ngram_size"],
                               min_new_tokens=values["min_new_tokens"],
                               repetition_penalty=values["repetition_penalty"], **batching),
            "translation": replace(_TRANSLATION, max_new_tokens=values["translation_max_new_tokens"],
                                   num_beams=values["translation_beams"], **batching),
            "long_input": values["long_input"], "device": values["device"],
            "backend": values["backend"], "compute_type": values["compute_type"],
            "max_loaded_models": values["max_loaded_models"], "model_memory": values["model_memory"],
            "prompt": values["prompt"], "min_logprob": values["min_logprob"], "reuse": values["reuse"],
        }
    registry = values["registry"]
    return RunOptions(
        to=split_list(values["to"]), translate=split_list(values["translate"]),
        summary_model=values["summary_model"], translation_model=values["translation_model"],
        registry=str(registry) if registry else None, allow_noncommercial=values["allow_noncommercial"],
        detect=detect_options(values, verify_lang=run.pop("verify_lang", _DETECT.verify_lang)), **fields, **run,
    )
