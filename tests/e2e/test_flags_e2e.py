"""Flags and language codes end to end: the guards' flag columns and Bokmål passthrough, through
the real `summarize run` with tiny models (the pure parts are in tests/unit)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from summarize import guards
from summarize.guards import EMPTY_OUTPUT, LENGTH_RATIO, LOW_CONFIDENCE, REPETITION, WRONG_LANGUAGE
from summarize.quality.faithfulness import UNSUPPORTED_NAME, UNSUPPORTED_NUMBER
from tests.conftest import invoke, read, sample_articles, write_jsonl

assert guards


@pytest.mark.usefixtures("one_torch_thread")
def test_flags_columns_hold_lists(tmp_path: Path, fast_args: list[str]) -> None:
    f = write_jsonl(tmp_path / "in.jsonl", sample_articles(4))
    out = tmp_path / "out"
    res = invoke(["run", str(f), "--out", str(out), "--to", "fr", "--translate", "summary,title", *fast_args])
    assert res.exit_code == 0, res.output
    known = {REPETITION, LENGTH_RATIO, WRONG_LANGUAGE, EMPTY_OUTPUT, LOW_CONFIDENCE, UNSUPPORTED_NUMBER, UNSUPPORTED_NAME,
             "truncated"}
    for table in ("articles", "translations"):
        df = read(out, table)
        assert df.schema["flags"] == pl.List(pl.String)
        flags = df["flags"].to_list()
        assert all(isinstance(v, list) for v in flags)
        assert set().union(*map(set, flags)) <= known
    # Random-weight models write gibberish, which the guards notice.
    tr = read(out, "translations")
    assert tr.filter(pl.col("model") != "identity")["flags"].list.len().sum() > 0


def test_given_bokmal_to_bokmal_is_identity_end_to_end(tmp_path: Path, fast_args: list[str]) -> None:
    # Given as `nb` (in any spelling) and asked for as `nb`: passed through, not M2M100's `no -> nb`.
    arts = sample_articles(3)
    f = write_jsonl(tmp_path / "in.jsonl", [{**a, "language": code} for a, code in zip(arts, ["nb", "NB", "nob"], strict=True)])
    out = tmp_path / "out"
    res = invoke(["run", str(f), "--out", str(out), "--lang-col", "language", "--to", "nb", "--translate", "summary,title", *fast_args])
    assert res.exit_code == 0, res.output
    assert read(out, "articles")["lang"].to_list() == ["nb", "nb", "nb"]
    tr = read(out, "translations")
    assert len(tr) == 6
    assert set(tr["source_lang"]) == {"nb"} and set(tr["target_lang"]) == {"nb"}
    assert set(tr["model"]) == {"identity"}
    plan = json.loads(invoke(["models", "plan", str(f), "--lang-col", "language", "--to", "NB", "--json"]).output)
    assert {a["model"] for a in plan["translations"]} == {"identity"}
    # Norwegian as langdetect writes it (`no`) is another code: it is translated.
    g = write_jsonl(tmp_path / "no.jsonl", [{**arts[0], "language": "no"}])
    plan = json.loads(invoke(["models", "plan", str(g), "--lang-col", "language", "--to", "nb", "--json"]).output)
    assert "identity" not in {a["model"] for a in plan["translations"]}
