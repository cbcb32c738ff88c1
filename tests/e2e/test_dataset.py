"""The output folder as a dataset: one declared schema, one writer, bookkeeping apart from data,
refusals that change nothing, resume by content, safe overwrite, partitions from validated values."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import summarize
from summarize.io.tables import coerce_kept, parse_timestamp, partition_lang, table_fields
from summarize.schema import BOOKKEEPING, FILES, SCHEMA_VERSION, TABLES
from tests.conftest import ROOT, invoke, read, sample_articles, write_jsonl


def _args(inp: Path | str, out: Path, tiny: dict[str, Path], *extra: str) -> list[str]:
    return ["run", str(inp), "--out", str(out), "--summary-model", str(tiny["t5"]), "--translation-model",
            str(tiny["m2m100"]), "--to", "en", "--max-new-tokens", "4", "--beams", "1", "--translation-beams", "1",
            "--translation-max-new-tokens", "6", "--shard-size", "2", "--quiet", *extra]


def _spawn(args: list[str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-m", "summarize.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under `root` with its bytes (None for folders): equal snapshots, equal trees."""
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def dated_articles() -> list[dict[str, Any]]:
    """Six articles: `section` appears only from the third on (so the first shard has none),
    `rank` is an int for --keep-col rank:int, and `published` comes in every accepted format."""
    base = sample_articles(6)
    published = ["2026-10-14T08:30:00+02:00", "Tue, 13 Oct 2026 10:00:00 GMT", "2026-10-12", "not a date",
                 None, "2026-10-09T23:00:00"]
    rows = []
    for i, a in enumerate(base):
        row = {"id": a["id"], "title": a["title"], "text": a["text"], "published": published[i], "rank": str(i)}
        if i >= 2:
            row["section"] = f"s{i}"
        rows.append(row)
    return rows


def _check_tables(out: Path, partitioned: bool) -> None:
    """Every table reads with DuckDB, Polars, pyarrow and pandas, and every part has the declared schema."""
    import duckdb
    import pandas as pd

    dataset = json.loads((out / BOOKKEEPING / "dataset.json").read_text())
    kept = {k["name"]: k["type"] for k in dataset["kept"]}
    for name in TABLES:
        parts = sorted((out / name).rglob("*.parquet"))
        assert parts, name
        schemas = {str(pq.read_schema(p).remove_metadata()) for p in parts}
        assert len(schemas) == 1, (name, schemas)  # every part has one schema
        file_schema = pq.read_schema(parts[0])
        drop = {"articles": ["lang"], "translations": ["target_lang"], "segments": ["target_lang"]}.get(name, [])
        declared = [f for f in table_fields(name) if not (partitioned and f.name in drop)]
        names = [f.name for f in declared] + (list(kept) if name == "articles" else [])
        assert file_schema.names == names
        for f in declared:
            got = file_schema.field(f.name)
            assert got.type == f.type and got.nullable == f.nullable, (name, f.name)
        if name == "articles":
            assert {k: str(file_schema.field(k).type) for k in kept} == kept
        # dataset.json declares exactly what the files hold
        # (Parquet calls a list's item `element`: the same Arrow type, another spelling)
        assert [{"name": f.name, "type": str(f.type).replace("<element:", "<item:"), "nullable": f.nullable}
                for f in file_schema] == dataset["tables"][name]["columns"]
        hive = "true" if partitioned else "false"
        n_duck = duckdb.sql(f"SELECT count(*) FROM read_parquet('{out}/{name}/**/*.parquet', hive_partitioning={hive})").fetchone()
        n_pl = pl.scan_parquet(out / name / "**" / "*.parquet", hive_partitioning=partitioned).collect().height
        n_pa = ds.dataset(out / name, format="parquet", partitioning="hive" if partitioned else None).count_rows()
        n_pd = len(pd.read_parquet(out / name))
        assert n_duck is not None and n_duck[0] == n_pl == n_pa == n_pd, name
    assert not list((out / BOOKKEEPING).rglob("*.parquet"))


