"""Rows of the output tables, cast to the declared Arrow schema.

`schema.TABLES` declares every column once; this module turns that declaration into pyarrow
schemas (with the run's kept columns), turns results into rows, parses `published` into
`published_at`, and picks partition values from validated data only. The writers build every
part file with `arrow_table`, so each file of a run has exactly the declared schema, whatever
the shard holds (a kept column that is null in a whole shard keeps its type).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import OutputError, UnsupportedLanguageError, UsageError
from ..models import langcodes
from ..options import ReadOptions
from ..schema import FILES, KEEP_TYPES, KEYS, PARTITIONS, TABLES, Article, ArticleResult, Detection, Reject, Table
from ..text import remove_invisible
from .dates import parse_date, parse_timestamp
from .files import as_path, files_under, is_delta, is_remote, object_store_options
from .files import storage_options as storage_options_in_effect
from .jsonl import parse, read_lines
from .parts import committed_files
from .read import FOLDER_SUFFIXES, JSONL_SUFFIXES, STDIN
from .seen import SeenIds

_ARROW: dict[str, Any] = {}


def arrow_type(logical: str) -> Any:
    """The pyarrow type of a logical column type of `schema.TYPE_NAMES`."""
    import pyarrow as pa

    if not _ARROW:
        _ARROW.update({
            "str": pa.string(), "i64": pa.int64(), "f64": pa.float64(), "bool": pa.bool_(), "date": pa.date32(),
            "timestamp": pa.timestamp("us", tz="UTC"), "list[str]": pa.list_(pa.string()),
            "list[lang_share]": pa.list_(pa.struct([("lang", pa.string()), ("share", pa.float64())])),
        })
    return _ARROW[logical]


@dataclass(frozen=True)
class Kept:
    """A `--keep-col` column as this run writes it: its name and Arrow type (one per run)."""

    name: str
    type: Any  # pyarrow.DataType
    given: str | None = None  # the TYPE of `--keep-col NAME:TYPE`, if any
    guessed: bool = False  # no input told the type (JSONL, CSV, an all-null Parquet column): string by default

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "type": str(self.type)}


def kept_columns(inputs: Sequence[str], options: ReadOptions) -> tuple[Kept, ...]:
    """The run's kept columns with one type each, checked against the inputs (usage errors).

    The type is the `NAME:TYPE` given, else the Parquet input's type (large string types made
    plain; the first Parquet input that has the column decides), else string. A column that an
    input lacks is a usage error listing the columns it has; a JSONL input is scanned whole,
    since a key may first appear in a late record.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not options.keep_cols:
        return ()
    found: dict[str, Any] = {}
    for inp in inputs:
        p = as_path(inp)
        if inp == STDIN:
            continue
        if p.is_dir() or p.suffix.lower() in FOLDER_SUFFIXES:
            raise UsageError(f"{inp}: a text or HTML file has no columns to keep (--keep-col {', '.join(options.keep_cols)})")
        suffix = p.suffix.lower()
        if suffix == ".parquet":
            schema = pq.ParquetFile(p.open("rb") if is_remote(p) else p).schema_arrow
            cols = {f.name: f.type for f in schema}
            _check(inp, options.keep_cols, list(cols))
            for k in options.keep_cols:
                found.setdefault(k, cols[k])
        elif suffix in JSONL_SUFFIXES:
            seen: dict[str, None] = {}
            with p.open("rb") as fh:
                for line in read_lines(fh, inp):
                    rec, why = parse(line.text) if line.text is not None else (None, "too long")
                    if why is None and isinstance(rec, dict):
                        seen.update(dict.fromkeys(rec))
                        if all(k in seen for k in options.keep_cols):
                            break
            _check(inp, options.keep_cols, list(seen))
    given = dict(options.keep_types)
    kept = []
    for name in options.keep_cols:
        if name in given:
            kept.append(Kept(name, arrow_type(KEEP_TYPES[given[name]]), given[name]))
            continue
        t = found.get(name)
        guessed = t is None or pa.types.is_null(t)
        if guessed or pa.types.is_large_string(t):
            t = pa.string()
        elif pa.types.is_large_binary(t):
            t = pa.binary()
        kept.append(Kept(name, t, guessed=guessed))
    return tuple(kept)


def adopt_kept(kept: Sequence[Kept], dataset: Mapping[str, Any]) -> tuple[Kept, ...]:
    """The kept columns with a guessed type (nothing in this run's input tells it) given the type
    the dataset already holds them as (`dataset`: name -> Arrow type), so an append whose column
    happens to be all null, or comes from JSONL, fits an `int64` column written earlier."""
    return tuple(Kept(k.name, dataset[k.name], k.given) if k.guessed and k.name in dataset else k for k in kept)


