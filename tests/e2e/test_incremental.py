"""--append: a dataset that grows run by run, with duplicate-batch refusal and schema history."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import duckdb

from summarize import io
from tests.conftest import invoke, sample_articles, write_jsonl

FAST = ["--to", "en", "--translate", "summary", "--shard-size", "2"]

# The "latest version of each article" queries of docs/datasets.md, tested here as written there.
LATEST_SQL = ("SELECT * FROM read_parquet('{out}/articles/**/*.parquet', union_by_name = true) "
              "QUALIFY row_number() OVER (PARTITION BY id ORDER BY processed_at DESC) = 1")


def batches(tmp_path: Path) -> list[Path]:
    base = sample_articles(6)
    first = [{**a, "id": f"a{i}"} for i, a in enumerate(base[:3])]
    second = [{**a, "id": f"b{i}"} for i, a in enumerate(base[3:5])]
    # the third batch corrects a1 (same id, new text) and brings a kept column the dataset lacks
    third = [{**base[5], "id": "a1", "text": base[5]["text"] + " Korrigiert.", "desk": "sport"}]
    return [write_jsonl(tmp_path / f"batch{n}.jsonl", b) for n, b in enumerate((first, second, third))]


def run(inp: Path, out: Path, fast_args: list[str], *extra: str) -> Any:
    return invoke(["run", str(inp), "--out", str(out), *FAST, *fast_args, *extra])


def snapshot(out: Path) -> dict[str, bytes]:
    """Every file of a folder with its bytes (to show a refused run changed nothing)."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_append_keeps_history_refuses_held_ids_and_a_changed_schema_leaving_the_folder_as_it_was(
        tmp_path: Path, fast_args: list[str]) -> None:
    b0, b1, b2 = batches(tmp_path)
    out = tmp_path / "out"
    assert run(b0, out, fast_args).exit_code == 0
    res = run(b1, out, fast_args)
    assert res.exit_code == 2 and "--append" in res.output  # a plain run still refuses a non-empty folder
    assert run(b1, out, fast_args, "--append").exit_code == 0
    before = snapshot(out)
    # a correction of a1 is not a second row: Parquet keeps one version per article
    res = run(b2, out, fast_args, "--append")
    assert res.exit_code == 2 and "'a1'" in res.output and "--upsert" in res.output, res.output
    assert snapshot(out) == before
    # a new kept column would give files with other columns: refused, nothing written
    fresh = write_jsonl(tmp_path / "fresh.jsonl", [{**sample_articles(1)[0], "id": "c0", "desk": "sport"}])
    res = run(fresh, out, fast_args, "--append", "--keep-col", "desk")
    assert res.exit_code == 2 and "adds desk" in res.output, res.output
    assert snapshot(out) == before
    runs = sorted((out / "_summarize" / "runs").glob("*.json"))
    assert len(runs) == 2
    ds = json.loads((out / "_summarize" / "dataset.json").read_text())
    assert ds["batches"] == [json.loads(r.read_text())["run_id"] for r in runs]
    every = io.read_table(out, "articles")
    assert sorted(every["id"].to_list()) == ["a0", "a1", "a2", "b0", "b1"]
    assert every["run_id"].n_unique() == 2
    sql = duckdb.sql(LATEST_SQL.format(out=out)).pl()
    assert sorted(sql["id"].to_list()) == sorted(every["id"].to_list())


def test_an_append_that_drops_a_kept_column_is_refused_leaving_the_folder_as_it_was(
        tmp_path: Path, fast_args: list[str]) -> None:
    base = sample_articles(2)
    b0 = write_jsonl(tmp_path / "b0.jsonl", [{**base[0], "id": "a0", "desk": "sport"}])
    b1 = write_jsonl(tmp_path / "b1.jsonl", [{**base[1], "id": "b0", "desk": "kultur"}])
    out = tmp_path / "out"
    assert (res := run(b0, out, fast_args, "--keep-col", "desk")).exit_code == 0, res.output
    before = snapshot(out)
    # without --keep-col desk the new files would lack a column the old ones have: refused, nothing written
    res = run(b1, out, fast_args, "--append")
    assert res.exit_code == 2 and "drops desk" in res.output and "--keep-col desk" in res.output, res.output
    assert snapshot(out) == before
    assert (res := invoke(["check", str(out)])).exit_code == 0, res.output


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
    # allowed as a batch, its articles are still held: Parquet does not take a second version
    res = run(copy, out, fast_args, "--append", "--allow-duplicate-batch")
    assert res.exit_code == 2 and "already holds 3 of this batch's article ids" in res.output
    assert io.read_table(out, "articles").height == 3


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


