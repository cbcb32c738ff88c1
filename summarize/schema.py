"""Typed records that flow through the pipeline, and the one definition of the output tables.

Everything downstream (the Parquet writer, `summarize schema`, the docs' schema page)
derives from `TABLES`, so the files and their documentation cannot drift apart.
No I/O and no models here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = "2.2"  # 2.1: articles gain author, site_name, url, removed; rejects gain input_hash; 2.2: reused (articles, translations, segments)

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
        published: The raw `--published-col` value (by default the `published` column), else the
            date a page or a text dump's header gave, if any.
        author: Author(s) a page or a dump's byline named.
        site_name: The outlet a page or a dump's source line named.
        url: The page's canonical URL.
        removed: Lines reading took out of a text dump (header and chrome lines), in order.
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
    published: Any = None
    author: str | None = None
    site_name: str | None = None
    url: str | None = None
    removed: tuple[str, ...] = ()


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
    reused: bool = False  # every model call that made it came from the memory (`summarize.reuse`)


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
    reused: bool = False  # every sentence came from the memory


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
    reused: bool = False  # the summary came from the memory


@dataclass(frozen=True, slots=True)
class Column:
    """One declared output column.

    Attributes:
        name: Column name.
        type: Logical type, one of `TYPE_NAMES` (the writer maps it to one Arrow type).
        description: What it means (shown by `summarize schema` and in docs/schema.md).
        nullable: Whether the column may hold nulls; a non-nullable column is written as a
            required Parquet field and the writer refuses a null there.
    """

    name: str
    type: str
    description: str
    nullable: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    """One output table (or file): its columns in file order."""

    name: str
    description: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _c(name: str, type: str, description: str, *, null: bool = False) -> Column:
    return Column(name, type, description, null)


_RUN_ID = _c("run_id", "str", "Id of the run that wrote the row.")
_PROCESSED_AT = _c("processed_at", "timestamp", "When the row was written (UTC; one value per shard).")

# To add a column: append a `_c(...)` (or `Column(...)`) to its table here and fill the value in
# `io/tables.py` (`article_rows`, `translation_rows`, ...). Every writer casts its rows to the
# declared Arrow schema, so a column left out of a row is written as null (allowed only with
# `null=True`), and `summarize schema`, docs/schema.md and the tests pick the column up from here.
TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "articles",
            "One row per input article, in input order.",
            (
                _c("id", "str", "Article id: the input's id column, the file path in a folder input, or `sha256:` + the content hash."),
                _c("row_index", "i64", "0-based position of the article in the run's input order."),
                _c("source", "str", "The input file it came from (`-` for stdin)."),
                _c("line", "i64", "1-based line (JSONL, text) or row (CSV, Parquet) in `source`."),
                _c("title", "str", "The article's title: the input's, else a page's headline (without the outlet's name that pages add to it) or a text dump's headline line; null when none.", null=True),
                _c("lang", "str", "ISO 639-1 language of the article (ISO 639-3 where there is no 639-1 code), or `und` when it cannot be told."),
                _c("lang_score", "f64", "Confidence in `lang`, 0..1 (1.0 for a given language)."),
                _c("lang_mix", "list[lang_share]", "Languages found per paragraph and their share of the text, dominant first."),
                _c("lang_source", "str", "`detected`, or `given` when `--lang-col` supplied it."),
                _c("summary", "str", "The abstractive summary, in the article's language; null when it failed or was skipped.", null=True),
                _c("summary_model", "str", "Model that wrote the summary (Hub id or local path); null when there is no summary.", null=True),
                _c("input_tokens", "i64", "Tokens of the article's input to the summary model."),
                _c("summary_tokens", "i64", "Tokens of the summary."),
                _c("n_chunks", "i64", "How many chunks the article was summarized in (1 when it fits the model)."),
                _c("truncated", "bool", "True only when text was really dropped to fit the model's input limit."),
                _c("flags", "list[str]", "Quality and input warnings (e.g. `repetition`, `length_ratio`, `wrong_language`, `empty_output`, `low_confidence`, `unsupported_number`, `unsupported_name`, `invalid_utf8`, `control_chars`, `bad_published`, `bad_lang` for an unknown `--lang-col` code, `bad_value:NAME` for a kept value that does not convert), and what reading did to the text (`html_extracted`, `html_stripped`, `extract_fallback`, `html`, `header_parsed`, `chrome_removed`; see docs/inputs.md)."),
                _c("status", "str", "`ok`, `error` or `skipped`."),
                _c("error", "str", "What went wrong when `status` is `error` (or why it was skipped); null when `ok`.", null=True),
                _c("duration_ms", "f64", "Time spent on the article (its share of batched work), in milliseconds."),
                _c("published", "str", "The raw `--published-col` value (default: the input's `published` column), as text.", null=True),
                _c("published_at", "timestamp", "`published` parsed (ISO 8601, RFC 2822, a plain date, a Unix time in seconds or milliseconds, or a date as newsrooms write it in any common language, e.g. `6. Dezember 2025`, `2025年12月6日`, read with the article's language first; no zone means UTC); null when absent or unparseable (flag `bad_published`).", null=True),
                _c("author", "str", "Author(s) the page's metadata or a text dump's byline names (`; `-separated); null when none.", null=True),
                _c("site_name", "str", "The outlet: the page's site name (`og:site_name` and the like) or the source a text dump's syndication line names; null when none.", null=True),
                _c("url", "str", "The page's canonical URL, from its metadata; null when none.", null=True),
                _c("removed", "list[str]", "Lines reading took out of a text dump (`--extract main|all`), in order: header lines that became `title`, `published`, `author`, `site_name`, and chrome lines (`Advertisement`, `Share`, ...); empty when none."),
                _c("content_hash", "str", "Hash of the article's title and text, used to resume runs."),
                _c("options_hash", "str", "Hash of the options that affect output, used to resume runs."),
                _c("unsupported", "list[str]", "Figures and names in the summary that its source never mentions (why `unsupported_number` / `unsupported_name` is flagged); empty when none."),
                _c("summary_logprob", "f64", "The summary model's confidence: mean log-probability (nats, <= 0) per token it chose (`summary_gen_tokens`); of the final reduce step for a chunked article, of the summary step for a pivot. Null without a summary.", null=True),
                _c("summary_gen_tokens", "i64", "Tokens `summary_logprob` averages over: the summary's tokens plus the end token when the model chose to stop (a pivot's are those of its summary step, before translating back)."),
                _c("reused", "bool", "True when the summary came from the reuse memory (the same text, model and options summarized before; see docs/reuse.md) instead of being generated by this run."),
                _RUN_ID,
                _PROCESSED_AT,
            ),
        ),
        Table(
            "translations",
            "One row per article x target language x translated field.",
            (
                _c("id", "str", "Article id."),
                _c("field", "str", "`summary`, `title` or `text`."),
                _c("source_lang", "str", "Language of the source text."),
                _c("target_lang", "str", "Language translated into."),
                _c("text", "str", "The translation; null when it failed.", null=True),
                _c("model", "str", "Model that translated it, `identity` when source and target languages are equal; null when no model serves the pair.", null=True),
                _c("flags", "list[str]", "Quality warnings on the translation."),
                _c("status", "str", "`ok`, `error` or `skipped`."),
                _c("error", "str", "What went wrong, when `status` is not `ok`.", null=True),
                _c("logprob", "f64", "The translation model's confidence: its segments' `logprob`, weighted by their `gen_tokens`. Null for an identity translation (nothing was generated) or a failed one.", null=True),
                _c("gen_tokens", "i64", "Tokens generated for the translation (the sum of its segments'); 0 for identity."),
                _c("reused", "bool", "True when every sentence of the translation came from the translation memory instead of being generated by this run."),
                _RUN_ID,
                _PROCESSED_AT,
            ),
        ),
        Table(
            "segments",
            "One row per article x target language x field x source sentence: the sentence alignment.",
            (
                _c("id", "str", "Article id."),
                _c("field", "str", "`summary`, `title` or `text`."),
                _c("target_lang", "str", "Language translated into."),
                _c("para_index", "i64", "0-based paragraph of the sentence in the field."),
                _c("seg_index", "i64", "0-based sentence position within the field."),
                _c("source_text", "str", "The source sentence, as segmented (joining them in order gives back the field)."),
                _c("target_text", "str", "Its translation."),
                _c("source_tokens", "i64", "Tokens of the source sentence for the translation model."),
                _c("target_tokens", "i64", "Tokens of the translation."),
                _c("logprob", "f64", "Mean log-probability (nats, <= 0) per token the model chose for this sentence, weighted over its pieces and, on a pivot route, both steps. Null for identity.", null=True),
                _c("gen_tokens", "i64", "Tokens `logprob` averages over (the end token included where the model chose it); 0 for identity."),
                _c("reused", "bool", "True when this sentence's translation came from the translation memory (exact match) instead of being generated by this run."),
                _RUN_ID,
                _PROCESSED_AT,
            ),
        ),
        Table(
            "rejects",
            "One row per input record that could not be read.",
            (
                _c("source", "str", "The input file."),
                _c("line", "i64", "1-based line or row number in `source`."),
                _c("error", "str", "Why the record could not be read."),
                _c("raw", "str", "The record as read, truncated to 1,000 characters."),
                _c("input_hash", "str", "BLAKE2b of the input's content (as in the run manifest's `identity.inputs`; `-` for stdin): with `source` and `line` the table's key, so a replayed batch replaces its rejects."),
                _RUN_ID,
                _PROCESSED_AT,
            ),
        ),
    )
}

#: Files that are not tables of the output folder: `wide.parquet` (`--format wide`) and the
#: outputs of `summarize detect` and `summarize extract`.
FILES: dict[str, Table] = {
    "wide": Table(
        "wide",
        "`wide.parquet` (`--format wide`): one row per article for BI tools. After these columns come the kept "
        "columns, then one string column per translated field and target language (`summary_en`, `title_fr`, ...; "
        "null where that translation failed).",
        (
            *(TABLES["articles"].column(n) for n in ("id", "row_index", "source", "line", "title", "lang", "lang_score",
                                                    "summary", "summary_model", "status", "error")),
            _c("flags", "str", "The article's `flags` joined with `,` (empty string when there are none)."),
            *(TABLES["articles"].column(n) for n in ("published", "published_at", "run_id", "processed_at")),
        ),
    ),
    "detections": Table(
        "detections",
        "The file `summarize detect` writes: one row per input record, in input order.",
        (
            _c("id", "str", "Article id; null for a record that could not be read.", null=True),
            _c("lang", "str", "Detected (or given) language, `und` when it cannot be told."),
            _c("lang_score", "f64", "Confidence in `lang`, 0..1."),
            _c("lang_mix", "list[lang_share]", "Languages per paragraph and their share, dominant first."),
            _c("detector", "str", "`langdetect`, `lingua` or `given`."),
            _c("status", "str", "`ok`, or `error` for a record that could not be read."),
            _c("error", "str", "Why the language is `und`, or why the record could not be read.", null=True),
            _c("run_id", "str", "Id of the `detect` command that wrote the file."),
            _PROCESSED_AT,
        ),
    ),
    "extracted": Table(
        "extracted",
        "The file `summarize extract` writes: one row per input record, in input order: what the models would read "
        "(reading, decoding, `--extract`, header and dates, language detection; no model loaded).",
        (
            _c("id", "str", "Article id; null for a record that could not be read.", null=True),
            *(TABLES["articles"].column(n) for n in ("source", "line", "title")),
            _c("text", "str", "The article's text as the models would read it; null for a record that could not be read.", null=True),
            *(TABLES["articles"].column(n) for n in ("lang", "lang_score", "flags", "published", "published_at",
                                                    "author", "site_name", "url", "removed")),
            _c("status", "str", "`ok`, or `error` for a record that could not be read."),
            _c("error", "str", "Why the record could not be read; null when `ok`.", null=True),
            _c("run_id", "str", "Id of the `extract` command that wrote the file."),
            _PROCESSED_AT,
        ),
    ),
}

#: `--partition-by` keys: the column each moves from the files into the folder path, per table,
#: and what the folder value means. Values come only from validated data, never from raw input.
PARTITIONS: dict[str, tuple[dict[str, str], str]] = {
    "lang": (
        {"articles": "lang", "translations": "target_lang", "segments": "target_lang"},
        "`lang=<code>` (articles) and `target_lang=<code>` (translations, segments): a language code the "
        "project's code tables know; any other value (an unknown `--lang-col` value) is `und`.",
    ),
    "date": (
        {"articles": "date", "translations": "date", "segments": "date"},
        "`date=YYYY-MM-DD`: the UTC date of the article's `published_at`; `unknown` when it has none.",
    ),
}

#: Types a `--keep-col NAME:TYPE` may ask for, and the logical type each is written as.
KEEP_TYPES = {"str": "str", "int": "i64", "float": "f64", "bool": "bool", "date": "date", "timestamp": "timestamp"}

TYPE_NAMES = {
    "str": "string",
    "i64": "int64",
    "f64": "double",
    "bool": "bool",
    "date": "date32[day]",
    "timestamp": "timestamp[us, tz=UTC]",
    "list[str]": "list<item: string>",
    "list[lang_share]": "list<item: struct<lang: string, share: double>>",
}

BOOKKEEPING = "_summarize"


def _table_markdown(table: Table, heading: str) -> list[str]:
    lines = [f"## {heading}", "", table.description, "", "| column | type | null | meaning |", "|---|---|---|---|"]
    lines += [f"| `{c.name}` | {TYPE_NAMES[c.type]} | {'yes' if c.nullable else 'no'} | {c.description} |" for c in table.columns]
    return [*lines, ""]


def schema_markdown() -> str:
    """What `summarize schema` prints and `docs/schema.md` holds: every table's columns, Arrow types,
    nullability and meanings."""
    lines = [
        f"Schema version {SCHEMA_VERSION}. Every Parquet file the tool writes carries the key-value metadata "
        "`schema_version`, `run_id`, `tool_version` (and `table`, `options`). Types are Arrow types; `null: no` "
        "columns are required Parquet fields.",
        "",
        "Kept columns (`--keep-col NAME`, or `NAME:TYPE` with TYPE one of " + ", ".join(f"`{k}`" for k in KEEP_TYPES)
        + ") follow the `articles` columns, nullable, with one type per run: the input's Arrow type for Parquet "
        "inputs, string for JSONL and CSV unless a TYPE is given (a value that does not convert is null and flagged "
        "`bad_value:NAME`). A kept column missing from an input, or named like an output column, is a usage error.",
        "",
    ]
    for table in TABLES.values():
        lines += _table_markdown(table, f"`{table.name}/`")
    lines += ["## Partition columns (`--partition-by`)", "",
              "The column moves from the files into the folder path (Hive style); readers with hive partitioning "
              "see it as a string column.", "", "| key | folders |", "|---|---|"]
    lines += [f"| `{key}` | {meaning} |" for key, (_cols, meaning) in PARTITIONS.items()]
    lines.append("")
    lines += _table_markdown(FILES["wide"], "`wide.parquet`")
    lines += _table_markdown(FILES["detections"], "`summarize detect` output")
    lines += _table_markdown(FILES["extracted"], "`summarize extract` output")
    return "\n".join(lines).rstrip() + "\n"


def _table_dict(t: Table) -> dict[str, Any]:
    return {
        "description": t.description,
        "columns": [{"name": c.name, "type": TYPE_NAMES[c.type], "nullable": c.nullable, "description": c.description}
                    for c in t.columns],
    }


def schema_dict() -> dict[str, Any]:
    """Every table's columns as plain data (for `summarize schema --json`)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tables": {t.name: _table_dict(t) for t in TABLES.values()},
        "files": {t.name: _table_dict(t) for t in FILES.values()},
        "partitions": {k: {"columns": cols, "description": d} for k, (cols, d) in PARTITIONS.items()},
        "keep_types": {k: TYPE_NAMES[v] for k, v in KEEP_TYPES.items()},
        "bookkeeping": BOOKKEEPING,
    }

#: Each table's key: unique in every dataset after any sequence of runs, appends, upserts, kills
#: and resumes (`summarize check` tests it). `rejects` is keyed with the input's content hash, so
#: a replayed batch replaces its rejects.
KEYS: dict[str, tuple[str, ...]] = {
    "articles": ("id",),
    "translations": ("id", "field", "target_lang"),
    "segments": ("id", "field", "target_lang", "seg_index"),
    "rejects": ("source", "line", "input_hash"),
}
#: Tables whose rows belong to an article (by `id`, and to the version of it with the same `run_id`).
CHILDREN = ("translations", "segments")
