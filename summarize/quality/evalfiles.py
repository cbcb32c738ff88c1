"""Reading and writing for `summarize eval` and `summarize report`: reference files, a run's tables, eval.parquet.

Part of the I/O layer, so the only place these commands touch Polars; everything handed to the
scoring and report code is plain records.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from ..errors import OutputError, SummarizeError, UsageError
from .evaluate import ArticleScore, EvalResult, Hypothesis, Reference

FIELDS = ("summary", "title", "text")
_WIDE = re.compile(r"^(summary|title|text)_([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)?)$")
LONG_COLUMNS = ("id", "field", "lang", "text")
log = logging.getLogger(__name__)


def _read_frame(path: Path) -> Any:
    import polars as pl

    if not path.is_file():
        raise UsageError(f"{path}: no such reference file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".jsonl", ".ndjson"):
            return pl.read_ndjson(path, infer_schema_length=None)
        if suffix == ".csv":
            return pl.read_csv(path, infer_schema_length=0)
        if suffix == ".parquet":
            return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError, ValueError) as e:
        raise UsageError(f"{path}: cannot read references: {e}") from e
    raise UsageError(f"{path}: references must be .jsonl, .csv or .parquet")


def read_references(path: str | Path, summary_col: str | None = None, id_col: str = "id") -> list[Reference]:
    """The references in a JSONL, CSV or Parquet file keyed by article id.

    Three shapes, told apart by their columns: a long table (`id`, `field`, `lang`, `text`: one
    reference per row); wide columns such as `summary_de`, `title_fr` (reference translations, or
    summaries in a named language); and the summary column (`summary`, or `summary_col`), whose
    reference is in the article's own language. Wide and summary columns can be combined. Empty cells
    are no reference. A missing id, or no usable column, is a usage error naming file and row.
    """
    path = Path(path)
    df = _read_frame(path)
    cols = list(df.columns)
    if id_col not in cols:
        raise UsageError(f"{path}: no id column {id_col!r} (columns: {', '.join(cols)})")
    if summary_col is not None and summary_col not in cols:
        raise UsageError(f"{path}: no column {summary_col!r} (columns: {', '.join(cols)})")
    refs: list[Reference] = []
    long = all(c in cols for c in LONG_COLUMNS)
    wide = {c: m for c in cols if (m := _WIDE.match(c)) and _known_language(m.group(2))}
    odd = [c for c in cols if _WIDE.match(c) and c not in wide and c != summary_col]
    if odd:
        log.warning("%s: columns %s look like FIELD_LANG but name no known language: ignored", path, ", ".join(odd))
    plain = summary_col or ("summary" if "summary" in cols and not long else None)
    if not long and not wide and plain is None:
        raise UsageError(
            f"{path}: no reference column: expected {summary_col or 'summary'!r}, wide columns like 'summary_de', "
            f"or a long table with columns {', '.join(LONG_COLUMNS)} (columns: {', '.join(cols)})"
        )
    for i, row in enumerate(df.iter_rows(named=True)):
        where = f"{path}:{i + 2 if path.suffix.lower() == '.csv' else i + 1}"
        rid = row.get(id_col)
        if rid is None or str(rid).strip() == "":
            raise UsageError(f"{where}: reference without an id")
        rid = str(rid)
        if long:
            fld, lang, text = row["field"], row["lang"], row["text"]
            if fld not in FIELDS:
                raise UsageError(f"{where}: field {fld!r} is not one of {', '.join(FIELDS)} (article {rid})")
            if _text(text):
                refs.append(Reference(rid, str(fld), str(lang) if lang else None, str(text), where))
            continue
        if plain is not None and _text(row.get(plain)):
            refs.append(Reference(rid, "summary", None, str(row[plain]), where))
        for col, m in wide.items():
            if col != plain and _text(row.get(col)):
                lang = m.group(2).replace("_", "-")
                refs.append(Reference(rid, m.group(1), lang, str(row[col]), where))
    return refs


def _known_language(code: str) -> bool:
    from ..models.langcodes import language_name

    try:
        language_name(code.replace("_", "-"))
    except SummarizeError:
        return False
    return True


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _table(out_dir: Path, name: str, columns: Sequence[str]) -> list[dict[str, Any]]:
    """The named columns of one output table (those that exist; partitions included) as records."""
    import polars as pl

    files = sorted((out_dir / name).rglob("*.parquet"))
    if not files:
        return []
    frames = []
    for f in files:
        df = pl.read_parquet(f)
        # Hive partitions (lang=de/, target_lang=fr/, date=...) live in the path, not the file.
        for part in f.relative_to(out_dir / name).parts[:-1]:
            key, _, value = part.partition("=")
            if key and value and key not in df.columns:
                df = df.with_columns(pl.lit(value).alias(key))
        frames.append(df.select([c for c in columns if c in df.columns]))
    return pl.concat(frames, how="diagonal_relaxed").to_dicts()


def read_run_json(out_dir: str | Path) -> dict[str, Any]:
    """The run's manifest, `DIR/run.json`; a usage error when the folder holds no run."""
    path = Path(out_dir) / "run.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise UsageError(f"{out_dir}: not an output folder of summarize run (no run.json)") from e
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: cannot read: {e}") from e
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not a run manifest")
    return data


