"""Poisoned records are rejects, never fatal: nesting depth, line length, numbers that do not fit their
declared type; the up-front column check and the kept-column scan treat them the same way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from summarize import io
from summarize.io import jsonl
from summarize.io.tables import kept_columns
from summarize.options import ReadOptions
from summarize.schema import Article, Reject

DEEP = "[" * 50_000 + "]" * 50_000
GOOD = {"id": "ok", "text": "A plain article about the harbour."}


def read(path: Path, **opts: object) -> tuple[list[Article], list[Reject]]:
    recs = list(io.read_records([str(path)], ReadOptions(**opts)))  # type: ignore[arg-type]
    return [r for r in recs if isinstance(r, Article)], [r for r in recs if isinstance(r, Reject)]


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("where", [0, 1, 2])
def test_deep_nesting_is_a_reject_wherever_it_is(tmp_path: Path, where: int) -> None:
    lines = [json.dumps({**GOOD, "id": f"g{i}", "n": i}) for i in range(2)]
    lines.insert(where, '{"id": "deep", "text": "x", "n": ' + DEEP + "}")
    f = write(tmp_path / "in.jsonl", lines)
    io.check_columns([str(f)], ReadOptions(keep_cols=("n",)))  # the up-front check does not crash
    assert [k.name for k in kept_columns([str(f)], ReadOptions(keep_cols=("n",)))] == ["n"]
    arts, rejects = read(f)
    assert [a.id for a in arts] == ["g0", "g1"]
    (rej,) = rejects
    assert rej.line == where + 1 and "nested more than" in rej.error and rej.fatal


def test_a_bare_deep_array_and_huge_numbers_are_rejects(tmp_path: Path) -> None:
    f = write(tmp_path / "in.jsonl", [DEEP, '{"id": "big", "text": "t", "n": ' + "9" * 5000 + "}",
                                      json.dumps(GOOD)])
    arts, rejects = read(f)
    assert [a.id for a in arts] == ["ok"]
    assert [r.line for r in rejects] == [1, 2] and "digits" in rejects[1].error


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = json.dumps({"text": "[" * 10_000 + "{" * 10_000})
    assert jsonl.too_deep(text) == 0 and jsonl.parse(text)[1] is None
    assert jsonl.too_deep("[" * 65 + "]" * 65) == 65


@pytest.mark.parametrize(("value", "fits"), [
    (2**63 - 1, True), (-(2**63), True), (10**29, False), ("123456789012345678901234567890", False),
    (1e30, False), ("42", True), ("n/a", True),  # not a number at all: a bad_value flag later, not a reject
])
def test_numbers_must_fit_their_declared_type(tmp_path: Path, value: object, fits: bool) -> None:
    f = write(tmp_path / "in.jsonl", [json.dumps({"id": "a", "text": "t", "n": value}), json.dumps(GOOD)])
    arts, rejects = read(f, keep_cols=("n:int",))
    assert len(arts) == 1 + fits
    if not fits:
        (rej,) = rejects
        assert rej.line == 1 and "--keep-col n:int" in rej.error and "64-bit" in rej.error


def test_a_line_over_the_length_limit_is_skipped_in_bounded_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", 1000)
    f = write(tmp_path / "in.jsonl", [json.dumps({**GOOD, "id": "a"}), json.dumps({"id": "long", "text": "x" * 5000}),
                                      json.dumps({**GOOD, "id": "b"})])
    arts, rejects = read(f)
    assert [a.id for a in arts] == ["a", "b"]
    (rej,) = rejects
    assert rej.line == 2 and "longer than the limit" in rej.error and rej.raw == ""


def test_a_csv_field_over_the_limit_is_one_reject(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", 1000)
    f = tmp_path / "in.csv"
    f.write_text('id,text\na,"first"\nb,"' + "x" * 5000 + '"\nc,third\n', encoding="utf-8")
    arts, rejects = read(f)
    assert "a" in [a.id for a in arts] and len(rejects) >= 1 and "malformed CSV" in rejects[0].error


def test_kept_values_keep_control_and_zero_width_characters(tmp_path: Path) -> None:
    import pyarrow as pa

    from summarize.io.tables import Kept, coerce_kept

    value = "a\u200bb\x07c\u202e"
    assert coerce_kept(value, Kept("k", pa.string())) == (value, True)
    assert coerce_kept("\ud800x", Kept("k", pa.string())) == ("\ufffdx", True)
    assert coerce_kept(10**30, Kept("k", pa.int64(), "int")) == (None, False)


def test_titles_are_cut_like_texts_and_flagged(tmp_path: Path) -> None:
    f = write(tmp_path / "in.jsonl", [json.dumps({"id": "a", "text": "short text", "title": "T" * 500})])
    (art,), _ = read(f, max_chars=100)
    assert art.title == "T" * 100 and "title_truncated" in art.flags and "input_truncated" not in art.flags


def test_the_api_refuses_an_output_that_dies_with_the_process(tmp_path: Path) -> None:
    from summarize import api
    from summarize.errors import UsageError

    f = write(tmp_path / "in.jsonl", [json.dumps(GOOD)])
    with pytest.raises(UsageError, match="lives only as long as this process"):
        api.run([f], "memory://bucket/out")
    with pytest.raises(UsageError, match="more than once"):
        api.run([f], tmp_path / "out", partition_by=("lang", "lang"))
    with pytest.raises(UsageError, match=r"names no language|not a language code"):
        api.run([f], tmp_path / "out", to=",,")
    with pytest.raises(UsageError, match="names no language"):
        api.run([f], tmp_path / "out", to=[])
