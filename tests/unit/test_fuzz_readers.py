"""A Hypothesis fuzz pass over the readers (JSONL, CSV, text, HTML, Parquet): whatever the bytes, every
record comes back as an article row or a reject, in order, and nothing raises. CSV is fuzzed both as a
CSV writer's output and as hostile bytes; Parquet both as valid files and as valid files with bytes
overwritten or cut off, where a file that cannot be read is one usage error or one reject."""

from __future__ import annotations

import csv
import io as stdio
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from summarize import io
from summarize.options import ReadOptions
from summarize.schema import Article, Reject

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
# Text as anything a user may hand over, lone surrogates excluded where the format must encode it.
storable = st.text(st.characters(exclude_categories=("Cs",)), max_size=200)
anything = st.text(max_size=200)  # JSON escapes even lone surrogates
encodings = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"])
values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), storable,
                   st.lists(st.integers(), max_size=3), st.dictionaries(storable, st.integers(), max_size=2))


def read(path: Path, **opts: object) -> list[Article | Reject]:
    return list(io.read_records([str(path)], ReadOptions(**opts)))  # type: ignore[arg-type]


def where(rec: Article | Reject) -> int:
    return rec.line


record = st.fixed_dictionaries({"text": anything}, optional={"id": st.one_of(storable, st.integers()), "title": values,
                                                            "n": values})
raw_line = st.binary(max_size=120).filter(lambda b: b"\n" not in b and not b.lstrip().startswith(b"{"))
# Poison the parser: deep nesting (RecursionError past ~1,000 levels) and numbers of thousands of digits.
poison = st.one_of(st.integers(0, 3000).map(lambda d: ("[" * d + "]" * d).encode()),
                   st.integers(1, 6000).map(lambda d: b'{"text": "t", "n": ' + b"9" * d + b"}"))
line = st.one_of(record.map(lambda r: ("rec", r)), st.one_of(raw_line, poison).map(lambda b: ("raw", b)))


