"""The `summarize` command line: parse, build options, call the library, map errors to exit codes.

Heavy libraries (torch, transformers, Polars) are imported inside the commands so that
`summarize --help` answers at once.
"""

from __future__ import annotations

import logging
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from . import __version__
from .errors import SummarizeError, UsageError

app = typer.Typer(
    name="summarize",
    help="Summarize and translate batches of news articles in any language into Parquet tables with full metadata.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
log = logging.getLogger("summarize")


class LongInput(str, Enum):
    chunk = "chunk"
    truncate = "truncate"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Backend(str, Enum):
    torch = "torch"
    ct2 = "ct2"


class EngineName(str, Enum):
    local = "local"
    ray = "ray"


class OutFormat(str, Enum):
    tables = "tables"
    wide = "wide"


class LogFormat(str, Enum):
    text = "text"
    json = "json"


class DetectorName(str, Enum):
    ensemble = "ensemble"
    langdetect = "langdetect"
    fasttext = "fasttext"
    lingua = "lingua"


class OnDuplicate(str, Enum):
    all = "all"
    first = "first"
    error = "error"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"summarize {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Summarize and translate batches of news articles into Parquet.

    Start with `summarize run INPUT... --out DIR`; `summarize detect` only detects languages.
    """


class JsonFormatter(logging.Formatter):
    """One JSON object per log line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        doc = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname.lower(),
            "logger": record.name, "message": record.getMessage(),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def setup_logging(verbose: bool, quiet: bool, log_format: LogFormat = LogFormat.text) -> None:
    """Log to stderr only (stdout may carry data); the library itself adds no handlers."""
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.INFO
    if not verbose:
        # Read when transformers / huggingface_hub are first imported (lazily, later): keep their
        # own bars and advice off stderr so our progress bar and log lines stay readable.
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("HF_HUB_VERBOSITY", "error")
    handler = logging.StreamHandler(sys.stderr)
    if log_format == LogFormat.json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("transformers", "huggingface_hub", "urllib3", "filelock", "ray", "ray.data"):
        logging.getLogger(noisy).setLevel(max(level, logging.ERROR))


def split_list(value: str | None) -> tuple[str, ...]:
    """`en, fr` -> ("en", "fr")."""
    if not value:
        return ()
    return tuple(v.strip() for v in value.split(",") if v.strip())


def fail(exc: SummarizeError) -> typer.Exit:
    typer.echo(f"summarize: error: {exc}", err=True)
    return typer.Exit(exc.exit_code)


# ---- shared option declarations (Annotated aliases keep the commands readable) ----
Inputs = Annotated[list[str], typer.Argument(help="Input files: .jsonl/.ndjson, .csv, .parquet, a folder of .txt/.md files, or - for JSONL on stdin.", show_default=False)]
IdCol = Annotated[str, typer.Option("--id-col", help="Column with the article id (missing ids are derived from the content).")]
TextCol = Annotated[str, typer.Option("--text-col", help="Column with the article text.")]
TitleCol = Annotated[str, typer.Option("--title-col", help="Column with the title (optional in the input).")]
LangCol = Annotated[str | None, typer.Option("--lang-col", help="Column with a known language (ISO 639-1); trusted unless --verify-lang.")]
KeepCol = Annotated[list[str] | None, typer.Option("--keep-col", help="Input column to carry through to the articles table (repeatable).")]
StripHtml = Annotated[bool, typer.Option("--strip-html", help="Strip HTML markup from texts (otherwise it is only flagged).")]
OnDup = Annotated[OnDuplicate, typer.Option("--on-duplicate-id", help="Duplicate ids: keep all, keep the first (reject the rest), or reject them as errors.")]
DetectorOpt = Annotated[DetectorName, typer.Option("--detector", help="Language detection engine (lingua needs the `lingua` extra).")]
MinScore = Annotated[float, typer.Option("--min-lang-score", help="Below this detector confidence the language is `und`.")]
MinChars = Annotated[int, typer.Option("--min-lang-chars", help="Texts with fewer letters than this are `und` (too short to tell).")]
To = Annotated[str, typer.Option("--to", help="Target languages, comma-separated ISO 639-1 codes.")]
Translate = Annotated[str, typer.Option("--translate", help="Fields to translate, comma-separated: summary, title, text.")]
RegistryFile = Annotated[Path | None, typer.Option("--registry", help="Your own model registry TOML, merged over the shipped one.", exists=True, dir_okay=False)]
AllowNC = Annotated[bool, typer.Option("--allow-noncommercial", help="Let routing use non-commercial models such as NLLB.")]
MaxChars = Annotated[int, typer.Option("--max-chars", help="Cut texts longer than this many characters (flagged input_truncated).")]
SummaryModel = Annotated[str | None, typer.Option("--summary-model", help="Force one summarization model (Hub id or local folder) for every language; default: routed per language (XL-Sum mT5 for its 45 languages, else a pivot through English).")]
TranslationModel = Annotated[str | None, typer.Option("--translation-model", help="Force one translation model (Hub id or local folder: Marian, M2M100, mBART-50, NLLB, T5); default: routed per pair (opus-mt, then opus-mt-mul-en, then M2M100).")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML file of option values (default: ./summarize.toml if present); SUMMARIZE_* environment variables override it, flags override both.", dir_okay=False)]
LogFormatOpt = Annotated[LogFormat, typer.Option("--log-format", help="Log lines on stderr as text or JSON (for log collectors).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar; only errors on stderr.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging on stderr.")]


def read_options(id_col: str, text_col: str, title_col: str, lang_col: str | None, keep_col: list[str] | None,
                 strip_html: bool, on_duplicate_id: OnDuplicate, max_chars: int = 100_000) -> Any:
    from .options import ReadOptions

    return ReadOptions(id_col=id_col, text_col=text_col, title_col=title_col, lang_col=lang_col,
                       keep_cols=tuple(keep_col or ()), strip_html=strip_html, on_duplicate_id=on_duplicate_id.value,
                       max_chars=max_chars)


@app.command()
def run(
    inputs: Inputs,
    out: Annotated[str, typer.Option("--out", "-o", help="Output folder (articles/, translations/, segments/, rejects/, run.json), or - to stream article rows as JSONL on stdout.", show_default=False)],
    to: To = "en",
    translate: Translate = "summary",
    summary_model: SummaryModel = None,
    translation_model: TranslationModel = None,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", help="Most tokens in a summary.")] = 84,
    beams: Annotated[int, typer.Option("--beams", help="Beam width for summaries (1 = greedy).")] = 4,
    no_repeat_ngram_size: Annotated[int, typer.Option("--no-repeat-ngram-size", help="Forbid repeated n-grams of this size in summaries (0 = off).")] = 2,
    repetition_penalty: Annotated[float, typer.Option("--repetition-penalty", help="Penalty (>1) on repeated tokens in summaries.")] = 1.0,
    translation_beams: Annotated[int, typer.Option("--translation-beams", help="Beam width for translations.")] = 4,
    translation_max_new_tokens: Annotated[int, typer.Option("--translation-max-new-tokens", help="Cap on tokens per translated sentence (the limit is proportional to the sentence).")] = 512,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Most inputs per model call.")] = 16,
    max_batch_tokens: Annotated[int, typer.Option("--max-batch-tokens", help="Most padded input tokens per model call.")] = 8192,
    long_input: Annotated[LongInput, typer.Option("--long-input", help="Articles over the model's input limit: chunk (map-reduce) or truncate.")] = LongInput.chunk,
    device: Annotated[Device, typer.Option("--device", help="Where models run.")] = Device.auto,
    max_errors: Annotated[int | None, typer.Option("--max-errors", help="Stop after this many failed or rejected records.")] = None,
    shard_size: Annotated[int, typer.Option("--shard-size", help="Articles processed and written together (bounds memory).")] = 256,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the tables of an existing output folder.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run in --out (same inputs and options): skip articles already written.")] = False,
    partition_by: Annotated[str | None, typer.Option("--partition-by", help="Hive-style partition folders: lang, date (from a `published` column), or lang,date.")] = None,
    out_format: Annotated[OutFormat, typer.Option("--format", help="tables: the Parquet tables; wide: also one flat wide.parquet (a column per field and language).")] = OutFormat.tables,
    engine: Annotated[EngineName, typer.Option("--engine", help="local: this process; ray: Ray Data actors (the `ray` extra), on this machine or a cluster.")] = EngineName.local,
    ray_address: Annotated[str | None, typer.Option("--ray-address", help="Ray cluster to join (e.g. ray://head:10001 or auto); default: start Ray locally.")] = None,
    workers: Annotated[int, typer.Option("--workers", help="Ray engine: number of model actors.")] = 1,
    gpus_per_worker: Annotated[float, typer.Option("--gpus-per-worker", help="Ray engine: GPUs reserved per actor (0 for CPU nodes).")] = 0.0,
    cpus_per_worker: Annotated[float, typer.Option("--cpus-per-worker", help="Ray engine: CPUs reserved per actor (its torch threads).")] = 1.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the resolved options and the model plan, load no model, write nothing.")] = False,
    config: ConfigOpt = None,
    log_format: LogFormatOpt = LogFormat.text,
    backend: Annotated[Backend, typer.Option("--backend", help="Inference engine: torch (transformers) or ct2 (CTranslate2, the `ct2` extra).")] = Backend.torch,
    compute_type: Annotated[str | None, typer.Option("--compute-type", help="CTranslate2 compute type: default int8 on CPU; int8_bfloat16 on GPU (int8_float16 without bf16, never float16 for T5-family models).")] = None,
    max_loaded_models: Annotated[int, typer.Option("--max-loaded-models", help="Models kept in memory at once (least recently used dropped).")] = 2,
    prompt: Annotated[str | None, typer.Option("--prompt", help="Summary prompt template: a name from prompts/ or a file (default: by model family).")] = None,
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
    verify_lang: Annotated[bool, typer.Option("--verify-lang", help="Check languages given by --lang-col and flag confident disagreement.")] = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Summarize every article and translate the summary (and on request title and text) into each --to language.

    Writes Parquet tables to --out. Exit status: 0 when every article is ok or skipped, 1 when an
    article failed or a record was rejected, 2 for usage errors.
    """
    setup_logging(verbose, quiet, log_format)
    try:
        from .options import DetectOptions, GenerationOptions, RunOptions

        options = RunOptions(
            to=split_list(to), translate=split_list(translate),
            summary_model=summary_model, translation_model=translation_model,
            summary=GenerationOptions(max_new_tokens=max_new_tokens, num_beams=beams, no_repeat_ngram_size=no_repeat_ngram_size,
                                      repetition_penalty=repetition_penalty, batch_size=batch_size, max_batch_tokens=max_batch_tokens),
            translation=GenerationOptions(max_new_tokens=translation_max_new_tokens, num_beams=translation_beams, no_repeat_ngram_size=0,
                                          batch_size=batch_size, max_batch_tokens=max_batch_tokens),
            long_input=long_input.value, device=device.value, max_errors=max_errors, shard_size=shard_size,
            backend=backend.value, compute_type=compute_type, max_loaded_models=max_loaded_models, prompt=prompt,
            registry=str(registry) if registry else None, allow_noncommercial=allow_noncommercial,
            detect=DetectOptions(engine=detector.value, min_score=min_lang_score, min_chars=min_lang_chars, verify_lang=verify_lang),
        )
        ropts = read_options(id_col, text_col, title_col, lang_col, keep_col, strip_html, on_duplicate_id, max_chars)
        if overwrite and resume:
            raise UsageError("--overwrite and --resume exclude each other")
        if dry_run:
            _dry_run(inputs, options, ropts)
            return
        eng = None
        if engine == EngineName.ray:
            from .engines.ray import RayEngine

            eng = RayEngine(options, workers=workers, gpus_per_worker=gpus_per_worker, cpus_per_worker=cpus_per_worker,
                            address=ray_address)
        info = _run_with_progress(inputs, out, options, ropts, overwrite=overwrite, resume=resume, quiet=quiet,
                                  partition_by=split_list(partition_by), wide=out_format == OutFormat.wide, engine=eng)
    except SummarizeError as exc:
        raise fail(exc) from None
    counts = ", ".join(f"{v} {k}" for k, v in sorted(info.counts.items())) or "no articles"
    where = "stdout" if out == "-" else out
    extra = f", {info.resumed} already done" if info.resumed else ""
    stopped = f"; interrupted by {info.interrupted}, rerun with --resume to finish" if info.interrupted else ""
    if not quiet or info.exit_code:
        typer.echo(f"summarize: {counts}, {info.rejected} rejected{extra}; output in {where}{stopped}", err=True)
    raise typer.Exit(info.exit_code)


def _run_with_progress(inputs: list[str], out: str, options: Any, ropts: Any, *, overwrite: bool, resume: bool,
                       quiet: bool, partition_by: tuple[str, ...], wide: bool, engine: Any = None) -> Any:
    from tqdm import tqdm

    from .api import run
    from .io import count_records

    total = count_records(inputs)
    with tqdm(total=total, unit="article", file=sys.stderr, disable=quiet, dynamic_ncols=True) as bar:
        return run(inputs, out, options, ropts, overwrite=overwrite, resume=resume, progress=bar.update,
                   partition_by=partition_by, wide=wide, engine=engine)


def _dry_run(inputs: list[str], options: Any, ropts: Any) -> None:
    """Print the resolved options and, per task, which model serves which languages."""
    import json

    from . import io

    io.check_inputs(inputs)
    io.check_columns(inputs, ropts)
    doc: dict[str, Any] = {"options": options.to_dict(), "read_options": ropts.__dict__}
    from .routing import plan_inputs

    doc["plan"] = plan_inputs(inputs, options, ropts).to_dict()
    typer.echo(json.dumps(doc, indent=2, default=str))


@app.command()
def detect(
    inputs: Inputs,
    out: Annotated[str, typer.Option("--out", "-o", help="Output .parquet file, or - for JSONL on stdout.", show_default=False)],
    id_col: IdCol = "id",
    text_col: TextCol = "text",
    title_col: TitleCol = "title",
    lang_col: LangCol = None,
    strip_html: StripHtml = False,
    detector: DetectorOpt = DetectorName.ensemble,
    min_lang_score: MinScore = 0.5,
    min_lang_chars: MinChars = 6,
    config: ConfigOpt = None,
    log_format: LogFormatOpt = LogFormat.text,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Detect the language of every record (no model is loaded).

    Writes id, lang, lang_score, lang_mix, detector, status and error per record, in input order.
    """
    setup_logging(verbose, quiet, log_format)
    try:
        from . import io
        from .detect import make_detector
        from .options import DetectOptions

        det = make_detector(DetectOptions(engine=detector.value, min_score=min_lang_score, min_chars=min_lang_chars))
        ropts = read_options(id_col, text_col, title_col, lang_col, None, strip_html, OnDuplicate.all)
        rows = io.detection_rows(io.read_records(inputs, ropts), det)
        n = io.write_detections(rows, out)
    except SummarizeError as exc:
        raise fail(exc) from None
    if not quiet:
        typer.echo(f"summarize: detected {n} records; output in {out}", err=True)


@app.command()
def schema(
    as_json: Annotated[bool, typer.Option("--json", help="Print the schema as JSON.")] = False,
) -> None:
    """Print every output table's columns, types and meanings."""
    import json

    from .schema import schema_dict, schema_markdown

    typer.echo(json.dumps(schema_dict(), indent=2) if as_json else schema_markdown())


def build_default_map(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> dict[str, Any]:
    """Click's `default_map` from the config file and `SUMMARIZE_*` variables (flags still win)."""
    from . import config as cfg

    path = cfg.config_path(argv, cwd)
    data = cfg.load_file(path) if path else {}
    root = typer.main.get_command(app)
    commands: dict[str, list[tuple[str, bool]]] = {}

    # Typer vendors its own Click, so commands are told apart by shape, not by class.
    def walk(cmd: Any, prefix: str) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, f"{prefix}.{name}" if prefix else name)
        else:
            commands[prefix] = [(p.name, bool(getattr(p, "multiple", False))) for p in cmd.params
                                if getattr(p, "param_type_name", "") == "option" and p.name and p.name != "config"]

    walk(root, "")
    flat = cfg.default_map(commands, data, cfg.environment() if env is None else env, source=str(path or "environment"))
    nested: dict[str, Any] = {}
    for key, values in flat.items():
        node = nested
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = values
    return nested


from .cli_models import models_app  # noqa: E402  (after the option types it shares; it imports nothing heavy)

app.add_typer(models_app, name="models", help="List the model registry, plan which model does what for a job, fetch models for offline runs.")


def main() -> None:
    """Console entry point: options from summarize.toml / --config and SUMMARIZE_* variables, then flags."""
    try:
        default_map = build_default_map(sys.argv[1:])
    except UsageError as exc:
        typer.echo(f"summarize: error: {exc}", err=True)
        sys.exit(2)
    app(default_map=default_map)


if __name__ == "__main__":
    main()
