"""A Hypothesis fuzz pass over the readers (JSONL, CSV, text, HTML, Parquet): whatever the bytes, every
record comes back as an article row or a reject, in order, and nothing raises."""

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


@FUZZ
@given(rows=st.lists(st.tuples(storable, storable, storable), max_size=10), encoding=encodings,
       delimiter=st.sampled_from([",", ";", "\t"]))
def test_csv_every_row_is_a_row_or_a_reject(rows: list[tuple[str, str, str]], encoding: str, delimiter: str) -> None:
    buf = stdio.StringIO(newline="")
    writer = csv.writer(buf, delimiter=delimiter)
    writer.writerow(["id", "text", "title"])
    writer.writerows(rows)
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "in.csv"
        f.write_bytes(buf.getvalue().encode(encoding))
        io.check_columns([str(f)], ReadOptions())
        got = read(f)
    blank = sum(1 for r in rows if not any(r))  # a row of empty fields reads as a blank line, as in JSONL
    assert len(got) >= len(rows) - blank and len(got) <= len(rows)
    assert all(isinstance(r, Article | Reject) for r in got)


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


@pytest.mark.parametrize("data", [b"", b"PAR1", b"PAR1" + bytes(range(256)) + b"PAR1"])
def test_a_broken_parquet_file_is_one_usage_error(tmp_path: Path, data: bytes) -> None:
    from summarize.errors import UsageError

    f = tmp_path / "in.parquet"
    f.write_bytes(data)
    with pytest.raises(UsageError, match="not a readable Parquet file"):
        io.check_columns([str(f)], ReadOptions())
    assert io.count_records([str(f)]) is None
