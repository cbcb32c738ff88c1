"""Outputs for BI tools and pipelines: schema, partitions, wide file, stdout, config, API, logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import summarize
from summarize.cli import app, build_default_map
from summarize.options import GenerationOptions, RunOptions
from summarize.schema import FILES, SCHEMA_VERSION, TABLES, schema_dict
from tests.conftest import ROOT, invoke, read, sample_articles, write_jsonl


@pytest.fixture
def duckdb() -> Any:
    """duckdb, for the tests that read the output with it (skipped where it is not installed)."""
    return pytest.importorskip("duckdb")


def test_schema_command_and_definition_do_not_drift() -> None:
    res = invoke(["schema", "--json"])
    doc = json.loads(res.output)
    assert doc == schema_dict()
    assert set(doc["tables"]) == set(TABLES)
    text = invoke(["schema"]).output
    for table in (*TABLES.values(), *FILES.values()):
        for col in table.columns:
            assert f"`{col.name}`" in text
    assert "Partition columns" in text and "`und`" in text and "`unknown`" in text


def test_schema_version_in_manifest_and_parquet_metadata(tmp_path: Path, articles_file: Path, fast_args: list[str]) -> None:
    out = tmp_path / "out"
    assert invoke(["run", str(articles_file), "--out", str(out), *fast_args]).exit_code == 0
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["schema_version"] == SCHEMA_VERSION
    for table in TABLES:
        part = next((out / table).rglob("*.parquet"))
        meta = pq.read_schema(part).metadata
        assert meta[b"schema_version"].decode() == SCHEMA_VERSION
        assert meta[b"run_id"].decode() == manifest["run_id"]
        assert meta[b"tool_version"].decode() == summarize.__version__
        assert json.loads(meta[b"options"])["summary_model"] == fast_args[1]


def test_partitions_read_by_duckdb_pyarrow_and_polars(tmp_path: Path, articles_file: Path, fast_args: list[str], duckdb: Any) -> None:
    out = tmp_path / "out"
    res = invoke(["run", str(articles_file), "--out", str(out), "--partition-by", "lang,date", "--to", "en,de", *fast_args])
    assert res.exit_code == 0, res.output
    assert list((out / "articles").glob("lang=*/date=*/*.parquet"))
    assert list((out / "translations").glob("target_lang=*/date=*/*.parquet"))
    rows = duckdb.sql(
        f"SELECT lang, count(*) FROM read_parquet('{out}/articles/**/*.parquet', hive_partitioning=true) GROUP BY lang ORDER BY lang"
    ).fetchall()
    expected = Counter(a["id"].split("-")[0] for a in sample_articles(6))
    assert rows == sorted(expected.items())
    dataset = ds.dataset(out / "articles", format="parquet", partitioning="hive")
    table = dataset.to_table(filter=ds.field("lang") == "de")
    assert table.num_rows == expected["de"] and "date" in table.column_names
    tr = pl.read_parquet(out / "translations", hive_partitioning=True)
    assert set(tr["target_lang"]) == {"en", "de"} and tr.height == 12
    n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{out}/segments/**/*.parquet', hive_partitioning=true) WHERE target_lang = 'de'").fetchall()
    assert n[0][0] > 0


def test_wide_file(tmp_path: Path, articles_file: Path, fast_args: list[str], duckdb: Any) -> None:
    out = tmp_path / "out"
    res = invoke(["run", str(articles_file), "--out", str(out), "--format", "wide", "--to", "en,fr",
                  "--translate", "summary,title", *fast_args])
    assert res.exit_code == 0, res.output
    wide = duckdb.sql(f"SELECT * FROM '{out}/wide.parquet' ORDER BY row_index").pl()
    assert wide.height == 6
    for col in ("summary_en", "summary_fr", "title_en", "title_fr", "id", "lang", "summary"):
        assert col in wide.columns
    tr = read(out, "translations")
    first = wide.row(0, named=True)
    expected = tr.filter((pl.col("id") == first["id"]) & (pl.col("field") == "title") & (pl.col("target_lang") == "fr"))
    assert first["title_fr"] == expected["text"][0]


def test_stdout_is_pure_jsonl(tmp_path: Path, articles_file: Path, tiny: dict[str, Path]) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "summarize.cli", "run", str(articles_file), "--out", "-", "--summary-model", str(tiny["t5"]),
           "--translation-model", str(tiny["m2m100"]), "--to", "en,fr", "--max-new-tokens", "6", "--beams", "1",
           "--translation-beams", "1", "--verbose"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.decode().splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 6
    assert [r["row_index"] for r in rows] == list(range(6))
    assert all(len(r["translations"]) == 2 for r in rows)
    assert b"loaded" in proc.stderr  # logs went to stderr


def test_config_file_env_and_flag_precedence(tmp_path: Path, articles_file: Path, fast_args: list[str]) -> None:
    cfg = tmp_path / "summarize.toml"
    # `source` is also an output column: keeping it under that name is refused, so the input here
    # calls it `outlet`.
    src = [{**{k: v for k, v in a.items() if k != "source"}, "outlet": a["source"]} for a in sample_articles(6)]
    articles_file = write_jsonl(tmp_path / "outlets.jsonl", src)
    cfg.write_text('to = "de"\n[run]\nmax-new-tokens = 5\nbeams = 2\nkeep-col = ["outlet"]\n', encoding="utf-8")
    dm = build_default_map(["run"], env={}, cwd=tmp_path)
    assert dm["run"]["to"] == "de" and dm["run"]["max_new_tokens"] == 5 and dm["run"]["keep_col"] == ["outlet"]
    dm = build_default_map(["run"], env={"SUMMARIZE_TO": "fr", "SUMMARIZE_BEAMS": "3"}, cwd=tmp_path)
    assert dm["run"]["to"] == "fr" and dm["run"]["beams"] == "3" and dm["run"]["max_new_tokens"] == 5
    # the flag wins over env and file: run for real and read what was used
    from typer.testing import CliRunner

    out = tmp_path / "out"
    args = ["run", str(articles_file), "--out", str(out), *[a for a in fast_args if a != "--quiet"], "--to", "it"]
    res = CliRunner().invoke(app, args, default_map=dm, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["options"]["to"] == ["it"]  # flag beats env (fr) and file (de)
    assert manifest["options"]["summary"]["num_beams"] == 1  # flag in fast_args beats env
    assert manifest["read_options"]["keep_cols"] == ["outlet"]  # from the file
    arts = read(out, "articles")
    assert arts["outlet"].to_list() == [a["source"] for a in sample_articles(6)]  # kept, typed string
    out2 = tmp_path / "out2"
    args2 = ["run", str(articles_file), "--out", str(out2), "--summary-model", fast_args[1], "--translation-model", fast_args[3]]
    assert CliRunner().invoke(app, args2, default_map=dm, catch_exceptions=False).exit_code == 0
    m2 = json.loads((out2 / "run.json").read_text())
    assert m2["options"]["to"] == ["fr"] and m2["options"]["summary"]["num_beams"] == 3
    assert m2["options"]["summary"]["max_new_tokens"] == 5
    bad = tmp_path / "bad.toml"
    bad.write_text("[run]\nno-such-option = 1\n", encoding="utf-8")
    with pytest.raises(summarize.errors.UsageError, match="no-such-option"):
        build_default_map(["run", "--config", str(bad)], env={})


def test_dry_run_loads_no_model(tmp_path: Path, articles_file: Path) -> None:
    out = tmp_path / "out"
    res = invoke(["run", str(articles_file), "--out", str(out), "--dry-run", "--summary-model", "nobody/not-there", "--to", "en,fr"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["options"]["to"] == ["en", "fr"] and doc["options"]["summary_model"] == "nobody/not-there"
    assert "plan" in doc
    assert not out.exists()


def test_python_api_end_to_end(tmp_path: Path, articles_file: Path, tiny: dict[str, Path]) -> None:
    fast = GenerationOptions(max_new_tokens=6, num_beams=1, no_repeat_ngram_size=0)
    info = summarize.run([articles_file], tmp_path / "out", summary_model=str(tiny["t5"]),
                         translation_model=str(tiny["m2m100"]), to=["en", "de"], summary=fast, translation=fast)
    assert info.exit_code == 0 and info.counts == {"ok": 6}
    options = RunOptions(summary_model=str(tiny["t5"]), translation_model=str(tiny["m2m100"]), to=("fr",),
                         summary=fast, translation=fast)
    from summarize.io import read_records
    from summarize.options import ReadOptions
    from summarize.schema import Article, ArticleResult

    pipe = summarize.Pipeline(options)
    arts = [r for r in read_records([str(articles_file)], ReadOptions()) if isinstance(r, Article)]
    results = list(pipe.run(arts))
    assert all(isinstance(r, ArticleResult) for r in results)
    assert [r.article.id for r in results] == [a.id for a in arts]
    assert all(r.summary is not None and r.translations[0].target_lang == "fr" for r in results)
    again = list(pipe.run(arts[:2]))  # models stay loaded between calls
    assert len(pipe.pool.loads) == 2 and len(again) == 2


def test_json_logs(tmp_path: Path, articles_file: Path, tiny: dict[str, Path]) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "summarize.cli", "run", str(articles_file), "--out", str(tmp_path / "o"), "--summary-model",
           str(tiny["t5"]), "--translation-model", str(tiny["m2m100"]), "--max-new-tokens", "4", "--beams", "1",
           "--translation-beams", "1", "--log-format", "json", "--quiet", "--verbose"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()
    logs = [json.loads(line) for line in proc.stderr.decode().splitlines() if line.startswith("{")]
    assert logs and all({"time", "level", "logger", "message"} <= set(entry) for entry in logs)


def test_detect_rows_and_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from summarize import api, io
    from summarize.detect.detector import make_detector
    from summarize.options import DetectOptions, ReadOptions

    src = tmp_path / "in.jsonl"
    text = sample_articles(1)[0]["text"]
    src.write_text("\n".join([json.dumps({"id": "a", "text": text}), "{broken",
                              json.dumps({"id": "b", "text": text, "lang": "NB"})]) + "\n", encoding="utf-8")
    det = make_detector(DetectOptions())
    rows = list(api.detection_rows(io.read_records([str(src)], ReadOptions(lang_col="lang")), det))
    assert [r["status"] for r in rows] == ["ok", "error", "ok"]
    assert rows[0]["lang"] == det.detect(text).lang and rows[0]["detector"] == det.name
    assert rows[1]["id"] is None and f"{src}:2:" in rows[1]["error"]
    # A given language is taken as `run` takes it: normalised and trusted.
    given = rows[2]
    assert given["detector"] == "given" and given["lang_score"] == 1.0
    assert given["lang_mix"] == [{"lang": given["lang"], "share": 1.0}] and given["lang"] == given["lang"].lower()

    out = tmp_path / "det" / "langs.parquet"
    assert io.write_detections(rows, str(out), "run-1") == 3
    table = pq.read_table(out)
    assert table.column_names == FILES["detections"].names
    assert table.schema.metadata[b"table"] == b"detections" and table.schema.metadata[b"run_id"] == b"run-1"
    assert table.schema.metadata[b"schema_version"].decode() == SCHEMA_VERSION
    assert table.column("id").to_pylist() == ["a", None, "b"]
    assert io.write_detections(iter(rows[:1]), "-", "run-1") == 1
    assert json.loads(capsys.readouterr().out)["id"] == "a"
    with pytest.raises(summarize.errors.UsageError, match="parquet"):
        io.write_detections(rows, str(tmp_path / "langs.csv"), "run-1")
