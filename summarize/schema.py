"""Typed records that flow through the pipeline, and the one definition of the output tables.

Everything downstream (the Parquet writer, `summarize schema`, the README's schema section)
derives from `TABLES`, so the files and their documentation cannot drift apart.
No I/O and no models here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = "1.0"

# Article status values.
OK = "ok"
ERROR = "error"
SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Article:
    """One input record, as read.

    Attributes:
        id: The article's id (from the id column, the file path, or derived from its content).
        row_index: 0-based position of the article in the whole run's input order.
        source: The input it came from (a path, or `-` for stdin).
        line: 1-based line (JSONL, text) or row (CSV, Parquet) number in `source`.
        text: The article's body.
        title: Its title, if any.
        lang: A language given by the input (`--lang-col`), trusted unless verified.
        extra: Columns kept with `--keep-col`, by name.
        flags: Problems noticed while reading (e.g. `invalid_utf8`), carried to the output.
        published: The `published` value, if the input has one (used for partitioning).
    """

    id: str
    row_index: int
    source: str
    line: int
    text: str
    title: str | None = None
    lang: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    published: str | None = None


@dataclass(frozen=True, slots=True)
class Reject:
    """An input record that could not be read into an `Article`."""

    source: str
    line: int
    error: str
    raw: str
    fatal: bool = True  # False for a record dropped on purpose (a duplicate id under `first`)


@dataclass(frozen=True, slots=True)
class Detection:
    """The language of a text as the detector sees it.

    Attributes:
        lang: ISO 639-1 code, or `und` when the detector cannot tell.
        score: Calibrated confidence in `lang`, 0..1 (0 for `und`).
        mix: Languages found per paragraph with their share of the text, dominant first.
        detector: Name of the engine (`langdetect`, `lingua`, `given`).
        reason: Why the answer is `und` or low (e.g. `too_short`, `no_letters`), else None.
    """

    lang: str
    score: float
    mix: tuple[tuple[str, float], ...] = ()
    detector: str = "langdetect"
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class SegmentResult:
    """One source sentence and its translation."""

    field: str
    target_lang: str
    para_index: int
    seg_index: int
    source_text: str
    target_text: str
    source_tokens: int
    target_tokens: int
    logprob: float | None = None  # token-weighted mean over the model calls that made it; None for identity
    gen_tokens: int = 0


@dataclass(frozen=True, slots=True)
class TranslationResult:
    """One field of one article translated into one language."""

    field: str
    source_lang: str
    target_lang: str
    text: str | None
    model: str | None
    status: str = OK
    error: str | None = None
    flags: tuple[str, ...] = ()
    segments: tuple[SegmentResult, ...] = ()
    logprob: float | None = None  # token-weighted mean of the segments'; None for identity or failure
    gen_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ArticleResult:
    """Everything the run produced for one article."""

    article: Article
    detection: Detection
    summary: str | None
    summary_model: str | None
    input_tokens: int
    summary_tokens: int
    n_chunks: int
    truncated: bool
    status: str
    error: str | None
    duration_ms: float
    flags: tuple[str, ...] = ()
    translations: tuple[TranslationResult, ...] = ()
    lang_source: str = "detected"
    content_hash: str = ""
    unsupported: tuple[str, ...] = ()
    summary_logprob: float | None = None
    summary_gen_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Column:
    """One output column: its name, its logical type and what it means."""

    name: str
    type: str
    description: str


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


# Logical types: str, i64, f64, bool, list[str], list[lang_share] (a list of {lang: str, share: f64}).
TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "articles",
            "One row per input article, in input order.",
            (
                Column("id", "str", "Article id: the input's id column, the file path in a folder input, or `sha256:` + the content hash."),
                Column("row_index", "i64", "0-based position of the article in the run's input order."),
                Column("source", "str", "The input file it came from (`-` for stdin)."),
                Column("line", "i64", "1-based line (JSONL, text) or row (CSV, Parquet) in `source`."),
                Column("title", "str", "The article's title, if the input had one."),
                Column("lang", "str", "ISO 639-1 language of the article, or `und` when it cannot be told."),
                Column("lang_score", "f64", "Confidence in `lang`, 0..1 (1.0 for a given language)."),
                Column("lang_mix", "list[lang_share]", "Languages found per paragraph and their share of the text, dominant first."),
                Column("lang_source", "str", "`detected`, or `given` when `--lang-col` supplied it."),
                Column("summary", "str", "The abstractive summary, in the article's language."),
                Column("summary_model", "str", "Model that wrote the summary (Hub id or local path)."),
                Column("input_tokens", "i64", "Tokens of the article's input to the summary model."),
                Column("summary_tokens", "i64", "Tokens of the summary."),
                Column("n_chunks", "i64", "How many chunks the article was summarized in (1 when it fits the model)."),
                Column("truncated", "bool", "True only when text was really dropped to fit the model's input limit."),
                Column("flags", "list[str]", "Quality and input warnings (e.g. `repetition`, `length_ratio`, `wrong_language`, `empty_output`, `low_confidence`, `unsupported_number`, `unsupported_name`, `invalid_utf8`)."),
                Column("unsupported", "list[str]", "Figures and names in the summary that its source never mentions (why `unsupported_number` / `unsupported_name` is flagged); empty when none."),
                Column("summary_logprob", "f64", "The summary model's confidence: mean log-probability (nats, <= 0) per token it chose (`summary_gen_tokens`); of the final reduce step for a chunked article, of the summary step for a pivot. Null without a summary."),
                Column("summary_gen_tokens", "i64", "Tokens `summary_logprob` averages over: the summary's tokens plus the end token when the model chose to stop (a pivot's are those of its summary step, before translating back)."),
                Column("status", "str", "`ok`, `error` or `skipped`."),
                Column("error", "str", "What went wrong when `status` is `error` (or why it was skipped)."),
                Column("duration_ms", "f64", "Time spent on the article (its share of batched work), in milliseconds."),
                Column("content_hash", "str", "Hash of the article's title and text, used to resume runs."),
                Column("options_hash", "str", "Hash of the options that affect output, used to resume runs."),
                Column("run_id", "str", "Id of the run that wrote the row."),
            ),
        ),
        Table(
            "translations",
            "One row per article x target language x translated field.",
            (
                Column("id", "str", "Article id."),
                Column("field", "str", "`summary`, `title` or `text`."),
                Column("source_lang", "str", "Language of the source text."),
                Column("target_lang", "str", "Language translated into."),
                Column("text", "str", "The translation."),
                Column("model", "str", "Model that translated it, `identity` when source and target languages are equal."),
                Column("flags", "list[str]", "Quality warnings on the translation."),
                Column("logprob", "f64", "The translation model's confidence: its segments' `logprob`, weighted by their `gen_tokens`. Null for an identity translation (nothing was generated) or a failed one."),
                Column("gen_tokens", "i64", "Tokens generated for the translation (the sum of its segments'); 0 for identity."),
                Column("status", "str", "`ok`, `error` or `skipped`."),
                Column("error", "str", "What went wrong, when `status` is not `ok`."),
                Column("run_id", "str", "Id of the run that wrote the row."),
            ),
        ),
        Table(
            "segments",
            "One row per article x target language x field x source sentence: the sentence alignment.",
            (
                Column("id", "str", "Article id."),
                Column("field", "str", "`summary`, `title` or `text`."),
                Column("target_lang", "str", "Language translated into."),
                Column("para_index", "i64", "0-based paragraph of the sentence in the field."),
                Column("seg_index", "i64", "0-based sentence position within the field."),
                Column("source_text", "str", "The source sentence, as segmented (joining them in order gives back the field)."),
                Column("target_text", "str", "Its translation."),
                Column("source_tokens", "i64", "Tokens of the source sentence for the translation model."),
                Column("target_tokens", "i64", "Tokens of the translation."),
                Column("logprob", "f64", "Mean log-probability (nats, <= 0) per token the model chose for this sentence, weighted over its pieces and, on a pivot route, both steps. Null for identity."),
                Column("gen_tokens", "i64", "Tokens `logprob` averages over (the end token included where the model chose it); 0 for identity."),
                Column("run_id", "str", "Id of the run that wrote the row."),
            ),
        ),
        Table(
            "rejects",
            "One row per input record that could not be read.",
            (
                Column("source", "str", "The input file."),
                Column("line", "i64", "1-based line or row number in `source`."),
                Column("error", "str", "Why the record could not be read."),
                Column("raw", "str", "The record as read, truncated to 1,000 characters."),
                Column("run_id", "str", "Id of the run that wrote the row."),
            ),
        ),
    )
}


TYPE_NAMES = {
    "str": "string",
    "i64": "int64",
    "f64": "float64",
    "bool": "boolean",
    "list[str]": "list<string>",
    "list[lang_share]": "list<struct<lang: string, share: float64>>",
}


def schema_markdown() -> str:
    """The README's schema section: every table's columns, Parquet types and meanings."""
    lines = [f"Schema version {SCHEMA_VERSION}. Columns kept with `--keep-col` follow the `articles` columns (as `input_<name>` where a name clashes with one of ours).", ""]
    for table in TABLES.values():
        lines += [f"#### `{table.name}/`", "", table.description, "", "| column | type | meaning |", "|---|---|---|"]
        lines += [f"| `{c.name}` | {TYPE_NAMES[c.type]} | {c.description} |" for c in table.columns]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def schema_dict() -> dict[str, Any]:
    """Every table's columns as plain data (for `summarize schema --json`)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tables": {
            t.name: {
                "description": t.description,
                "columns": [{"name": c.name, "type": TYPE_NAMES[c.type], "description": c.description} for c in t.columns],
            }
            for t in TABLES.values()
        },
    }