def _query(out: Path) -> list[tuple[Any, ...]]:
    sql = (f"SELECT id, lang, run_id, summary, content_hash FROM read_parquet('{out}/articles/**/*.parquet', "
           "hive_partitioning = true, union_by_name = true) ORDER BY id, run_id")
    arts = duckdb.sql(sql).fetchall()
    tr = duckdb.sql(f"SELECT id, field, target_lang, text FROM read_parquet('{out}/translations/**/*.parquet', "
                    "hive_partitioning = true, union_by_name = true) ORDER BY ALL").fetchall()
    return [*arts, *tr]


def test_compact_keeps_every_row_and_makes_fewer_files(tmp_path: Path, fast_args: list[str]) -> None:
    b0, b1, _ = batches(tmp_path)
    out = tmp_path / "out"
    assert run(b0, out, fast_args, "--partition-by", "lang").exit_code == 0
    assert run(b1, out, fast_args, "--partition-by", "lang", "--append").exit_code == 0
    before = _query(out)
    n_before = len(list(out.glob("*/**/*.parquet")))
    res = invoke(["compact", str(out)])
    assert res.exit_code == 0, res.output
    n_after = len(list(out.glob("*/**/*.parquet")))
    assert n_after < n_before and f"{n_before} files (" in res.output and f"before, {n_after} (" in res.output
    assert _query(out) == before
    assert sorted(io.read_table(out, "articles")["id"].to_list()) == ["a0", "a1", "a2", "b0", "b1"]
    # the switch is one marker that supersedes the runs' markers; the files it lists are what a reader through markers sees
    from summarize.io.compact import committed_files

    live = sorted(p.name for p in committed_files(out, "articles"))
    assert live == sorted(p.name for p in out.glob("articles/**/*.parquet"))
    every = [p.name for t in ("articles", "translations", "segments", "rejects") for p in committed_files(out, t)]
    assert any("compact" in name for name in every)
    assert [m.name for m in (out / "_summarize" / "commits").iterdir()] == [m for m in os.listdir(out / "_summarize" / "commits")
                                                                          if m.startswith("compact-")]
    assert not (out / "_summarize" / "lock").exists()
    # the compacted dataset still takes an append and a second compaction
    b3 = write_jsonl(tmp_path / "batch3.jsonl", [{**sample_articles(1)[0], "id": "c0"}])
    assert run(b3, out, fast_args, "--partition-by", "lang", "--append").exit_code == 0
    assert invoke(["compact", str(out)]).exit_code == 0
    assert io.read_table(out, "articles").height == 6


def test_compact_refuses_a_folder_that_is_not_a_dataset(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("mine")
    res = invoke(["compact", str(tmp_path)])
    assert res.exit_code == 2 and "not a dataset" in res.output
    assert (tmp_path / "x.txt").read_text() == "mine"


def test_append_resume_continues_the_same_batch_and_appends_a_new_one(tmp_path: Path, fast_args: list[str]) -> None:
    b0, b1, _ = batches(tmp_path)
    out = tmp_path / "out"
    assert run(b0, out, fast_args, "--append", "--resume").exit_code == 0  # a new dataset
    assert run(b0, out, fast_args, "--append", "--resume").exit_code == 0  # the same batch again: nothing to add
    assert io.read_table(out, "articles").height == 3
    assert run(b1, out, fast_args, "--append", "--resume").exit_code == 0  # a new batch: appended
    assert sorted(io.read_table(out, "articles")["id"].to_list()) == ["a0", "a1", "a2", "b0", "b1"]


def test_run_ids_sort_in_start_order_within_one_second() -> None:
    # Appends read their history in run-id order; runs started in one second must not shuffle.
    from summarize import io

    ids = [io.new_run_id() for _ in range(50)]
    assert ids == sorted(ids) and len(set(ids)) == 50