@pytest.mark.parametrize("partition", ["", "lang,date"])
def test_tables_have_the_declared_schema_and_read_everywhere(tmp_path: Path, tiny: dict[str, Path], partition: str) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", dated_articles())
    out = tmp_path / "out"
    extra = ["--keep-col", "section", "--keep-col", "rank:int", "--format", "wide"]
    if partition:
        extra += ["--partition-by", partition]
    res = invoke(_args(inp, out, tiny, *extra))
    assert res.exit_code == 0, res.output
    _check_tables(out, bool(partition))
    arts = read(out, "articles") if not partition else pl.read_parquet(out / "articles", hive_partitioning=True)
    arts = arts.sort("row_index")
    assert arts["section"].to_list() == [None, None, "s2", "s3", "s4", "s5"]
    assert arts["rank"].to_list() == list(range(6))
    utc = dt.UTC
    assert arts["published_at"].to_list() == [
        dt.datetime(2026, 10, 14, 6, 30, tzinfo=utc), dt.datetime(2026, 10, 13, 10, 0, tzinfo=utc),
        dt.datetime(2026, 10, 12, tzinfo=utc), None, None, dt.datetime(2026, 10, 9, 23, 0, tzinfo=utc)]
    assert arts["published"][3] == "not a date" and "bad_published" in arts["flags"][3].to_list()
    assert "bad_published" not in arts["flags"][4].to_list()  # no value is not a bad value
    assert arts["processed_at"].null_count() == 0
    if partition:
        dates = sorted(p.name for p in (out / "articles").glob("lang=*/date=*"))
        assert "date=unknown" in dates and "date=2026-10-14" in dates
    # wide.parquet: one row per article, kept columns, status, timestamps, flags as a string, metadata
    wide = pq.read_table(out / "wide.parquet")
    assert wide.num_rows == 6
    assert [f.name for f in wide.schema][: len(FILES["wide"].columns)] == FILES["wide"].names
    assert {"section", "rank", "summary_en"} <= set(wide.column_names)
    assert wide.schema.field("flags").type == pa.string()
    assert "bad_published" in wide.column("flags").to_pylist()[3]
    manifest = json.loads((out / "run.json").read_text())
    for path in [out / "wide.parquet", *out.glob("*/**/*.parquet")]:
        meta = pq.read_schema(path).metadata
        assert meta[b"schema_version"].decode() == SCHEMA_VERSION, path
        assert meta[b"run_id"].decode() == manifest["run_id"] and meta[b"tool_version"].decode() == summarize.__version__


def test_a_glob_over_the_folder_reads_as_data(tmp_path: Path, tiny: dict[str, Path]) -> None:
    duckdb = pytest.importorskip("duckdb")
    inp = write_jsonl(tmp_path / "in.jsonl", sample_articles(3))
    out = tmp_path / "out"
    assert invoke(_args(inp, out, tiny)).exit_code == 0
    assert (out / BOOKKEEPING / "commits").is_dir() and not list(out.glob("**/_commits"))
    files = sorted(out.glob("**/*.parquet"))
    assert files and all(BOOKKEEPING not in p.parts for p in files)
    rows = duckdb.sql(f"SELECT count(*) FROM read_parquet('{out}/**/*.parquet', union_by_name=true)").fetchone()
    per_table = sum(read(out, t).height for t in TABLES)
    assert rows is not None and rows[0] == per_table
    assert sum(pl.read_parquet(p).height for p in files) == per_table
    frame = pl.scan_parquet(out / "**" / "*.parquet", missing_columns="insert", extra_columns="ignore").collect()
    assert frame.height > 0


