"""--table-format delta: per-shard Delta transactions, --upsert, SIGKILL + resume, three readers."""

from __future__ import annotations

import json
from collections import Counter
from importlib.resources import files
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from summarize.io.delta import consistent_versions, read_consistent
from tests.conftest import invoke, sample_articles, write_jsonl
from tests.sigkill import cli_args, kill_after, many_articles, spawn

deltalake = pytest.importorskip("deltalake")
from deltalake import DeltaTable  # noqa: E402

DELTA = ["--table-format", "delta", "--translate", "summary", "--shard-size", "2"]


def duck(*more: str) -> Any:
    """DuckDB with the delta extension (and `more`, e.g. httpfs) from their pip packages (as the
    docs show), never the network."""
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    for name in ("delta", *more):
        path = files(f"duckdb_extension_{name}") / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
        con.execute(f"LOAD '{path}'")
    return con


def readers(table: Path) -> dict[str, pl.DataFrame]:
    """The same table as each supported reader sees it."""
    return {
        "deltalake": pl.from_arrow(DeltaTable(str(table)).to_pyarrow_table()),  # type: ignore[dict-item]
        "polars": pl.scan_delta(str(table)).collect(),
        "duckdb": duck().sql(f"SELECT * FROM delta_scan('{table}')").pl(),
    }


def run(inp: Path, out: Path, fast_args: list[str], to: str, *extra: str) -> Any:
    return invoke(["run", str(inp), "--out", str(out), "--to", to, *DELTA, *fast_args, *extra])


def test_three_batches_with_an_upserted_correction_every_reader_agrees(tmp_path: Path, fast_args: list[str]) -> None:
    base = sample_articles(6)
    b0 = write_jsonl(tmp_path / "b0.jsonl", [{**a, "id": f"a{i}"} for i, a in enumerate(base[:3])])
    b1 = write_jsonl(tmp_path / "b1.jsonl", [{**a, "id": f"b{i}"} for i, a in enumerate(base[3:5])])
    # a1 corrected: new text, and only English now, so its French rows must go
    b2 = write_jsonl(tmp_path / "b2.jsonl", [{**base[5], "id": "a1", "text": base[5]["text"] + " Korrigiert."}])
    out = tmp_path / "out"
    assert (res := run(b0, out, fast_args, "en,fr")).exit_code == 0, res.output
    assert (res := run(b1, out, fast_args, "en,fr", "--append")).exit_code == 0, res.output
    assert (res := run(b2, out, fast_args, "en", "--upsert")).exit_code == 0, res.output
    manifests = [json.loads(p.read_text()) for p in (out / "_summarize" / "runs").glob("*.json")]
    # Run ids sort by start second only; the input each run read tells them apart for sure.
    first, final = (next(m for m in manifests if any(name in str(i) for i in m["inputs"])) for name in ("b0.jsonl", "b2.jsonl"))
    last = final["run_id"]
    for name, arts in readers(out / "articles").items():
        assert sorted(arts["id"].to_list()) == ["a0", "a1", "a2", "b0", "b1"], name
        assert arts.filter(pl.col("id") == "a1")["run_id"].to_list() == [last], name
    for name, tr in readers(out / "translations").items():
        per = Counter(zip(tr["id"], tr["field"], tr["target_lang"], strict=True))
        assert set(per.values()) == {1}, name
        assert sorted(k[2] for k in per if k[0] == "a1") == ["en"], name
        assert sorted(k[2] for k in per if k[0] == "a0") == ["en", "fr"], name
        assert tr.filter(pl.col("id") == "a1")["run_id"].unique().to_list() == [last], name
    for name, seg in readers(out / "segments").items():
        a1 = seg.filter(pl.col("id") == "a1")
        assert a1.height and a1["target_lang"].unique().to_list() == ["en"] and a1["run_id"].unique().to_list() == [last], name
        assert set(Counter(zip(seg["id"], seg["field"], seg["target_lang"], seg["para_index"], seg["seg_index"],
                               strict=True)).values()) == {1}, name
    # each run's versions are in its manifest: time travel to the first run shows its rows only
    v0 = first["delta_versions"]["articles"]
    old = pl.scan_delta(str(out / "articles"), version=v0).collect()
    assert sorted(old["id"].to_list()) == ["a0", "a1", "a2"]
    assert duck().sql(f"SELECT count(*) FROM delta_scan('{out / 'articles'}', version={v0})").fetchone() == (3,)
    # every shard committed with its app id: summarize:<run>:<table>, version = shard + 1
    dt = DeltaTable(str(out / "articles"))
    assert dt.transaction_version(f"summarize:{first['run_id']}:articles") == 2  # 3 articles, shards of 2


