"""Reading articles from JSONL, CSV, Parquet, text folders and stdin; writing the Parquet tables.

The only module that touches files of articles, Polars and pyarrow. Readers stream: they yield
`Article`s and `Reject`s one record at a time, so a large input never sits in memory whole.
Writers put each shard's rows into part files written under a temporary name and renamed into
place, so a reader (or a resumed run) never sees half a file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .errors import OutputError, UsageError
from .options import ReadOptions
from .schema import TABLES, Article, ArticleResult, Reject

log = logging.getLogger(__name__)

JSONL_SUFFIXES = (".jsonl", ".ndjson")
TEXT_SUFFIXES = (".txt", ".md")
RAW_LIMIT = 1000
STDIN = "-"

_HTML = re.compile(r"<(?:p|div|br|a|span|img|script|style|html|body|b|i|em|strong|h[1-6]|li|ul|ol|table)\b[^>]*>|&(?:amp|lt|gt|quot|nbsp|#\d+);", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\ufeff]")


def stable_id(title: str | None, text: str) -> str:
    """An id derived from an article's content, the same in every run."""
    digest = hashlib.sha1(f"{title or ''}\x00{text}".encode()).hexdigest()[:16]
    return f"sha1:{digest}"


def clean_text(text: str) -> tuple[str, list[str]]:
    """Text without control and zero-width characters (newlines and tabs kept), and the flags raised."""
    flags: list[str] = []
    if _CONTROL.search(text):
        text = _CONTROL.sub("", text)
        flags.append("control_chars")
    return text, flags