def test_kept_columns_are_checked_before_anything_is_written(tmp_path: Path, tiny: dict[str, Path]) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", sample_articles(2))
    out = tmp_path / "out"
    res = invoke(_args(inp, out, tiny, "--keep-col", "nope"))
    assert res.exit_code == 2 and "'nope'" in res.output and "columns are: id, title, text, published, source" in res.output
    res = invoke(_args(inp, out, tiny, "--keep-col", "status"))
    assert res.exit_code == 2 and "already has a column" in res.output
    res = invoke(_args(inp, out, tiny, "--keep-col", "x", "--keep-col", "x"))
    assert res.exit_code == 2 and "twice" in res.output
    assert not out.exists()


def test_second_writer_exits_2_naming_the_holder(tmp_path: Path, tiny: dict[str, Path]) -> None:
    base = sample_articles()
    inp = write_jsonl(tmp_path / "in.jsonl", [{**base[i % len(base)], "id": f"a{i}"} for i in range(16)])
    out = tmp_path / "out"
    first = _spawn(_args(inp, out, tiny))
    lock = out / BOOKKEEPING / "lock"
    end = time.time() + 120
    while not lock.exists() and time.time() < end and first.poll() is None:
        time.sleep(0.02)
    assert lock.exists(), "the first run never took the lock"
    second = _spawn(_args(inp, out, tiny))
    _, err = second.communicate(timeout=300)
    _, err1 = first.communicate(timeout=600)
    assert first.returncode == 0, err1.decode()
    assert second.returncode == 2
    message = err.decode()
    assert f"pid {first.pid}" in message and socket.gethostname() in message and "since" in message
    arts = read(out, "articles")
    assert arts.height == 16 and arts["id"].n_unique() == 16
    assert not lock.exists()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_lock_is_taken_over_with_a_warning(tmp_path: Path, tiny: dict[str, Path]) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", sample_articles(2))
    out = tmp_path / "out"
    out.mkdir()
    (out / BOOKKEEPING).mkdir()
    stale = {"pid": _dead_pid(), "host": socket.gethostname(), "started": "2026-01-01T00:00:00+00:00", "run_id": "old"}
    (out / BOOKKEEPING / "lock").write_text(json.dumps(stale))
    res = invoke([a for a in _args(inp, out, tiny) if a != "--quiet"])
    assert res.exit_code == 0, res.output
    assert "stale lock" in res.output and f"pid {stale['pid']}" in res.output
    assert read(out, "articles").height == 2 and not (out / BOOKKEEPING / "lock").exists()


def test_refused_commands_change_nothing(tmp_path: Path, tiny: dict[str, Path]) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", sample_articles(3))
    out = tmp_path / "out"
    assert invoke(_args(inp, out, tiny)).exit_code == 0
    # an uncommitted part, as a run killed mid-shard (or one still writing) leaves it
    part = next((out / "articles").glob("*.parquet"))
    (out / "articles" / "part-deadbeef-00009.parquet").write_bytes(part.read_bytes())
    before = snapshot(out)
    res = invoke(_args(inp, out, tiny, "--resume", "--max-new-tokens", "5"))  # other options
    assert res.exit_code == 2 and "max_new_tokens" in res.output
    res = invoke(_args(inp, out, tiny))  # neither --resume nor --overwrite
    assert res.exit_code == 2
    res = invoke(_args(inp, out, tiny, "--resume", "--partition-by", "colour"))  # bad option
    assert res.exit_code == 2
    # another run holds the lock (this test process: alive): both a same-options and an
    # other-options --resume are refused and the other run's uncommitted part stays
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": "2026-01-01T00:00:00+00:00", "run_id": "live"}
    (out / BOOKKEEPING / "lock").write_text(json.dumps(holder))
    before_locked = snapshot(out)
    for extra in ((), ("--max-new-tokens", "5"), ("--overwrite",)):
        flags = ("--resume", *extra) if extra != ("--overwrite",) else extra
        res = invoke(_args(inp, out, tiny, *flags))
        assert res.exit_code == 2 and f"pid {os.getpid()}" in res.output, res.output
        assert snapshot(out) == before_locked
    (out / BOOKKEEPING / "lock").unlink()
    assert snapshot(out) == before