def test_delta_sigkill_then_resume_has_every_article_once(tmp_path: Path, tiny: dict[str, Path]) -> None:
    recs = many_articles(16)
    inp = write_jsonl(tmp_path / "in.jsonl", recs)
    out = tmp_path / "out"
    kills = 0
    for target in (1, 4):
        kills += kill_after(cli_args(inp, out, tiny, "--table-format", "delta", *(("--resume",) if kills else ())), out,
                            target)
    assert kills >= 1
    proc = spawn(cli_args(inp, out, tiny, "--table-format", "delta", "--resume"))
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()
    arts = pl.read_delta(str(out / "articles"))
    assert sorted(arts["id"].to_list()) == sorted(r["id"] for r in recs)
    tr = pl.read_delta(str(out / "translations"))
    per = Counter(zip(tr["id"], tr["field"], tr["target_lang"], strict=True))
    assert len(per) == len(recs) * 2 * 2 and set(per.values()) == {1}
    seg = pl.read_delta(str(out / "segments"))
    assert set(Counter(zip(seg["id"], seg["field"], seg["target_lang"], seg["para_index"], seg["seg_index"],
                           strict=True)).values()) == {1}
    assert json.loads((out / "run.json").read_text())["counts"] == {"ok": 16}


def test_resume_removes_rows_of_a_shard_whose_article_commit_never_happened(tmp_path: Path, tiny: dict[str, Path]) -> None:
    """A kill between a shard's translations commit and its articles commit, made deterministic:
    the article row is deleted, so its translations and segments are orphans that resume must
    replace rather than duplicate."""
    recs = many_articles(4)
    inp = write_jsonl(tmp_path / "in.jsonl", recs)
    out = tmp_path / "out"
    assert invoke(cli_args(inp, out, tiny, "--table-format", "delta")).exit_code == 0
    DeltaTable(str(out / "articles")).delete("id = 'a0003'")
    res = invoke(cli_args(inp, out, tiny, "--table-format", "delta", "--resume"))
    assert res.exit_code == 0, res.output
    assert sorted(pl.read_delta(str(out / "articles"))["id"].to_list()) == [r["id"] for r in recs]
    tr = pl.read_delta(str(out / "translations"))
    assert tr.filter(pl.col("id") == "a0003").height == 4  # 2 fields x 2 languages, once each
    assert tr.filter(pl.col("id") == "a0003")["run_id"].n_unique() == 1
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["resumed"] == 3
    # the resume's delete of the orphans is a commit that says which run made it
    deletes = [c for c in DeltaTable(str(out / "translations")).history() if c["operation"] == "DELETE"]
    assert deletes and all(c.get("run_id") == manifest["run_id"] and c.get("tool_version") and c.get("schema_version")
                           for c in deletes), deletes
    # the resumed shard added a file to the optimized one: compact's optimize merges them, and says so
    assert (res := invoke(["compact", str(out)])).exit_code == 0, res.output
    last = DeltaTable(str(out / "translations")).history(1)[0]
    assert last["operation"] == "OPTIMIZE" and last["run_id"].startswith("compact-") and last.get("tool_version"), last


