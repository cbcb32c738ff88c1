"""--append: a dataset that grows run by run, with duplicate-batch refusal and schema history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from summarize import io

from .conftest import invoke, sample_articles, write_jsonl

FAST = ["--to", "en", "--translate", "summary", "--shard-size", "2"]

# The README's "latest version of each article" queries, tested here as written there.
LATEST_SQL = ("SELECT * FROM read_parquet('{out}/articles/**/*.parquet', union_by_name = true) "
              "QUALIFY row_number() OVER (PARTITION BY id ORDER BY processed_at DESC) = 1")


def latest_polars(out: Path) -> pl.DataFrame:
    schema: dict[str, Any] = {}
    for f in sorted(out.glob("articles/**/*.parquet")):
        schema |= pl.read_parquet_schema(f)
    arts = pl.scan_parquet(out / "articles" / "**" / "*.parquet", schema=schema, missing_columns="insert")
    return arts.filter(pl.col("processed_at") == pl.col("processed_at").max().over("id")).collect()


def batches(tmp_path: Path) -> list[Path]:
    base = sample_articles(6)
    first = [{**a, "id": f"a{i}"} for i, a in enumerate(base[:3])]
    second = [{**a, "id": f"b{i}"} for i, a in enumerate(base[3:5])]
    # the third batch corrects a1 (same id, new text) and brings a kept column the dataset lacks
    third = [{**base[5], "id": "a1", "text": base[5]["text"] + " Korrigiert.", "desk": "sport"}]
    return [write_jsonl(tmp_path / f"batch{n}.jsonl", b) for n, b in enumerate((first, second, third))]


def run(inp: Path, out: Path, fast_args: list[str], *extra: str) -> Any:
    return invoke(["run", str(inp), "--out", str(out), *FAST, *fast_args, *extra])


def test_append_three_batches_keeps_history_and_readers_see_every_run(tmp_path: Path, fast_args: list[str]) -> None:
    b0, b1, b2 = batches(tmp_path)
    out = tmp_path / "out"
    assert run(b0, out, fast_args).exit_code == 0
    res = run(b1, out, fast_args)
    assert res.exit_code == 2 and "--append" in res.output  # a plain run still refuses a non-empty folder
    assert run(b1, out, fast_args, "--append").exit_code == 0
    res = run(b2, out, fast_args, "--append", "--keep-col", "desk")
    assert res.exit_code == 0, res.output
    runs = sorted((out / "_summarize" / "runs").glob("*.json"))
    assert len(runs) == 3
    ds = json.loads((out / "_summarize" / "dataset.json").read_text())
    assert ds["batches"] == [json.loads(r.read_text())["run_id"] for r in runs]
    assert [c["name"] for h in ds["schema_history"] for c in h["added_columns"]] == ["desk"]
    assert ds["schema_history"][0]["run_id"] == ds["batches"][2]
    assert "desk" in [c["name"] for c in ds["tables"]["articles"]["columns"]]
    every = io.read_table(out, "articles")
    assert sorted(every["id"].to_list()) == ["a0", "a1", "a1", "a2", "b0", "b1"]
    assert every["run_id"].n_unique() == 3
    assert every.filter(pl.col("desk").is_not_null())["id"].to_list() == ["a1"]
    latest = latest_polars(out)
    assert sorted(latest["id"].to_list()) == ["a0", "a1", "a2", "b0", "b1"]
    corrected = latest.filter(pl.col("id") == "a1")
    assert corrected["run_id"].item() == ds["batches"][2] and corrected["desk"].item() == "sport"
    sql = duckdb.sql(LATEST_SQL.format(out=out)).pl()
    assert sorted(sql["id"].to_list()) == sorted(latest["id"].to_list())
    assert sql.filter(pl.col("id") == "a1")["content_hash"].item() == corrected["content_hash"].item()


def test_reappending_a_batch_is_refused_naming_the_run_unless_allowed(tmp_path: Path, fast_args: list[str]) -> None:
    b0, _, _ = batches(tmp_path)
    out = tmp_path / "out"
    assert run(b0, out, fast_args).exit_code == 0
    first = json.loads((out / "run.json").read_text())["run_id"]
    copy = tmp_path / "renamed.jsonl"
    copy.write_bytes(b0.read_bytes())  # another name, the same content
    before = sorted(p.name for p in (out / "_summarize" / "commits").iterdir())
    res = run(copy, out, fast_args, "--append")
    assert res.exit_code == 2 and first in res.output and "--allow-duplicate-batch" in res.output
    assert sorted(p.name for p in (out / "_summarize" / "commits").iterdir()) == before
    assert run(copy, out, fast_args, "--append", "--allow-duplicate-batch").exit_code == 0
    assert io.read_table(out, "articles").height == 6


def test_append_refuses_another_layout_or_a_retyped_column(tmp_path: Path, fast_args: list[str]) -> None:
    b0, b1, _ = batches(tmp_path)
    out = tmp_path / "out"
    assert run(b0, out, fast_args).exit_code == 0
    res = run(b1, out, fast_args, "--append", "--partition-by", "lang")
    assert res.exit_code == 2 and "--partition-by" in res.output
    res = run(b1, out, fast_args, "--upsert")
    assert res.exit_code == 2 and "--table-format delta" in res.output
    res = run(b1, out, fast_args, "--append", "--table-format", "delta")
    assert res.exit_code == 2 and "parquet" in res.output