def strip_html(text: str) -> str:
    """Visible text of an HTML fragment, paragraphs kept as blank-line breaks."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(f"<body>{text}</body>")
    for node in tree.css("script, style"):
        node.decompose()
    for node in tree.css("p, div, br, li, h1, h2, h3, h4, h5, h6, tr"):
        node.insert_after("\n\n")
    body = tree.body
    out = body.text(separator="") if body is not None else text
    return re.sub(r"\n\s*\n+", "\n\n", out).strip()


@dataclass
class _Builder:
    """Turns raw records (dicts) of one input into Articles or Rejects, checking columns once."""

    source: str
    options: ReadOptions
    counter: list[int]
    seen_ids: dict[str, tuple[str, int]]
    checked: bool = False

    def check_columns(self, columns: Iterable[str]) -> None:
        cols = list(columns)
        wanted = [("--text-col", self.options.text_col)]
        if self.options.lang_col:
            wanted.append(("--lang-col", self.options.lang_col))
        wanted += [("--keep-col", c) for c in self.options.keep_cols]
        for flag, col in wanted:
            if col not in cols:
                raise UsageError(f"{self.source}: no column {col!r} (asked by {flag}); columns are: {', '.join(map(str, cols))}")
        self.checked = True

    def build(self, rec: dict[str, Any], line: int, raw: str, flags: Sequence[str] = ()) -> Article | Reject:
        o = self.options
        text = rec.get(o.text_col)
        if text is None or (isinstance(text, float) and text != text):
            return Reject(self.source, line, f"missing text (column {o.text_col!r})", raw[:RAW_LIMIT])
        if not isinstance(text, str):
            return Reject(self.source, line, f"text must be a string, got {type(text).__name__}", raw[:RAW_LIMIT])
        title = rec.get(o.title_col)
        if title is not None and not isinstance(title, str):
            if isinstance(title, int | float) and title == title:
                title = str(title)
            else:
                return Reject(self.source, line, f"title must be a string, got {type(title).__name__}", raw[:RAW_LIMIT])
        all_flags = list(flags)
        if o.strip_html and _HTML.search(text):
            text = strip_html(text)
            all_flags.append("html_stripped")
        elif _HTML.search(text):
            all_flags.append("html")
        text, more = clean_text(text)
        all_flags += more
        if len(text) > o.max_chars:
            text = text[: o.max_chars]
            all_flags.append("input_truncated")
        if title:
            title, more = clean_text(title)
            if o.strip_html and _HTML.search(title):
                title = strip_html(title)
        rid = rec.get(o.id_col)
        if rid is None or rid == "" or (isinstance(rid, float) and rid != rid):
            rid = stable_id(title, text)
        elif isinstance(rid, bool) or not isinstance(rid, str | int | float):
            return Reject(self.source, line, f"id must be a string or a number, got {type(rid).__name__}", raw[:RAW_LIMIT])
        else:
            rid = str(int(rid)) if isinstance(rid, float) and rid.is_integer() else str(rid)
        if rid in self.seen_ids and o.on_duplicate_id != "all":
            where = self.seen_ids[rid]
            return Reject(self.source, line, f"duplicate id {rid!r} (first at {where[0]}:{where[1]}; --on-duplicate-id {o.on_duplicate_id})",
                          raw[:RAW_LIMIT], fatal=o.on_duplicate_id == "error")
        self.seen_ids.setdefault(rid, (self.source, line))
        lang = rec.get(o.lang_col) if o.lang_col else None
        lang = str(lang).strip() if lang not in (None, "") and not (isinstance(lang, float) and lang != lang) else None
        extra = {c: rec.get(c) for c in o.keep_cols}
        published = rec.get("published")
        idx = self.counter[0]
        self.counter[0] += 1
        return Article(
            id=rid, row_index=idx, source=self.source, line=line, text=text,
            title=title or None, lang=lang, extra=extra, flags=tuple(all_flags),
            published=str(published) if published not in (None, "") else None,
        )


def _decode(data: bytes, where: str) -> tuple[str, list[str]]:
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        log.warning("%s: invalid UTF-8, decoded with replacement characters", where)
        return data.decode("utf-8", errors="replace"), ["invalid_utf8"]


def _read_jsonl(stream: IO[bytes], b: _Builder) -> Iterator[Article | Reject]:
    for n, data in enumerate(stream, start=1):
        if not data.strip():
            continue
        line, flags = _decode(data.rstrip(b"\r\n"), f"{b.source}:{n}")
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Reject(b.source, n, f"invalid JSON: {exc.msg} at column {exc.colno}", line[:RAW_LIMIT])
            continue
        if not isinstance(rec, dict):
            yield Reject(b.source, n, f"a JSON object was expected, got {type(rec).__name__}", line[:RAW_LIMIT])
            continue
        if not b.checked:
            if b.options.text_col not in rec:
                # One record without the column may be a bad record; the column missing in the
                # first record of a file is almost always a wrong --text-col.
                b.check_columns(rec.keys())
            b.checked = True
        yield b.build(rec, n, line, flags)


class _Dialect(csv.excel):
    """RFC 4180 quoting with a delimiter chosen per file."""


def _sniff_dialect(sample: str) -> type[csv.Dialect]:
    """The file's delimiter, read from its header line (headers are rarely quoted, bodies often are).

    csv.Sniffer guesses from the whole sample and is easily misled by quoted multi-line
    texts full of commas and semicolons; the header line is a much cleaner signal.
    """
    header = sample.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    delimiter = best if counts[best] else ","
    quotechar = "'" if header.count("'") >= 2 and header.count('"') == 0 and header.startswith("'") else '"'
    return type("SniffedDialect", (_Dialect,), {"delimiter": delimiter, "quotechar": quotechar})


def _read_csv(path: Path, b: _Builder) -> Iterator[Article | Reject]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with path.open("rb") as fh:
        raw_bytes = fh.read()
    text, flags = _decode(raw_bytes, str(path))
    if text.startswith("\ufeff"):
        text = text[1:]
    dialect = _sniff_dialect(text[:65536])
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = next(reader)
    except StopIteration:
        return
    b.check_columns(header)
    start = reader.line_num + 1
    for row in reader:
        raw = dialect.delimiter.join(row)
        if len(row) != len(header):
            yield Reject(b.source, start, f"expected {len(header)} fields, found {len(row)}", raw[:RAW_LIMIT])
        else:
            rec: dict[str, Any] = dict(zip(header, row, strict=True))
            if rec.get(b.options.text_col) == "":
                rec[b.options.text_col] = ""
            yield b.build(rec, start, raw, flags)
        start = reader.line_num + 1


def _read_parquet(path: Path, b: _Builder) -> Iterator[Article | Reject]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    b.check_columns(pf.schema_arrow.names)
    n = 0
    for batch in pf.iter_batches(batch_size=1024):
        for rec in batch.to_pylist():
            n += 1
            yield b.build(rec, n, json.dumps(rec, ensure_ascii=False, default=str))


def _read_folder(folder: Path, b: _Builder) -> Iterator[Article | Reject]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
    for p in files:
        rel = p.relative_to(folder).as_posix()
        src = f"{b.source.rstrip('/')}/{rel}"
        try:
            data = p.read_bytes()
        except OSError as exc:
            yield Reject(src, 1, f"cannot read file: {exc.strerror or exc}", "")
            continue
        if b"\x00" in data[:8192]:
            yield Reject(src, 1, "binary file (NUL bytes), not text", repr(data[:200]))
            continue
        text, flags = _decode(data, src)
        title = None
        if p.suffix.lower() == ".md":
            first, _, rest = text.lstrip().partition("\n")
            if first.startswith("# "):
                title, text = first[2:].strip(), rest.lstrip("\n")
        rec = {b.options.id_col: rel, b.options.text_col: text, b.options.title_col: title}
        art = b.build(rec, 1, text[:RAW_LIMIT], flags)
        if isinstance(art, Article):
            art = Article(art.id, art.row_index, src, 1, art.text, art.title, art.lang, art.extra, art.flags, art.published)
        yield art


def check_inputs(inputs: Sequence[str]) -> None:
    """Fail early (exit 2) on inputs that do not exist or are of an unknown kind."""
    if not inputs:
        raise UsageError("no input given")
    for inp in inputs:
        if inp == STDIN:
            continue
        p = Path(inp)
        if not p.exists():
            raise UsageError(f"input not found: {inp}")
        if p.is_dir():
            continue
        if p.suffix.lower() not in (*JSONL_SUFFIXES, ".csv", ".tsv", ".parquet"):
            raise UsageError(f"{inp}: unknown input type (use .jsonl, .ndjson, .csv, .parquet, a folder of .txt/.md, or -)")
        if not os.access(p, os.R_OK):
            raise UsageError(f"input not readable: {inp}")


def check_columns(inputs: Sequence[str], options: ReadOptions) -> None:
    """Fail early (exit 2) when an input lacks a column the options name.

    Reads only a CSV header, a Parquet schema or the first JSONL record, so a wrong
    `--text-col` is reported before any model is loaded or any output written.
    """
    for inp in inputs:
        p = Path(inp)
        if inp == STDIN or p.is_dir():
            continue
        b = _Builder(inp, options, [0], {})
        suffix = p.suffix.lower()
        try:
            if suffix == ".parquet":
                import pyarrow.parquet as pq

                try:
                    names = pq.ParquetFile(p).schema_arrow.names
                except Exception as exc:
                    raise UsageError(f"{inp}: not a readable Parquet file ({exc})") from exc
                b.check_columns(names)
            elif suffix in (".csv", ".tsv"):
                with p.open("rb") as fh:
                    head, _ = _decode(fh.read(65536), inp)
                head = head.lstrip("\ufeff")
                first = next(csv.reader(io.StringIO(head, newline=""), _sniff_dialect(head)), None)
                if first is not None:
                    b.check_columns(first)
            elif suffix in JSONL_SUFFIXES:
                with p.open("rb") as fh:
                    for data in fh:
                        if not data.strip():
                            continue
                        try:
                            rec = json.loads(_decode(data, inp)[0])
                        except json.JSONDecodeError:
                            break
                        if isinstance(rec, dict) and options.text_col not in rec:
                            b.check_columns(rec.keys())
                        break
        except OSError as exc:
            raise UsageError(f"input not readable: {inp} ({exc.strerror or exc})") from exc


def read_records(inputs: Sequence[str], options: ReadOptions, *, stdin: IO[bytes] | None = None) -> Iterator[Article | Reject]:
    """Every record of every input, in order, as an `Article` or a `Reject`."""
    check_inputs(inputs)
    counter = [0]
    seen: dict[str, tuple[str, int]] = {}
    for inp in inputs:
        b = _Builder(inp, options, counter, seen)
        if inp == STDIN:
            yield from _read_jsonl(stdin or sys.stdin.buffer, b)
            continue
        p = Path(inp)
        try:
            if p.is_dir():
                yield from _read_folder(p, b)
            elif p.suffix.lower() in JSONL_SUFFIXES:
                with p.open("rb") as fh:
                    yield from _read_jsonl(fh, b)
            elif p.suffix.lower() in (".csv", ".tsv"):
                yield from _read_csv(p, b)
            else:
                yield from _read_parquet(p, b)
        except UsageError:
            raise
        except OSError as exc:
            # An input that vanishes or becomes unreadable mid-run loses only its own records.
            log.error("%s: cannot read: %s", inp, exc)
            yield Reject(inp, 0, f"input could not be read: {exc}", "")
        except Exception as exc:  # a corrupt Parquet file, say
            if p.suffix.lower() == ".parquet":
                raise UsageError(f"{inp}: not a readable Parquet file ({exc})") from exc
            raise


# --------------------------------------------------------------------------- writing


def _pl_type(t: str) -> Any:
    import polars as pl

    return {
        "str": pl.String, "i64": pl.Int64, "f64": pl.Float64, "bool": pl.Boolean,
        "list[str]": pl.List(pl.String),
        "list[lang_share]": pl.List(pl.Struct({"lang": pl.String, "share": pl.Float64})),
    }[t]


def table_schema(name: str) -> dict[str, Any]:
    """The Polars schema of an output table."""
    return {c.name: _pl_type(c.type) for c in TABLES[name].columns}


def kept_name(column: str) -> str:
    """Name of a `--keep-col` column in `articles`: `input_<name>` where it would clash with ours."""
    return f"input_{column}" if column in TABLES["articles"].names else column


def article_rows(results: Iterable[ArticleResult], run_id: str, options_hash: str, keep: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Rows of every table for a shard of results."""
    rows: dict[str, list[dict[str, Any]]] = {"articles": [], "translations": [], "segments": []}
    for r in results:
        a = r.article
        row = {
            "id": a.id, "row_index": a.row_index, "source": a.source, "line": a.line, "title": a.title,
            "lang": r.detection.lang, "lang_score": r.detection.score,
            "lang_mix": [{"lang": lang, "share": share} for lang, share in r.detection.mix],
            "lang_source": r.lang_source, "summary": r.summary, "summary_model": r.summary_model,
            "input_tokens": r.input_tokens, "summary_tokens": r.summary_tokens, "n_chunks": r.n_chunks,
            "truncated": r.truncated, "flags": list(r.flags), "status": r.status, "error": r.error,
            "duration_ms": r.duration_ms, "content_hash": r.content_hash, "options_hash": options_hash,
            "run_id": run_id,
        }
        for c in keep:
            row[kept_name(c)] = a.extra.get(c)
        rows["articles"].append(row)
        for t in r.translations:
            rows["translations"].append({
                "id": a.id, "field": t.field, "source_lang": t.source_lang, "target_lang": t.target_lang,
                "text": t.text, "model": t.model, "flags": list(t.flags), "status": t.status, "error": t.error,
                "run_id": run_id,
            })
            for s in t.segments:
                rows["segments"].append({
                    "id": a.id, "field": s.field, "target_lang": s.target_lang, "para_index": s.para_index,
                    "seg_index": s.seg_index, "source_text": s.source_text, "target_text": s.target_text,
                    "source_tokens": s.source_tokens, "target_tokens": s.target_tokens, "run_id": run_id,
                })
    return rows