def read_hypotheses(out_dir: str | Path) -> list[Hypothesis]:
    """Every summary and translation of a run, for scoring (confidence columns when the run has them)."""
    out = Path(out_dir)
    read_run_json(out)
    hyps = [
        Hypothesis(
            id=str(r["id"]), task="summary", field="summary", lang=str(r.get("lang") or "und"),
            text=r.get("summary"), status=str(r.get("status") or ""),
            logprob=r.get("summary_logprob"), tokens=r.get("summary_tokens"),
        )
        for r in _table(out, "articles", ("id", "lang", "summary", "status", "summary_logprob", "summary_tokens"))
    ]
    hyps.extend(
        Hypothesis(
            id=str(r["id"]), task="translation", field=str(r["field"]), lang=str(r["target_lang"]),
            text=r.get("text"), status=str(r.get("status") or ""), logprob=r.get("logprob"), tokens=r.get("gen_tokens"),
        )
        for r in _table(out, "translations", ("id", "field", "target_lang", "text", "status", "logprob", "gen_tokens"))
    )
    return hyps


# Columns the report reads when present (an output folder of an older version may lack some).
ARTICLE_REPORT_COLUMNS = (
    "id", "lang", "status", "flags", "summary", "summary_tokens", "input_tokens", "duration_ms",
    "summary_logprob", "unsupported", "n_chunks", "truncated",
)
TRANSLATION_REPORT_COLUMNS = ("id", "field", "target_lang", "status", "flags", "logprob", "gen_tokens", "model")


def read_report_tables(out_dir: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], int]:
    """What the report shows: run.json, article rows, translation rows, and the number of rejects."""
    out = Path(out_dir)
    manifest = read_run_json(out)
    articles = _table(out, "articles", ARTICLE_REPORT_COLUMNS)
    translations = _table(out, "translations", TRANSLATION_REPORT_COLUMNS)
    rejects = len(_table(out, "rejects", ("source", "line")))
    return manifest, articles, translations, rejects


# eval.parquet's columns follow ArticleScore's fields, so the writer and the record cannot drift.
_PL_TYPES = {"str": "String", "float": "Float64", "int": "Int64", "float | None": "Float64", "int | None": "Int64"}


def eval_schema() -> dict[str, Any]:
    """eval.parquet's Polars schema, derived from `ArticleScore`."""
    import polars as pl

    return {f.name: getattr(pl, _PL_TYPES[str(f.type)]) for f in fields(ArticleScore)}


def write_eval(result: EvalResult, parquet_path: str | Path, run_id: str | None) -> tuple[Path, Path]:
    """Per-article scores as Parquet (for BI tools) and, beside it, `eval.json`: totals and the
    scores per task, field and language, with the id of the run they score."""
    import polars as pl

    from .evaluate import result_json

    schema = eval_schema()
    rows = [asdict(a) for a in result.articles]
    df = pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
    path = Path(parquet_path)
    summary = path.with_name("eval.json")
    data = {"run_id": run_id, **result_json(result)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        df.write_parquet(tmp)
        tmp.replace(path)
        tmp = summary.with_name(summary.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(summary)
    except OSError as e:
        raise OutputError(f"cannot write the scores to {path.parent}: {e.strerror or e}") from e
    return path, summary


def read_eval(path: str | Path) -> tuple[list[dict[str, Any]], str | None]:
    """A written eval.json / `summarize eval --json` output (groups) or eval.parquet (per-article rows)
    as records for the report, with the id of the run it scored when known."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such eval file")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return list(data["groups"]), data.get("run_id")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise UsageError(f"{path}: not the JSON of summarize eval --json: {e}") from e
    import polars as pl

    try:
        return pl.read_parquet(path).to_dicts(), None
    except (pl.exceptions.PolarsError, OSError) as e:
        raise UsageError(f"{path}: cannot read: {e}") from e