@FUZZ
@given(lines=st.lists(line, min_size=1, max_size=12), ascii_only=st.booleans())
def test_jsonl_every_line_is_a_row_or_a_reject(lines: list[tuple[str, object]], ascii_only: bool) -> None:
    body = b"".join((json.dumps(v, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass") if kind == "rec"
                     else v) + b"\n" for kind, v in lines)  # type: ignore[operator]
    expected = [n for n, chunk in enumerate(body.split(b"\n")[:-1], start=1) if chunk.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "in.jsonl"
        f.write_bytes(body)
        io.check_columns([str(f)], ReadOptions())
        got = read(f, keep_cols=("n:int",))
    assert [where(r) for r in got] == expected


def _lines(text: str) -> int:
    """Physical lines as a CSV reader counts them (\\n, \\r and \\r\\n end a line)."""
    return len(stdio.StringIO(text, newline="").readlines())


@FUZZ
@given(rows=st.lists(st.tuples(storable, storable, storable), max_size=10), encoding=encodings,
       delimiter=st.sampled_from([",", ";", "\t"]))
def test_csv_every_row_is_a_row_or_a_reject(rows: list[tuple[str, str, str]], encoding: str, delimiter: str) -> None:
    buf = stdio.StringIO(newline="")
    writer = csv.writer(buf, delimiter=delimiter)
    writer.writerow(["id", "text", "title"])
    starts, line = [], 2
    for row in rows:
        before = buf.tell()
        writer.writerow(row)
        starts.append(line)  # a quoted field with line breaks spans several lines
        line += _lines(buf.getvalue()[before:])
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "in.csv"
        f.write_bytes(buf.getvalue().encode(encoding))
        io.check_columns([str(f)], ReadOptions())
        got = read(f)
    assert [where(r) for r in got] == starts  # every record once, in order, none lost


# Hostile bytes, not a CSV writer's output: NULs, invalid UTF-8, legacy bytes, stray delimiters and
# quotes. Each line starts with an id and a delimiter and has no line break, and a quote never opens
# a field (in a field that does not start with one, a quote is a plain character), so each line is
# exactly one record; blank lines (empty or spaces) are skipped, as in JSONL.
HOSTILE = [b",", b'"', b"\x00", b"\xff", b"\xc3", b"\xe9", b"\xe2\x80", b"\xef\xbb\xbf", b";", b"\t", b"\\", b"\x1c"]
hostile_line = st.lists(st.one_of(st.binary(max_size=8), st.sampled_from(HOSTILE)), max_size=12).map(
    lambda parts: b"".join(parts).replace(b"\n", b" ").replace(b"\r", b" "))
csv_line = st.one_of(hostile_line.map(lambda b: (True, b)), st.sampled_from([b"", b"   "]).map(lambda b: (False, b)))


@FUZZ
@given(lines=st.lists(csv_line, max_size=12), crlf=st.booleans())
def test_csv_of_hostile_bytes_every_line_is_a_row_or_a_reject(lines: list[tuple[bool, bytes]], crlf: bool) -> None:
    body = [b"id,text"] + [(b"r%d,%s" % (i, raw)).replace(b',"', b",'") if real else raw
                           for i, (real, raw) in enumerate(lines)]
    expected = [n for n, (real, _) in enumerate(lines, start=2) if real]
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "in.csv"
        f.write_bytes((b"\r\n" if crlf else b"\n").join(body) + b"\n")
        io.check_columns([str(f)], ReadOptions())
        got = read(f)
    assert [where(r) for r in got] == expected


@FUZZ
@given(files=st.lists(st.one_of(st.binary(max_size=300), storable.map(str.encode)), min_size=1, max_size=6),
       html=st.booleans())
def test_text_and_html_folders_every_file_is_a_row_or_a_reject(files: list[bytes], html: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        for i, data in enumerate(files):
            if html:
                data = b"<html><head><title>t</title></head><body><p>" + data + b"</p></body></html>"
            (folder / f"f{i:02d}.{'html' if html else 'txt'}").write_bytes(data)
        got = read(folder)
    assert [r.source.rsplit("/", 1)[-1] for r in got] == [f"f{i:02d}.{'html' if html else 'txt'}" for i in range(len(files))]


@FUZZ
@given(rows=st.lists(st.tuples(st.one_of(st.none(), storable), st.one_of(st.none(), storable),
                               st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1))), max_size=10))
def test_parquet_every_row_is_a_row_or_a_reject(rows: list[tuple[str | None, str | None, int | None]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": pa.array([r[0] for r in rows], pa.string()), "text": pa.array([r[1] for r in rows], pa.string()),
                      "n": pa.array([r[2] for r in rows], pa.int64())})
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "in.parquet"
        pq.write_table(table, f)
        io.check_columns([str(f)], ReadOptions())
        got = read(f, keep_cols=("n:int",))
    assert [where(r) for r in got] == list(range(1, len(rows) + 1))


def _parquet_bytes(n: int) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    table = pa.table({"id": [f"a{i}" for i in range(n)], "text": [f"text {i} é" for i in range(n)], "n": list(range(n))})
    pq.write_table(table, sink, row_group_size=3)
    return bytes(sink.getvalue().to_pybytes())


# A valid file with a few bytes overwritten, or cut short: the footer, a page header or data.
mutation = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4)


@FUZZ
@given(n=st.integers(0, 8), edits=mutation, cut=st.one_of(st.none(), st.integers(1, 10_000)))
def test_a_mutated_parquet_file_is_every_row_or_one_usage_error(
        n: int, edits: list[tuple[int, int]], cut: int | None) -> None:
    import pyarrow.parquet as pq

    from summarize.errors import UsageError

    data = bytearray(_parquet_bytes(n))
    for at, byte in edits:
        data[at % len(data)] = byte
    if cut is not None:
        data = data[: cut % len(data)]
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "in.parquet"
        f.write_bytes(bytes(data))
        try:
            io.check_columns([str(f)], ReadOptions())
            got = read(f)
        except UsageError:
            return  # the whole file refused in one sentence (exit 2), nothing half-read
        rows = pq.ParquetFile(f).metadata.num_rows
    if got and isinstance(got[-1], Reject) and got[-1].line == 0:
        # A page that cannot be read (pyarrow's OSError): the rest of the file is one reject.
        assert "input could not be read" in got[-1].error
        got, rows = got[:-1], len(got) - 1
    assert [where(r) for r in got] == list(range(1, rows + 1))
    assert all(isinstance(r, Article | Reject) for r in got)


@pytest.mark.parametrize("data", [b"", b"PAR1", b"PAR1" + bytes(range(256)) + b"PAR1"])
def test_a_broken_parquet_file_is_one_usage_error(tmp_path: Path, data: bytes) -> None:
    from summarize.errors import UsageError

    f = tmp_path / "in.parquet"
    f.write_bytes(data)
    with pytest.raises(UsageError, match="not a readable Parquet file"):
        io.check_columns([str(f)], ReadOptions())
    assert io.count_records([str(f)]) is None