def reject_rows(rejects: Iterable[Reject], run_id: str) -> list[dict[str, Any]]:
    return [{"source": r.source, "line": r.line, "error": r.error, "raw": r.raw, "run_id": run_id} for r in rejects]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file under a temporary name, flush it to disk, then rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def frame(name: str, rows: list[dict[str, Any]], keep: Sequence[str] = ()) -> Any:
    """A Polars frame of `rows` with the table's schema (kept columns inferred)."""
    import polars as pl

    schema = table_schema(name)
    if keep and name == "articles":
        base = pl.DataFrame([{k: v for k, v in r.items() if k in schema} for r in rows], schema=schema, orient="row")
        names = [kept_name(k) for k in keep]
        extra = pl.DataFrame([{k: r.get(k) for k in names} for r in rows], strict=False) if rows else pl.DataFrame({k: [] for k in names})
        return pl.concat([base, extra], how="horizontal")
    return pl.DataFrame(rows, schema=schema, orient="row")


def write_parquet(df: Any, path: Path, metadata: dict[str, str]) -> None:
    """Write a frame as one Parquet file, atomically, with key-value metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = df.to_arrow()
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **{k.encode(): v.encode() for k, v in metadata.items()}})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


COMMITS = "_commits"
PARTITIONS = ("lang", "date")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def _fsync_dir(folder: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def partition_date(published: str | None) -> str:
    """`YYYY-MM-DD` from an ISO-like `published` value, else `unknown`."""
    m = _DATE.match(published or "")
    return "-".join(m.groups()) if m else "unknown"


@dataclass
class RunWriter:
    """Writes a run's tables as part files in `out_dir/<table>/`, one part per shard and table.

    Every part file is written under a temporary name and renamed into place. When all parts of
    a shard are in place, an empty marker `_commits/<part name>` records the shard as complete;
    a resumed run deletes parts that have no marker (a run killed mid-shard), so a reader of a
    finished or resumed folder sees every row exactly once. With `partition_by`, parts go into
    Hive-style folders (`articles/lang=de/date=2026-10-14/part-...parquet`); the partition
    columns then live in the path, as Hive readers expect.
    """

    out_dir: Path
    run_id: str
    options_hash: str
    keep: tuple[str, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)
    partition_by: tuple[str, ...] = ()
    shard: int = 0
    written: dict[str, int] = field(default_factory=lambda: {t: 0 for t in TABLES})

    def __post_init__(self) -> None:
        bad = [p for p in self.partition_by if p not in PARTITIONS]
        if bad:
            raise UsageError(f"--partition-by takes {', '.join(PARTITIONS)}; not {', '.join(bad)}")
        try:
            for t in (*TABLES, COMMITS):
                (self.out_dir / t).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot write to {self.out_dir}: {exc.strerror or exc}") from exc

    def part_name(self) -> str:
        return f"part-{self.run_id[-8:]}-{self.shard:05d}.parquet"

    def _partition_key(self, table: str, row: dict[str, Any], dates: dict[str, str]) -> tuple[str, ...]:
        key: list[str] = []
        for p in self.partition_by:
            if p == "lang":
                key.append(f"lang={row['lang']}" if table == "articles" else f"target_lang={row['target_lang']}")
            else:
                key.append(f"date={dates.get(row['id'], 'unknown')}")
        return tuple(key)

    def write(self, results: Sequence[ArticleResult], rejects: Sequence[Reject]) -> None:
        """Write one shard of results and rejects, then mark the shard committed."""
        rows = article_rows(results, self.run_id, self.options_hash, self.keep)
        rows["rejects"] = reject_rows(rejects, self.run_id)
        dates = {r.article.id: partition_date(r.article.published) for r in results}
        name = self.part_name()
        try:
            for t in ("rejects", "translations", "segments", "articles"):
                if not rows[t]:
                    continue
                groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
                for row in rows[t]:
                    key = self._partition_key(t, row, dates) if self.partition_by and t != "rejects" else ()
                    groups.setdefault(key, []).append(row)
                for key, part_rows in groups.items():
                    folder = self.out_dir / t / Path(*key) if key else self.out_dir / t
                    folder.mkdir(parents=True, exist_ok=True)
                    df = frame(t, part_rows, self.keep)
                    if key and "lang" in self.partition_by:
                        df = df.drop("lang" if t == "articles" else "target_lang")
                    write_parquet(df, folder / name, {**self.metadata, "table": t})
                    self.written[t] += len(part_rows)
            atomic_write_bytes(self.out_dir / COMMITS / name, b"")
            _fsync_dir(self.out_dir / COMMITS)
        except OSError as exc:
            raise OutputError(
                f"cannot write {self.out_dir}: {exc.strerror or exc}; the parts already written are valid, "
                "free space or fix permissions and rerun with --resume"
            ) from exc
        self.shard += 1

    def finish(self) -> None:
        """Make sure every table folder holds at least one (possibly empty) part, so it reads."""
        for t in TABLES:
            folder = self.out_dir / t
            if not any(folder.rglob("*.parquet")):
                df = frame(t, [], self.keep)
                if self.partition_by and t != "rejects" and "lang" in self.partition_by:
                    df = df.drop("lang" if t == "articles" else "target_lang")
                write_parquet(df, folder / f"part-{self.run_id[-8:]}-empty.parquet", {**self.metadata, "table": t})


@dataclass
class Existing:
    """What an output folder already holds, for `--resume`."""

    articles: dict[tuple[str, str], int]
    rejects: set[tuple[str, int]]
    options_hashes: set[str]
    removed: list[str]


def committed_state(out_dir: Path) -> Existing:
    """Remove uncommitted parts (a killed run's half shard) and read what the folder holds.

    Articles are keyed by (id, content_hash) with a count, so identical duplicates in the
    input are also resumed exactly once each.
    """
    import polars as pl

    commits = {p.name for p in (out_dir / COMMITS).glob("*.parquet")} if (out_dir / COMMITS).is_dir() else set()
    removed: list[str] = []
    for t in TABLES:
        folder = out_dir / t
        if not folder.is_dir():
            continue
        for f in folder.rglob("*"):
            if f.is_file() and ((f.name.startswith(".") and ".tmp-" in f.name) or
                                (f.suffix == ".parquet" and f.name not in commits and not f.name.endswith("-empty.parquet"))):
                f.unlink()
                removed.append(str(f.relative_to(out_dir)))
    articles: dict[tuple[str, str], int] = {}
    hashes: set[str] = set()
    files = sorted((out_dir / "articles").rglob("*.parquet")) if (out_dir / "articles").is_dir() else []
    for f in files:
        df = pl.read_parquet(f, columns=["id", "content_hash", "options_hash"], hive_partitioning=False)
        hashes.update(h for h in df["options_hash"].unique().to_list() if h)
        for rid, ch in zip(df["id"].to_list(), df["content_hash"].to_list(), strict=True):
            articles[(rid, ch)] = articles.get((rid, ch), 0) + 1
    rejects: set[tuple[str, int]] = set()
    for f in sorted((out_dir / "rejects").rglob("*.parquet")) if (out_dir / "rejects").is_dir() else []:
        df = pl.read_parquet(f, columns=["source", "line"], hive_partitioning=False)
        rejects.update(zip(df["source"].to_list(), df["line"].to_list(), strict=True))
    return Existing(articles, rejects, hashes, removed)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write a JSON document atomically."""
    atomic_write_bytes(path, (json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n").encode())


def read_table(out_dir: Path, name: str) -> Any:
    """A written table as a Polars frame (for tests, resume and the Python API)."""
    import polars as pl

    folder = out_dir / name
    files = sorted(folder.rglob("*.parquet"))
    if not files:
        return pl.DataFrame(schema=table_schema(name))
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")


def detection_rows(records: Iterable[Article | Reject], detector: Any) -> Iterator[dict[str, Any]]:
    """One row per record for `summarize detect`: the detection, or the reason it could not be read."""
    for rec in records:
        if isinstance(rec, Reject):
            yield {"id": None, "lang": "und", "lang_score": 0.0, "lang_mix": [], "detector": detector.name,
                   "status": "error", "error": f"{rec.source}:{rec.line}: {rec.error}"}
            continue
        if rec.lang:
            from .detect import normalise_code

            code = normalise_code(rec.lang)
            yield {"id": rec.id, "lang": code, "lang_score": 1.0, "lang_mix": [{"lang": code, "share": 1.0}],
                   "detector": "given", "status": "ok", "error": None}
            continue
        d = detector.detect(rec.text, rec.title)
        yield {"id": rec.id, "lang": d.lang, "lang_score": d.score,
               "lang_mix": [{"lang": lang, "share": share} for lang, share in d.mix], "detector": d.detector,
               "status": "ok", "error": d.reason if d.lang == "und" else None}


DETECT_SCHEMA = {"id": "str", "lang": "str", "lang_score": "f64", "lang_mix": "list[lang_share]", "detector": "str", "status": "str", "error": "str"}


def write_detections(rows: Iterable[dict[str, Any]], out: str) -> int:
    """Write detection rows to a Parquet file, or as JSONL to stdout when `out` is `-`."""
    if out == STDIN:
        n = 0
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
        sys.stdout.flush()
        return n
    import polars as pl

    data = list(rows)
    schema = {k: _pl_type(v) for k, v in DETECT_SCHEMA.items()}
    df = pl.DataFrame(data, schema=schema, orient="row")
    path = Path(out)
    if path.suffix.lower() != ".parquet":
        raise UsageError(f"--out {out}: give a .parquet file, or - for JSONL on stdout")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_parquet(df, path, {"table": "detections"})
    return len(data)


@dataclass
class JsonlWriter:
    """`--out -`: article rows as JSONL on stdout (translations nested), nothing else on stdout."""

    run_id: str
    options_hash: str
    keep: tuple[str, ...] = ()
    stream: IO[str] = field(default_factory=lambda: sys.stdout)
    written: dict[str, int] = field(default_factory=lambda: {t: 0 for t in TABLES})

    def write(self, results: Sequence[ArticleResult], rejects: Sequence[Reject]) -> None:
        rows = article_rows(results, self.run_id, self.options_hash, self.keep)
        by_id: dict[str, list[dict[str, Any]]] = {}
        for t in rows["translations"]:
            by_id.setdefault(t["id"], []).append({k: v for k, v in t.items() if k not in ("id", "run_id")})
        for row in rows["articles"]:
            row["translations"] = by_id.get(row["id"], [])
            self.stream.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        self.stream.flush()
        self.written["articles"] += len(rows["articles"])
        self.written["translations"] += len(rows["translations"])
        self.written["rejects"] += len(rejects)

    def finish(self) -> None:
        self.stream.flush()


def write_wide(out_dir: Path) -> Path:
    """`wide.parquet`: one row per article, a column per translated field and language (`summary_en`)."""
    import polars as pl

    arts = pl.scan_parquet(out_dir / "articles" / "**" / "*.parquet", hive_partitioning=True)
    cols = ["id", "row_index", "source", "title", "lang", "lang_score", "summary", "summary_model", "status", "error", "run_id"]
    base = arts.select([c for c in cols if c in arts.collect_schema().names()]).collect()
    tr = pl.scan_parquet(out_dir / "translations" / "**" / "*.parquet", hive_partitioning=True).select(
        "id", "field", "target_lang", "text").collect()
    if tr.height:
        tr = tr.with_columns((pl.col("field") + "_" + pl.col("target_lang")).alias("column"))
        wide = tr.pivot(on="column", index="id", values="text", aggregate_function="first")
        ordered = ["id", *sorted(c for c in wide.columns if c != "id")]
        base = base.join(wide.select(ordered), on="id", how="left")
    base = base.sort("row_index")
    path = out_dir / "wide.parquet"
    write_parquet(base, path, {"table": "wide"})
    return path


def count_records(inputs: Sequence[str]) -> int | None:
    """How many records the inputs hold (cheaply, for the progress bar); None when unknown."""
    total = 0
    for inp in inputs:
        if inp == STDIN:
            return None
        p = Path(inp)
        try:
            if p.is_dir():
                total += sum(1 for f in p.rglob("*") if f.is_file() and f.suffix.lower() in TEXT_SUFFIXES)
            elif p.suffix.lower() == ".parquet":
                import pyarrow.parquet as pq

                total += pq.ParquetFile(p).metadata.num_rows
            elif p.suffix.lower() in JSONL_SUFFIXES:
                with p.open("rb") as fh:
                    total += sum(1 for line in fh if line.strip())
            else:
                return None  # CSV records may span lines
        except OSError:
            return None
    return total


def totals(out_dir: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Counts by status and language over everything the folder holds (after a resume)."""
    import polars as pl

    files = list((out_dir / "articles").rglob("*.parquet"))
    if not files:
        return {}, {}
    df = pl.scan_parquet(out_dir / "articles" / "**" / "*.parquet", hive_partitioning=True).select("status", "lang").collect()
    status = dict(zip(*df["status"].value_counts().to_dict(as_series=False).values(), strict=True))
    langs = dict(zip(*df["lang"].value_counts().to_dict(as_series=False).values(), strict=True))
    return {str(k): int(v) for k, v in status.items()}, {str(k): int(v) for k, v in langs.items()}