def test_a_run_that_fails_before_its_first_commit_leaves_the_folder_as_it_was(tmp_path: Path, tiny: dict[str, Path]) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", sample_articles(2))
    missing = ["--summary-model", "nobody/no-such-model"]
    new = tmp_path / "new"
    res = invoke([*_args(inp, new, tiny), *missing])
    assert res.exit_code == 2 and not new.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    res = invoke([*_args(inp, empty, tiny), *missing])
    assert res.exit_code == 2 and snapshot(empty) == {}
    assert invoke(_args(inp, empty, tiny)).exit_code == 0  # runnable again, no --overwrite
    assert read(empty, "articles").height == 2


def test_resume_goes_by_content_not_by_path_spelling(tmp_path: Path, tiny: dict[str, Path],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    recs = [*({**a, "rank": i} for i, a in enumerate(sample_articles(3))), '{"broken": ']
    inp = write_jsonl(tmp_path / "in.jsonl", recs)
    out = tmp_path / "out"
    assert invoke(_args(inp, out, tiny, "--keep-col", "rank:int")).exit_code == 1  # one reject
    monkeypatch.chdir(tmp_path)
    res = invoke(_args("in.jsonl", out, tiny, "--resume", "--keep-col", "rank:int"))  # the same file, spelled relatively
    # Nothing is redone; the exit code describes the whole output, which holds the first run's reject.
    assert res.exit_code == 1 and "3 already done" in res.output, res.output
    assert read(out, "rejects").height == 1 and read(out, "articles").height == 3
    other = write_jsonl(tmp_path / "other.jsonl", [{**a, "rank": 1} for a in sample_articles(4)])
    before = snapshot(out)
    res = invoke(_args(other, out, tiny, "--resume", "--keep-col", "rank:int"))
    assert res.exit_code == 2 and "different inputs" in res.output and str(other) in res.output
    assert snapshot(out) == before


def test_overwrite_replaces_only_a_summarize_dataset_and_only_its_files(tmp_path: Path, tiny: dict[str, Path]) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", sample_articles(2))
    foreign = tmp_path / "foreign"
    (foreign / "articles").mkdir(parents=True)
    (foreign / "articles" / "notes.txt").write_text("mine")
    (foreign / "run.json").write_text('{"tool": "something else"}')
    before = snapshot(foreign)
    res = invoke(_args(inp, foreign, tiny, "--overwrite"))
    assert res.exit_code == 2 and "nothing was deleted" in res.output
    assert snapshot(foreign) == before
    out = tmp_path / "out"
    assert invoke(_args(inp, out, tiny)).exit_code == 0
    (out / "articles" / "notes.txt").write_text("mine")
    (out / "README.txt").write_text("also mine")
    old = json.loads((out / "run.json").read_text())["run_id"]
    res = invoke(_args(inp, out, tiny, "--overwrite", "--to", "de"))
    assert res.exit_code == 0, res.output
    assert (out / "articles" / "notes.txt").read_text() == "mine" and (out / "README.txt").exists()
    arts = pl.read_parquet(out / "articles" / "*.parquet")
    assert arts.height == 2 and old not in set(arts["run_id"])
    runs = list((out / BOOKKEEPING / "runs").glob("*.json"))
    assert [p.stem for p in runs] == [json.loads((out / "run.json").read_text())["run_id"]]


HOSTILE = ["../../../x", "a/b", "x\x00y", "..", "/etc", "de", "C:\\x", "lang=en"]


def test_hostile_partition_values_never_become_paths(tmp_path: Path, tiny: dict[str, Path]) -> None:
    root = tmp_path / "deep" / "er"
    root.mkdir(parents=True)
    text = sample_articles(1)[0]["text"]
    recs = [{"id": f"h{i}", "text": text, "language": v, "published": v} for i, v in enumerate(HOSTILE)]
    inp = write_jsonl(root / "in.jsonl", recs)
    out = root / "out"
    before = {p for p in tmp_path.rglob("*")}
    res = invoke(_args(inp, out, tiny, "--lang-col", "language", "--partition-by", "lang,date"))
    assert res.exit_code in (0, 1), res.output
    created = {p for p in tmp_path.rglob("*")} - before
    assert created and all(out in p.parents or p == out for p in created)
    # the text is English: unknown given codes are dropped (flag bad_lang) and the language detected
    assert {p.name for p in (out / "articles").iterdir()} == {"lang=en", "lang=de"}
    assert {p.name for p in (out / "articles").glob("*/*")} == {"date=unknown"}
    arts = pl.read_parquet(out / "articles", hive_partitioning=True).sort("row_index")
    assert arts.height == len(HOSTILE)
    assert ["bad_lang" in f for f in arts["flags"].to_list()] == [v != "de" for v in HOSTILE]


def test_nul_and_control_characters_in_any_field(tmp_path: Path, tiny: dict[str, Path]) -> None:
    text = sample_articles(1)[0]["text"]
    bad = "a\x00b\x1b"
    recs = [
        {"id": bad, "text": text},
        {"id": "t", "title": bad, "text": text},
        {"id": "x", "text": text + bad},
        {"id": "k", "text": text, "extra": bad},
        {"id": "l", "text": text, "language": bad},
        {"id": "p", "text": text, "published": bad},
        {"id": "n", "text": text, "language": None, "extra": None},
    ]
    inp = write_jsonl(tmp_path / "in.jsonl", recs)
    out = tmp_path / "out"
    args = _args(inp, out, tiny, "--lang-col", "language", "--keep-col", "extra", "--partition-by", "lang")
    res = invoke(args)
    assert res.exit_code in (0, 1), res.output
    arts = pl.read_parquet(out / "articles", hive_partitioning=True)
    assert arts.height + read(out, "rejects").height == len(recs)
    for col in ("title", "published"):
        assert not any("\x00" in v for v in arts[col].drop_nulls().to_list()), col
    # a kept column is the user's data: its value is stored as given, NUL and escape included
    assert arts.filter(pl.col("id") == "k")["extra"].to_list() == [bad]
    res = invoke([*args, "--resume"])  # nothing left to do, and no crash
    assert res.exit_code in (0, 1), res.output
    assert pl.read_parquet(out / "articles", hive_partitioning=True).height == arts.height


def test_parse_timestamp_formats() -> None:
    utc = dt.UTC
    assert parse_timestamp("2026-10-14") == dt.datetime(2026, 10, 14, tzinfo=utc)
    assert parse_timestamp("2026/10/14") == dt.datetime(2026, 10, 14, tzinfo=utc)
    assert parse_timestamp("2026-10-14T10:00:00Z") == dt.datetime(2026, 10, 14, 10, tzinfo=utc)
    assert parse_timestamp("Wed, 14 Oct 2026 12:00:00 +0200") == dt.datetime(2026, 10, 14, 10, tzinfo=utc)
    assert parse_timestamp(dt.date(2026, 1, 2)) == dt.datetime(2026, 1, 2, tzinfo=utc)
    for bad in ("yesterday", "2026-13-45", "", "../x", "\x00", 17, None):
        assert parse_timestamp(bad) is None, bad


def test_coerce_and_partition_values() -> None:
    from summarize.io.tables import Kept

    k = Kept("n", pa.int64())
    assert coerce_kept("12", k) == (12, True) and coerce_kept("x", k) == (None, False) and coerce_kept(None, k) == (None, True)
    assert coerce_kept({"a": 1}, Kept("s", pa.string())) == ('{"a": 1}', True)
    assert coerce_kept("yes", Kept("b", pa.bool_())) == (True, True)
    assert partition_lang("DE") == "de" and partition_lang("pt-BR") == "pt"
    for bad in [*HOSTILE[:5], "", None, "zz"]:
        assert partition_lang(bad) == "und", bad