def _check(inp: str, wanted: Sequence[str], cols: Sequence[str]) -> None:
    missing = [c for c in wanted if c not in cols]
    if missing:
        raise UsageError(f"{inp}: no column {', '.join(map(repr, missing))} (asked by --keep-col); "
                         f"columns are: {', '.join(map(str, cols))}")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _as_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return json.dumps(value, ensure_ascii=False, default=str)


def coerce_kept(value: Any, kept: Kept) -> tuple[Any, bool]:
    """`value` as the kept column's type; (None, False) when it does not convert."""
    import pyarrow as pa

    if value is None or (isinstance(value, float) and value != value):
        return None, True
    t = kept.type
    try:
        if pa.types.is_string(t):
            # Kept verbatim, control and zero-width characters included: a kept column is the
            # user's data, not article text to clean. Only lone surrogates (from a JSON `\ud800`)
            # cannot be stored as UTF-8; they become U+FFFD.
            return _LONE_SURROGATE.sub("\ufffd", _as_str(value)), True
        if pa.types.is_integer(t):
            if isinstance(value, bool):
                return None, False
            number = (int(value) if value.is_integer() else None) if isinstance(value, float) else int(str(value).strip())
            if number is None or not -(2**63) <= number < 2**63:
                return None, False
            return number, True
        if pa.types.is_floating(t):
            return (None, False) if isinstance(value, bool) else (float(value), True)
        if pa.types.is_boolean(t):
            if isinstance(value, bool):
                return value, True
            word = str(value).strip().lower()
            return ({"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}[word], True)
        if pa.types.is_timestamp(t) or pa.types.is_date(t):
            ts = parse_timestamp(value)
            if ts is None:
                return None, False
            return (ts.date() if pa.types.is_date(t) else ts), True
    except (ValueError, KeyError, TypeError, OverflowError):
        return None, False
    return value, True  # a Parquet input's own type: pyarrow checks it when the table is built


_CODE = re.compile(r"^[a-z]{2,3}$")


def partition_lang(code: str | None) -> str:
    """A language code fit for a folder name: a code the project's tables know, else `und`."""
    if not code:
        return "und"
    try:
        norm = langcodes.normalise(code)
        langcodes.language_name(norm)
    except UnsupportedLanguageError:
        return "und"
    return norm if _CODE.match(norm) else "und"


def partition_date(published_at: dt.datetime | None) -> str:
    """`YYYY-MM-DD` (UTC) of a parsed `published_at`, else `unknown`."""
    return published_at.strftime("%Y-%m-%d") if published_at is not None else "unknown"


def table_fields(name: str, kept: Sequence[Kept] = (), drop: Iterable[str] = ()) -> list[Any]:
    """The Arrow fields of a declared table (or file), kept columns appended to `articles` and `wide`."""
    import pyarrow as pa

    table: Table = TABLES.get(name) or FILES[name]
    dropped = set(drop)
    fields = [pa.field(c.name, arrow_type(c.type), nullable=c.nullable) for c in table.columns if c.name not in dropped]
    if name in ("articles", "wide"):
        fields += [pa.field(k.name, k.type, nullable=True) for k in kept]
    return fields


def partition_columns(table: str, partition_by: Sequence[str]) -> list[str]:
    """The columns `--partition-by` moves from `table`'s files into the path (`date` is path-only)."""
    cols = [PARTITIONS[p][0].get(table) for p in partition_by]
    return [c for c in cols if c and c in TABLES.get(table, FILES["wide"]).names]


def declared(kept: Sequence[Kept], partition_by: Sequence[str]) -> dict[str, Any]:
    """The run's declared schema as plain data (for `dataset.json`): each table's file columns
    (kept columns included, partition columns moved to the path) and its partition keys."""
    out: dict[str, Any] = {"partition_by": list(partition_by), "kept": [k.to_dict() for k in kept], "tables": {}}
    for name in TABLES:
        drop = partition_columns(name, partition_by) if name != "rejects" else []
        keys = [] if name == "rejects" else [PARTITIONS[p][0][name] for p in partition_by]
        out["tables"][name] = {
            "columns": [{"name": f.name, "type": str(f.type), "nullable": f.nullable}
                        for f in table_fields(name, kept if name == "articles" else (), drop)],
            "partition_keys": keys,
        }
    return out


def arrow_table(name: str, rows: Sequence[Mapping[str, Any]], kept: Sequence[Kept] = (), *,
                drop: Iterable[str] = (), extra: Sequence[Any] = ()) -> Any:
    """Rows as a pyarrow Table with exactly the declared schema; a null in a non-nullable column
    is a bug and raises ValueError naming it."""
    import pyarrow as pa

    schema = pa.schema([*table_fields(name, kept, drop), *extra])
    table = pa.Table.from_pylist(list(rows), schema=schema)
    for f in schema:
        if not f.nullable and table.column(f.name).null_count:
            raise ValueError(f"{name}.{f.name}: null in a column declared non-nullable")
    return table


def published_of(article: Article, lang: str) -> tuple[str | None, dt.datetime | None]:
    """The article's `published` as text and parsed (`published_at`), the date read with the
    article's language first ("06/12/2025" and month names as its writers meant them)."""
    if article.published is None:
        return None, None
    return remove_invisible(_as_str(article.published))[0] or None, parse_date(article.published, lang)


def extracted_row(article: Article, detection: Detection) -> dict[str, Any]:
    """A row of `summarize extract` (`schema.FILES["extracted"]`): the article as the models
    would read it, with the same published date and flags an `articles` row gets."""
    flags = list(article.flags)
    published, published_at = published_of(article, detection.lang)
    if published is not None and published_at is None:
        flags.append("bad_published")
    return {
        "id": article.id, "source": article.source, "line": article.line, "title": article.title,
        "text": article.text, "lang": detection.lang, "lang_score": detection.score, "flags": flags,
        "published": published, "published_at": published_at, "author": article.author,
        "site_name": article.site_name, "url": article.url, "removed": list(article.removed),
        "status": "ok", "error": None,
    }


def extracted_reject_row(reject: Reject) -> dict[str, Any]:
    """A row of `summarize extract` for a record that could not be read."""
    return {"id": None, "source": reject.source, "line": reject.line, "title": None, "text": None, "lang": "und",
            "lang_score": 0.0, "flags": [], "published": None, "published_at": None, "author": None,
            "site_name": None, "url": None, "removed": [], "status": "error", "error": reject.error}


def article_rows(results: Iterable[ArticleResult], run_id: str, options_hash: str, kept: Sequence[Kept],
                 processed_at: dt.datetime) -> dict[str, list[dict[str, Any]]]:
    """Rows of every table for a shard of results (each article row also carries `_date`, its
    date partition, which is not a column)."""
    rows: dict[str, list[dict[str, Any]]] = {"articles": [], "translations": [], "segments": []}
    for r in results:
        a = r.article
        flags = list(r.flags)
        published, published_at = published_of(a, r.detection.lang)
        if published is not None and published_at is None:
            flags.append("bad_published")
        row: dict[str, Any] = {
            "id": a.id, "row_index": a.row_index, "source": a.source, "line": a.line, "title": a.title,
            "lang": r.detection.lang, "lang_score": r.detection.score,
            "lang_mix": [{"lang": lang, "share": share} for lang, share in r.detection.mix],
            "lang_source": r.lang_source, "summary": r.summary, "summary_model": r.summary_model,
            "input_tokens": r.input_tokens, "summary_tokens": r.summary_tokens, "n_chunks": r.n_chunks,
            "truncated": r.truncated, "status": r.status, "error": r.error, "duration_ms": r.duration_ms,
            "published": published, "published_at": published_at, "author": a.author, "site_name": a.site_name,
            "url": a.url, "removed": list(a.removed), "content_hash": r.content_hash,
            "options_hash": options_hash, "run_id": run_id, "processed_at": processed_at,
            "unsupported": list(r.unsupported), "summary_logprob": r.summary_logprob,
            "summary_gen_tokens": r.summary_gen_tokens, "reused": r.reused,
        }
        for k in kept:
            value, ok = coerce_kept(a.extra.get(k.name), k)
            row[k.name] = value
            if not ok:
                flags.append(f"bad_value:{k.name}")
        row["flags"] = list(dict.fromkeys(flags))
        date = partition_date(published_at)
        row["_date"] = date
        rows["articles"].append(row)
        for t in r.translations:
            rows["translations"].append({
                "id": a.id, "field": t.field, "source_lang": t.source_lang, "target_lang": t.target_lang,
                "text": t.text, "model": t.model, "flags": list(t.flags), "status": t.status, "error": t.error,
                "run_id": run_id, "processed_at": processed_at, "_date": date,
                "logprob": t.logprob, "gen_tokens": t.gen_tokens, "reused": t.reused,
            })
            for s in t.segments:
                rows["segments"].append({
                    "id": a.id, "field": s.field, "target_lang": s.target_lang, "para_index": s.para_index,
                    "seg_index": s.seg_index, "source_text": s.source_text, "target_text": s.target_text,
                    "source_tokens": s.source_tokens, "target_tokens": s.target_tokens, "run_id": run_id,
                    "processed_at": processed_at, "_date": date,
                    "logprob": s.logprob, "gen_tokens": s.gen_tokens, "reused": s.reused,
                })
    return rows


def check_shard_keys(rows: Mapping[str, Sequence[Mapping[str, Any]]], seen: SeenIds | None = None) -> None:
    """The run's own check before a shard is committed: each table's key unique within the shard,
    and (with `seen`, the article ids of the run's earlier shards, updated here) an article in one
    shard only. The batch's ids were settled before any model loaded, so a violation is a bug:
    OutputError, and nothing of the shard is committed."""
    for table, table_rows in rows.items():
        keys = KEYS.get(table)
        if not keys:
            continue
        found: set[tuple[Any, ...]] = set()
        for row in table_rows:
            key = tuple(row.get(k) for k in keys)
            if key in found:
                raise OutputError(f"{table}: key ({', '.join(keys)}) = {key!r} twice in one shard; nothing of it was committed")
            found.add(key)
    if seen is not None:
        # One lookup an id: `add` answers whether an earlier shard had it (a failed shard stops the run).
        twice = sorted(r["id"] for r in rows.get("articles", ()) if seen.add(r["id"], "shard", 0) is not None)
        if twice:
            raise OutputError(f"articles: id {twice[0]!r} in two shards of one run; nothing of the second was committed")


def input_hash(source: str, hashes: Mapping[str, str]) -> str:
    """The content hash of the input `source` came from (`hashes`: input name -> BLAKE2b; a
    file of a folder input belongs to the folder); `-` when unknown (stdin)."""
    for name, value in hashes.items():
        if source == name or source.startswith(name.rstrip("/") + "/"):
            return value
    return "-"


def reject_rows(rejects: Iterable[Reject], run_id: str, processed_at: dt.datetime,
                hashes: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Rows of `rejects/` for a shard."""
    return [{"source": r.source, "line": r.line, "error": r.error, "raw": r.raw,
             "input_hash": input_hash(r.source, hashes or {}), "run_id": run_id,
             "processed_at": processed_at} for r in rejects]


def read_delta(folder: Any, storage_options: dict[str, str] | None = None) -> Any:
    """A Delta table as a Polars frame (the latest version); on an object store with the
    `--storage-option` pairs in effect (as object_store keys) unless `storage_options` are given."""
    import polars as pl

    if storage_options is None and is_remote(folder):
        storage_options = object_store_options(storage_options_in_effect())
    return pl.read_delta(str(folder), storage_options=storage_options)


def read_table(out_dir: Any, name: str) -> Any:
    """A written table as a Polars frame (partition columns from the path included)."""
    import polars as pl

    if is_delta(out_dir / name):  # --table-format delta
        return read_delta(out_dir / name)
    if is_remote(out_dir):
        # Read through fsspec (the same options and credentials as the writes), Hive folders
        # parsed by pyarrow; Polars' own object_store client would need its own options.
        import pyarrow.dataset as pads

        base = out_dir / name
        # Through the commit markers: a run holds its parts back under staging names until it
        # ends (`parts.holds_parts`), and this reader sees what is committed, as `check` does.
        found = [f.path for f in committed_files(out_dir, name) or files_under(base, ".parquet")]
        if not found:
            return pl.from_arrow(arrow_table(name, []))
        data = pads.dataset(found, filesystem=base.fs, format="parquet",
                            partitioning=pads.HivePartitioning.discover(), partition_base_dir=base.path.rstrip("/"))
        # Appended runs may add kept columns: the union of the parts' schemas, as below.
        import pyarrow as pa

        union = pa.unify_schemas([data.schema, *(f.physical_schema for f in data.get_fragments())])
        unified = pads.dataset(found, filesystem=base.fs, format="parquet", schema=union,
                               partitioning=pads.HivePartitioning.discover(), partition_base_dir=base.path.rstrip("/"))
        return pl.from_arrow(unified.to_table())
    if not any(files_under(out_dir / name, ".parquet")):
        return pl.from_arrow(arrow_table(name, []))
    # Appended runs may add kept columns: read with the union of the files' schemas (Polars
    # would otherwise take the first file's schema and refuse the others' extra columns).
    schema: dict[str, Any] = {}
    for f in files_under(out_dir / name, ".parquet"):
        schema.update(pl.read_parquet_schema(f))
    return pl.scan_parquet(out_dir / name / "**" / "*.parquet", hive_partitioning=True, schema=schema,
                           missing_columns="insert").collect()