def test_a_run_ends_with_one_active_file_and_compact_vacuums_only_what_it_is_told(tmp_path: Path,
                                                                                   fast_args: list[str]) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", [{**a, "id": f"a{i}"} for i, a in enumerate(sample_articles(6))])
    out = tmp_path / "out"
    assert run(inp, out, fast_args, "en").exit_code == 0  # 3 shards: 3 files per table, merged at the end
    data = lambda: sorted(p.name for p in (out / "articles").glob("*.parquet"))  # noqa: E731
    assert len(DeltaTable(str(out / "articles")).file_uris()) == 1 and len(data()) == 4
    before = {t: pl.read_delta(str(out / t)).sort(pl.all()) for t in ("articles", "translations")}
    res = invoke(["compact", str(out)])
    assert res.exit_code == 0 and "MB) before" in res.output, res.output
    assert list((out / "articles" / "_delta_log").glob("*.checkpoint.parquet"))
    assert len(data()) == 4  # default retention (7 days): nothing is old enough to go
    for t, frame in before.items():
        assert pl.read_delta(str(out / t)).sort(pl.all()).equals(frame)
    # the first shard's version is still readable
    assert pl.scan_delta(str(out / "articles"), version=0).collect().height == 2
    res = invoke(["compact", str(out), "--vacuum-hours", "0"])
    assert res.exit_code == 0 and "vacuum removed" in res.output, res.output
    assert len(data()) == 1  # only the files of the latest version are left
    for t, frame in before.items():
        assert pl.read_delta(str(out / t)).sort(pl.all()).equals(frame)
        # the consistent version set is one the vacuum kept: the shard markers' versions are gone
        assert consistent_versions(out)[t] == DeltaTable(str(out / t)).version()
        assert read_consistent(out, t).sort(pl.all()).equals(frame)
    assert (res := invoke(["check", str(out)])).exit_code == 0, res.output
    # every commit says who made it, the compaction's optimize and vacuum included
    for t in ("articles", "translations", "segments", "rejects"):
        history = DeltaTable(str(out / t)).history()
        for commit in history:
            assert commit.get("run_id") and commit.get("tool_version") and commit.get("schema_version"), (t, commit)
        ops = {c["operation"] for c in history if c["run_id"].startswith("compact-")}
        if t != "rejects":  # (empty: one file, nothing to vacuum, so no vacuum commit)
            assert {"VACUUM START", "VACUUM END"} <= ops, (t, ops)


def test_a_kept_column_added_then_dropped_reads_alike_in_every_delta_reader(tmp_path: Path, fast_args: list[str]) -> None:
    base = sample_articles(3)
    b0 = write_jsonl(tmp_path / "b0.jsonl", [{**base[0], "id": "a0", "desk": "sport"}])
    b1 = write_jsonl(tmp_path / "b1.jsonl", [{**base[1], "id": "b0", "desk": "kultur"}])
    b2 = write_jsonl(tmp_path / "b2.jsonl", [{**base[2], "id": "c0", "desk": "politik"}])
    out = tmp_path / "out"
    assert (res := run(b0, out, fast_args, "en")).exit_code == 0, res.output
    assert (res := run(b1, out, fast_args, "en", "--append", "--keep-col", "desk")).exit_code == 0, res.output
    res = run(b2, out, fast_args, "en", "--append")  # desk dropped again
    assert res.exit_code == 0, res.output
    frames = {name: f.select(sorted(f.columns)).sort("id") for name, f in readers(out / "articles").items()}
    first = frames.pop("deltalake")
    assert first["id"].to_list() == ["a0", "b0", "c0"]
    # the log's schema keeps the column; rows of runs that did not keep it hold null
    assert first["desk"].to_list() == [None, "kultur", None]
    flat = [c for c in first.columns if not first.schema[c].is_nested()]
    for name, frame in frames.items():
        assert frame.columns == first.columns, name
        assert frame.select(flat).cast(pl.String).equals(first.select(flat).cast(pl.String)), name
    ds = json.loads((out / "_summarize" / "dataset.json").read_text())
    assert "desk" in {k["name"] for k in ds["kept"]}
    assert (res := invoke(["check", str(out)])).exit_code == 0, res.output
