"""Reading articles from JSONL, CSV, Parquet, text folders and stdin.

Readers stream: they yield `Article`s and `Reject`s one record at a time, so a large input never
sits in memory whole. A bad record becomes a `Reject` naming its file and line; only a problem
with a whole input (missing, unknown kind, a column the options name is absent) stops the run.
Text is cleaned by `summarize.text`, the rules detection applies too.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from ..errors import UsageError
from ..options import ReadOptions
from ..schema import Article, Reject
from . import jsonl
from .decode import DAMAGE, decode, looks_binary
from .files import as_path, is_remote
from .folder import FOLDER_SUFFIXES, HTML_SUFFIXES, TEXT_SUFFIXES, Entry, escape_name, list_folder
from .records import RAW_LIMIT, Builder
from .seen import SeenIds

log = logging.getLogger(__name__)

JSONL_SUFFIXES = (".jsonl", ".ndjson")
__all__ = ["FOLDER_SUFFIXES", "HTML_SUFFIXES", "JSONL_SUFFIXES", "TEXT_SUFFIXES", "check_columns", "check_inputs",
           "count_records", "read_records"]
STDIN = "-"


def _read_jsonl(stream: IO[bytes], b: Builder) -> Iterator[Article | Reject]:
    for line in jsonl.read_lines(stream, b.source):
        if line.text is None:
            yield Reject(b.source, line.number, f"line of {line.size} bytes, longer than the limit of "
                         f"{jsonl.MAX_LINE_BYTES} bytes; skipped", "")
            continue
        rec, why = jsonl.parse(line.text)
        if why is not None:
            yield Reject(b.source, line.number, why, line.text[:RAW_LIMIT])
            continue
        if not isinstance(rec, dict):
            yield Reject(b.source, line.number, f"a JSON object was expected, got {type(rec).__name__}", line.text[:RAW_LIMIT])
            continue
        if not b.checked:
            if b.options.text_col not in rec:
                # One record without the column may be a bad record; the column missing in the
                # first record of a file is almost always a wrong --text-col.
                b.check_columns(rec.keys())
            b.checked = True
        yield b.build(rec, line.number, line.text, line.flags)


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


def _read_csv(path: Path, b: Builder) -> Iterator[Article | Reject]:
    csv.field_size_limit(jsonl.MAX_LINE_BYTES)
    with path.open("rb") as fh:
        raw_bytes = fh.read()
    # The file is decoded whole, but damage is flagged per record: bad bytes come back marked
    # (`DAMAGE`), so only the records that hold some get `invalid_utf8` (and U+FFFD in their place).
    text, flags = decode(raw_bytes, str(path), mark=True)
    damaged = "invalid_utf8" in flags
    flags = [f for f in flags if f != "invalid_utf8"]
    if text.startswith("\ufeff"):
        text = text[1:]
    dialect = _sniff_dialect(text[:65536])
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = [h.replace(DAMAGE, "\ufffd") for h in next(reader)]
    except StopIteration:
        return
    b.check_columns(header)
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # a field over the size limit, say: that record only
            yield Reject(b.source, start, f"malformed CSV record: {exc}", "")
            start = reader.line_num + 1
            continue
        row_flags = flags
        if damaged and any(DAMAGE in cell for cell in row):
            row, row_flags = [cell.replace(DAMAGE, "\ufffd") for cell in row], [*flags, "invalid_utf8"]
        raw = dialect.delimiter.join(row)
        if not row or (len(row) == 1 and not row[0].strip() and len(header) > 1):
            # A blank line (often the last one): skipped, as in JSONL.
            start = reader.line_num + 1
            continue
        if len(row) != len(header):
            yield Reject(b.source, start, f"expected {len(header)} fields, found {len(row)}", raw[:RAW_LIMIT])
        else:
            rec: dict[str, Any] = dict(zip(header, row, strict=True))
            if rec.get(b.options.text_col) == "":
                rec[b.options.text_col] = ""
            yield b.build(rec, start, raw, row_flags)
        start = reader.line_num + 1


def _read_parquet(path: Path, b: Builder) -> Iterator[Article | Reject]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path.open("rb") if is_remote(path) else path)
    b.check_columns(pf.schema_arrow.names)
    n = 0
    for batch in pf.iter_batches(batch_size=1024):
        for rec in batch.to_pylist():
            n += 1
            yield b.build(rec, n, json.dumps(rec, ensure_ascii=False, default=str))


def is_document(p: Path) -> bool:
    """Whether `p` names one text or HTML file (read as a folder's file is: one article)."""
    return p.suffix.lower() in FOLDER_SUFFIXES and not p.is_dir()


def _read_folder(folder: Path, b: Builder) -> Iterator[Article | Reject]:
    entries = list_folder(folder, follow_symlinks=b.options.follow_symlinks)
    yield from _read_documents([(f"{b.source.rstrip('/')}/{e.rel}", e) for e in entries], b)


def _read_document(path: Path, b: Builder) -> Iterator[Article | Reject]:
    """One text or HTML file named as an input: its id is its file name, its source the name given."""
    yield from _read_documents([(b.source, Entry(path, escape_name(path.name)))], b)


def _read_documents(entries: list[tuple[str, Entry]], b: Builder) -> Iterator[Article | Reject]:
    for src, entry in entries:
        if entry.skipped:
            yield Reject(src, 1, entry.skipped, "")
            continue
        try:
            data = entry.path.read_bytes()
        except OSError as exc:
            yield Reject(src, 1, f"cannot read file: {exc.strerror or exc}", "")
            continue
        if looks_binary(data):
            yield Reject(src, 1, "binary file (many control bytes), not text", repr(data[:200]))
            continue
        text, flags = decode(data, src, document=True)
        if "\x00" in text:
            # A stray NUL (a test file, a bad export) does not make a text file binary.
            text = text.replace("\x00", "")
            flags.append("nul_removed")
        title = None
        suffix = entry.path.suffix.lower()
        if suffix == ".md":
            first, _, rest = text.lstrip().partition("\n")
            if first.startswith("# "):
                title, text = first[2:].strip(), rest.lstrip("\n")
        rec = {b.options.id_col: entry.rel, b.options.text_col: text, b.options.title_col: title or None}
        # A saved web page is read as a page (`--extract`); a .txt file's first line may be its title.
        art = b.build(rec, 1, text[:RAW_LIMIT], flags, page=suffix in HTML_SUFFIXES, headline=suffix == ".txt")
        if isinstance(art, Article):
            art = replace(art, source=src, line=1)
        yield art


def check_inputs(inputs: Sequence[str]) -> None:
    """Fail early (exit 2) on inputs that do not exist or are of an unknown kind."""
    if not inputs:
        raise UsageError("no input given")
    for inp in inputs:
        if inp == STDIN:
            continue
        p = as_path(inp)
        if not p.exists():
            raise UsageError(f"input not found: {inp}")
        if p.is_dir():
            continue
        if not is_remote(p) and not p.is_file():
            # A named pipe (or a device) can be read only once, and blocks until a writer comes:
            # the column check would consume it, or the run would hang silently.
            raise UsageError(f"{inp}: not a regular file (a named pipe or a device); pipe it to stdin and give - instead, "
                             f"for example `cat {inp} | summarize run - ...`")
        if p.suffix.lower() not in (*JSONL_SUFFIXES, ".csv", ".tsv", ".parquet", *FOLDER_SUFFIXES):
            raise UsageError(f"{inp}: unknown input type (use .jsonl, .ndjson, .csv, .parquet, .txt/.md/.html files or a "
                             "folder of them, or -)")
        if not is_remote(p) and not os.access(p, os.R_OK):
            raise UsageError(f"input not readable: {inp}")


def check_columns(inputs: Sequence[str], options: ReadOptions) -> None:
    """Fail early (exit 2) when an input lacks a column the options name.

    Reads only a CSV header, a Parquet schema or the first JSONL record, so a wrong
    `--text-col` is reported before any model is loaded or any output written.
    """
    for inp in inputs:
        p = as_path(inp)
        if inp == STDIN or p.is_dir() or is_document(p):
            continue
        b = Builder(escape_name(inp), options, [0], SeenIds())
        suffix = p.suffix.lower()
        try:
            if suffix == ".parquet":
                import pyarrow.parquet as pq

                try:
                    names = pq.ParquetFile(p.open("rb") if is_remote(p) else p).schema_arrow.names
                except Exception as exc:
                    raise UsageError(f"{inp}: not a readable Parquet file ({exc})") from exc
                b.check_columns(names)
            elif suffix in (".csv", ".tsv"):
                with p.open("rb") as fh:
                    head, _ = decode(fh.read(65536), inp)
                head = head.lstrip("\ufeff")
                first = next(csv.reader(io.StringIO(head, newline=""), _sniff_dialect(head)), None)
                if first is not None:
                    b.check_columns(first)
            elif suffix in JSONL_SUFFIXES:
                with p.open("rb") as fh:
                    for line in jsonl.read_lines(fh, inp):
                        # A line that cannot be parsed is a reject when the run reads it; the
                        # check looks at the first one that can.
                        rec, why = jsonl.parse(line.text) if line.text is not None else (None, "too long")
                        if why is not None or not isinstance(rec, dict):
                            continue
                        if options.text_col not in rec:
                            b.check_columns(rec.keys())
                        break
        except OSError as exc:
            raise UsageError(f"input not readable: {inp} ({exc.strerror or exc})") from exc


def read_records(inputs: Sequence[str], options: ReadOptions, *, stdin: IO[bytes] | None = None,
                 superseded: frozenset[tuple[str, int]] = frozenset(), keyed: bool = False) -> Iterator[Article | Reject]:
    """Every record of every input, in order, as an `Article` or a `Reject`.

    `superseded` holds the (source, line) of records that a later record of the same id replaces
    (`--on-duplicate-id last`, found by `keys.scan_ids`); with `keyed` (the output is a keyed
    table), `--on-duplicate-id all` rejects a duplicate as an error instead of keeping it.
    """
    check_inputs(inputs)
    counter = [0]
    seen = SeenIds()
    for inp in inputs:
        # A name that is not UTF-8 (undecodable bytes arrive as surrogate escapes) is escaped, as a
        # folder's file names are, so sources, ids and manifests stay valid and map back to the bytes.
        b = Builder(escape_name(inp), options, counter, seen, superseded=superseded, keyed=keyed)
        if inp == STDIN:
            yield from _read_jsonl(stdin or sys.stdin.buffer, b)
            continue
        p = as_path(inp)
        try:
            if p.is_dir():
                yield from _read_folder(p, b)
            elif is_document(p):
                yield from _read_document(p, b)
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
            yield Reject(b.source, 0, f"input could not be read: {exc}", "")
        except Exception as exc:  # a corrupt Parquet file, say
            if p.suffix.lower() == ".parquet":
                raise UsageError(f"{inp}: not a readable Parquet file ({exc})") from exc
            raise



def count_records(inputs: Sequence[str]) -> int | None:
    """How many records the inputs hold (cheaply, for the progress bar); None when unknown."""
    total = 0
    for inp in inputs:
        if inp == STDIN:
            return None
        p = as_path(inp)
        try:
            if not is_remote(p) and not p.is_dir() and not p.is_file():
                return None  # a named pipe: opening it would block until a writer comes
            if p.is_dir():
                total += len(list_folder(p))
            elif is_document(p):
                total += 1
            elif p.suffix.lower() == ".parquet":
                import pyarrow.parquet as pq

                total += pq.ParquetFile(p.open("rb") if is_remote(p) else p).metadata.num_rows
            elif p.suffix.lower() in JSONL_SUFFIXES:
                with p.open("rb") as fh:
                    total += jsonl.count_lines(fh)
            else:
                return None  # CSV records may span lines
        except Exception:  # only a progress bar's total: a bad input is reported by the run itself
            return None
    return total

