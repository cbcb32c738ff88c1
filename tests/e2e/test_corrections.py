"""Keys on Parquet datasets: duplicate ids rejected, settled by a policy, or refused before an
append loads a model; one version per article, one schema read alike by four readers, per-batch
counts, few files per batch, and `summarize check`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from summarize import io
from tests.conftest import invoke, sample_articles, write_jsonl

FAST = ["--to", "en", "--translate", "summary", "--shard-size", "2"]


def run(inp: Path, out: Path, fast_args: list[str], *extra: str) -> Any:
    return invoke(["run", str(inp), "--out", str(out), *FAST, *fast_args, *extra])


def four_readers(folder: Path) -> dict[str, pl.DataFrame]:
    """A Parquet table folder as Polars, pyarrow.dataset, pandas and DuckDB read it, default options
    with Hive partitions, rows sorted by id (columns in one order for comparison)."""
    frames: dict[str, Any] = {
        "polars": pl.read_parquet(folder, hive_partitioning=True),
        "pyarrow": pl.from_arrow(pads.dataset(folder, format="parquet", partitioning="hive").to_table()),
        "pandas": pl.from_pandas(pd_read(folder)),
        "duckdb": duckdb.sql(f"SELECT * FROM read_parquet('{folder}/**/*.parquet', hive_partitioning = true)").pl(),
    }
    cols = sorted(frames["polars"].columns)
    for name, frame in frames.items():
        assert sorted(frame.columns) == cols, name
    flat = [c for c in cols if not frames["polars"].schema[c].is_nested()]
    key = [c for c in ("id", "field", "target_lang") if c in cols]
    return {k: v.select(flat).with_columns(pl.all().cast(pl.String)).sort(key) for k, v in frames.items()}


def pd_read(folder: Path) -> Any:
    import pandas as pd

    return pd.read_parquet(folder)


def test_duplicate_ids_are_rejected_as_read_settled_by_a_policy_or_refused_before_an_append_loads_a_model(
        tmp_path: Path, fast_args: list[str]) -> None:
    base = sample_articles(3)
    recs = [{**base[0], "id": "x"}, {**base[1], "id": "y"}, {**base[2], "id": "x", "text": base[2]["text"] + " v2"}]
    inp = write_jsonl(tmp_path / "in.jsonl", recs)
    # A fresh run reads the input once: the later record of a duplicate id is rejected as it is
    # read, naming the first, and the rest of the batch is written (exit 1: a record was rejected).
    first = tmp_path / "first"
    res = run(inp, first, fast_args, "--quiet")
    assert res.exit_code == 1, res.output
    assert io.read_table(first, "articles").sort("id")["line"].to_list() == [1, 2]
    rej = io.read_table(first, "rejects")
    assert rej["line"].to_list() == [3]
    assert "duplicate id 'x' (first at" in rej["error"].item() and "in.jsonl:1" in rej["error"].item()
    assert "--on-duplicate-id" in rej["error"].item()
    assert invoke(["check", str(first)]).exit_code == 0
    # `last`: the last version wins, the superseded one is a reject that says so.
    out = tmp_path / "out"
    res = run(inp, out, fast_args, "--on-duplicate-id", "last", "--format", "wide")
    assert res.exit_code == 0, res.output
    arts = io.read_table(out, "articles")
    assert sorted(arts["id"].to_list()) == ["x", "y"]
    assert arts.filter(pl.col("id") == "x")["line"].item() == 3  # the last version won
    rej = io.read_table(out, "rejects")
    assert rej["line"].to_list() == [1] and "a later version wins" in rej["error"].item()
    assert rej["input_hash"].item() == json.loads((out / "run.json").read_text())["identity"]["inputs"][0]["blake2b"]
    assert pl.read_parquet(out / "wide.parquet")["id"].sort().to_list() == ["x", "y"]
    res = invoke(["check", str(out)])
    assert res.exit_code == 0, res.output
    # An append is checked before any model loads: a model folder without weights shows it.
    hollow = tmp_path / "hollow"
    shutil.copytree(Path(fast_args[1]), hollow, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    before = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    more = write_jsonl(tmp_path / "more.jsonl", [{**base[0], "id": "z"}, {**base[1], "id": "z"}])
    res = invoke(["run", str(more), "--out", str(out), *FAST, "--summary-model", str(hollow), "--append", "--quiet"])
    assert res.exit_code == 2 and "'z'" in res.output and "--on-duplicate-id last" in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1
    assert {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == before


def test_appends_read_alike_by_four_readers_with_per_batch_counts_and_one_file_per_partition(
        tmp_path: Path, fast_args: list[str]) -> None:
    base = sample_articles(6)
    b0 = write_jsonl(tmp_path / "b0.jsonl", [{**a, "id": f"a{i}", "desk": "x"} for i, a in enumerate(base[:4])])
    b1 = write_jsonl(tmp_path / "b1.jsonl", [{**a, "id": f"b{i}", "desk": None} for i, a in enumerate(base[4:6])])
    out = tmp_path / "out"
    keep = ["--keep-col", "desk", "--partition-by", "lang"]
    assert run(b0, out, fast_args, *keep).exit_code == 0
    # shards of 2 articles, but one file per table and partition folder once the run ends
    for t in ("articles", "translations", "segments"):
        for folder in {p.parent for p in (out / t).rglob("*.parquet")}:
            assert len(list(folder.glob("*.parquet"))) == 1, folder
    res = run(b1, out, fast_args, *keep, "--append")
    assert res.exit_code == 0, res.output
    # a no-op `--append --resume` of the second batch counts that batch, the totals apart
    res = invoke(["run", str(b1), "--out", str(out), *FAST, *fast_args[:-1], *keep, "--append", "--resume"])
    assert res.exit_code == 0, res.output
    assert "this batch: 2 ok" in res.output and "2 already done" in res.output and "dataset totals: 6 ok" in res.output
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["counts"] == {"ok": 2} and manifest["dataset_counts"] == {"ok": 6}
    for t in ("articles", "translations"):
        frames = four_readers(out / t)
        first = frames.pop("polars")
        assert first.height == 6 and ("desk" in first.columns) == (t == "articles")
        for name, frame in frames.items():
            assert frame.equals(first), (t, name)
    res = invoke(["check", str(out)])
    assert res.exit_code == 0, res.output


def test_an_all_null_kept_column_takes_the_dataset_type(tmp_path: Path, fast_args: list[str]) -> None:
    base = sample_articles(2)
    b0 = write_jsonl(tmp_path / "b0.jsonl", [{**base[0], "id": "a", "outlet": 7}])
    b1 = tmp_path / "b1.parquet"
    pq.write_table(pa.table({"id": ["b"], "text": [base[1]["text"]], "outlet": pa.nulls(1)}), b1)
    out = tmp_path / "out"
    assert run(b0, out, fast_args, "--keep-col", "outlet:int").exit_code == 0
    res = run(b1, out, fast_args, "--keep-col", "outlet", "--append")
    assert res.exit_code == 0, res.output
    arts = pl.read_parquet(out / "articles", hive_partitioning=True)
    assert arts.schema["outlet"] == pl.Int64 and sorted(arts["outlet"].to_list(), key=str) == [7, None]


def test_check_reports_a_planted_duplicate_part_a_stray_part_and_a_missing_file(
        tmp_path: Path, fast_args: list[str]) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", [{**a, "id": f"a{i}"} for i, a in enumerate(sample_articles(3))])
    out = tmp_path / "out"
    assert run(inp, out, fast_args).exit_code == 0
    res = invoke(["check", str(out)])
    assert res.exit_code == 0 and "no violations" in res.output, res.output
    part = next((out / "articles").glob("part-*.parquet"))
    # a copy that no marker lists: uncommitted, a glob would read its rows twice
    shutil.copy(part, part.with_name("part-planted-00000.parquet"))
    res = invoke(["check", str(out)])
    assert res.exit_code == 1 and "part-planted-00000.parquet is a part no commit marker lists" in res.output
    # the same copy listed by a marker of its own: committed, so every id is a duplicate key
    marker = {"run_id": "planted", "parts": [{"path": "articles/part-planted-00000.parquet", "table": "articles",
                                              "rows": 3, "bytes": part.stat().st_size}]}
    (out / "_summarize" / "commits" / "planted.json").write_text(json.dumps(marker))
    res = invoke(["check", str(out)])
    assert res.exit_code == 1 and "key: articles: (id='a0') occurs 2 times" in res.output, res.output
    (out / "_summarize" / "commits" / "planted.json").unlink()
    (out / "articles" / "part-planted-00000.parquet").unlink()
    tr = next((out / "translations").glob("part-*.parquet"))
    tr.unlink()
    res = invoke(["check", str(out)])
    assert res.exit_code == 1 and f"translations/{tr.name}: listed by marker" in res.output and "missing" in res.output


@pytest.mark.parametrize("table_format", ["parquet"])
def test_check_refuses_a_folder_that_is_not_a_dataset(tmp_path: Path, table_format: str) -> None:
    res = invoke(["check", str(tmp_path)])
    assert res.exit_code == 2 and "not a dataset" in res.output
