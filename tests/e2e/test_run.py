"""End to end: `summarize run` on the tiny real models, every input format, table and exit code."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest

from summarize.schema import TABLES
from tests.conftest import SAMPLES, invoke, read, sample_articles, write_jsonl


def test_jsonl_run_writes_every_table_and_column(tmp_path: Path, articles_file: Path, fast_args: list[str]) -> None:
    out = tmp_path / "out"
    res = invoke(["run", str(articles_file), "--out", str(out), "--to", "en,fr", "--translate", "summary,title", *fast_args])
    assert res.exit_code == 0, res.output
    arts = read(out, "articles")
    for table in TABLES.values():
        df = read(out, table.name)
        assert df.columns[: len(table.names)] == table.names, table.name
    src = sample_articles(6)
    assert arts["id"].to_list() == [a["id"] for a in src]
    assert arts["row_index"].to_list() == list(range(6))
    assert arts["title"].to_list() == [a["title"] for a in src]
    assert set(arts["status"]) == {"ok"}
    assert all(isinstance(s, str) for s in arts["summary"])
    assert arts["summary_model"].unique().to_list() == [fast_args[1]]
    assert (arts["input_tokens"] > 0).all()
    assert arts["lang"].to_list() == [a["id"].split("-")[0] for a in src]
    assert (arts["lang_score"] > 0.5).all()
    assert arts["source"].unique().to_list() == [str(articles_file)]
    assert len(arts["run_id"].unique()) == 1
    tr = read(out, "translations")
    # one row per article x target language x field
    assert tr.height == 6 * 2 * 2
    assert set(tr["field"]) == {"summary", "title"}
    ident = tr.filter(pl.col("source_lang") == pl.col("target_lang"))
    assert set(ident["model"]) == {"identity"}
    en_titles = ident.filter(pl.col("field") == "title").sort("id")
    by_id = {a["id"]: a["title"] for a in src}
    assert en_titles["text"].to_list() == [by_id[i] for i in en_titles["id"]]
    other = tr.filter(pl.col("source_lang") != pl.col("target_lang"))
    assert set(other["model"]) == {fast_args[3]}
    assert set(tr["status"]) == {"ok"}
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["counts"] == {"ok": 6}
    assert manifest["inputs"] == [str(articles_file)]
    assert fast_args[1] in manifest["models"] and fast_args[3] in manifest["models"]
    assert manifest["options"]["summary"]["num_beams"] == 1
    assert manifest["run_id"] == arts["run_id"][0]
    assert read(out, "rejects").height == 0


def test_readers_pyarrow_and_duckdb(tmp_path: Path, articles_file: Path, fast_args: list[str]) -> None:
    out = tmp_path / "out"
    assert invoke(["run", str(articles_file), "--out", str(out), *fast_args]).exit_code == 0
    import pyarrow.dataset as ds

    assert ds.dataset(out / "articles").to_table().num_rows == 6
    duckdb = pytest.importorskip("duckdb")
    n = duckdb.sql(f"SELECT count(*) FROM '{out}/translations/*.parquet'").fetchall()
    assert n[0][0] == 6


def test_csv_parquet_folder_and_stdin(tmp_path: Path, fast_args: list[str]) -> None:
    src = sample_articles(3)
    csv_path = tmp_path / "in.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["url", "headline", "body", "section"], delimiter=";")
        w.writeheader()
        for a in src:
            w.writerow({"url": a["id"], "headline": a["title"], "body": a["text"], "section": "local"})
    pq_path = tmp_path / "in.parquet"
    pl.DataFrame(src).write_parquet(pq_path)
    folder = tmp_path / "texts"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text(src[0]["text"], encoding="utf-8")
    (folder / "sub" / "b.md").write_text(f"# {src[1]['title']}\n\n{src[1]['text']}", encoding="utf-8")
    (folder / "ignored.json").write_text("{}", encoding="utf-8")
    out = tmp_path / "out"
    res = invoke(["run", str(csv_path), str(pq_path), str(folder), "-", "--out", str(out), "--id-col", "url",
                  "--title-col", "headline", "--text-col", "body", "--keep-col", "section", *fast_args],
                 input=json.dumps({"url": "stdin-1", "body": src[2]["text"]}) + "\n")
    # the Parquet file has `id`/`text`, not `url`/`body`: a usage error naming the columns
    assert res.exit_code == 2
    assert "no column 'body'" in res.output and "id, title, text" in res.output

    res = invoke(["run", str(csv_path), "--out", str(out), "--id-col", "url", "--title-col", "headline",
                  "--text-col", "body", "--keep-col", "section", *fast_args])
    assert res.exit_code == 0, res.output
    arts = read(out, "articles")
    assert arts["id"].to_list() == [a["id"] for a in src]
    assert arts["title"].to_list() == [a["title"] for a in src]
    assert arts["section"].to_list() == ["local"] * 3
    # `line` is the physical line where each CSV record starts (texts span several lines)
    starts = [2]
    for a in src[:-1]:
        starts.append(starts[-1] + 1 + a["text"].count("\n") + a["title"].count("\n"))
    assert arts["line"].to_list() == starts

    out2 = tmp_path / "out2"
    res = invoke(["run", str(pq_path), str(folder), "-", "--out", str(out2), *fast_args],
                 input=json.dumps({"text": src[2]["text"]}) + "\n")
    assert res.exit_code == 0, res.output
    arts = read(out2, "articles")
    assert arts["id"].to_list()[:3] == [a["id"] for a in src]
    assert arts["id"].to_list()[3:5] == ["a.txt", "sub/b.md"]
    assert arts["title"][4] == src[1]["title"]
    assert arts["id"][5].startswith("sha256:")
    assert arts["source"].to_list()[5] == "-"
    assert arts["row_index"].to_list() == list(range(6))


def test_stable_content_ids(tmp_path: Path, fast_args: list[str]) -> None:
    rec = {"title": "Rain", "text": sample_articles(1)[0]["text"]}
    ids = []
    for n in range(2):
        f = write_jsonl(tmp_path / f"in{n}.jsonl", [rec])
        out = tmp_path / f"out{n}"
        assert invoke(["run", str(f), "--out", str(out), *fast_args]).exit_code == 0
        ids.append(read(out, "articles")["id"][0])
    assert ids[0] == ids[1] and ids[0].startswith("sha256:")


def test_bad_input_goes_to_rejects_and_the_rest_runs(tmp_path: Path, fast_args: list[str]) -> None:
    good = sample_articles(2)
    f = write_jsonl(tmp_path / "in.jsonl", [
        good[0],
        '{"id": "broken", "text": ',
        {"id": "empty", "text": ""},
        {"id": "notext"},
        {"id": "list", "text": ["a", "b"]},
        "[1, 2]",
        good[1],
    ])
    latin = tmp_path / "latin1.jsonl"
    latin.write_bytes(json.dumps({"id": "latin", "text": "Le café était fermé à cause de la grève des employés municipaux."}, ensure_ascii=False).encode("latin-1") + b"\n")
    bad_csv = tmp_path / "in.csv"
    bad_csv.write_text("id,text\nc1,\"A complete sentence about the weather in the city today.\"\nc2\n", encoding="utf-8")
    out = tmp_path / "out"
    res = invoke(["run", str(f), str(latin), str(bad_csv), "--out", str(out), *fast_args])
    assert res.exit_code == 1
    arts = read(out, "articles")
    rej = read(out, "rejects")
    assert arts["id"].to_list() == [good[0]["id"], "empty", good[1]["id"], "latin", "c1"]
    status = dict(zip(arts["id"], arts["status"], strict=True))
    assert status["empty"] == "skipped" and status[good[0]["id"]] == "ok"
    assert "decoded_from:cp1252" in arts.filter(pl.col("id") == "latin")["flags"][0].to_list()
    assert sorted(zip(rej["source"], rej["line"], strict=True)) == sorted(
        [(str(f), 2), (str(f), 4), (str(f), 5), (str(f), 6), (str(bad_csv), 3)])
    errors = dict(zip(rej["line"], rej["error"], strict=True))
    assert "invalid JSON" in errors[2] and "missing text" in errors[4] and "string" in errors[5]
    assert rej.filter(pl.col("line") == 2)["raw"][0].startswith('{"id": "broken"')
    # every record is in exactly one table
    assert arts.height + rej.height == 10


def test_exit_codes(tmp_path: Path, articles_file: Path, fast_args: list[str]) -> None:
    out = tmp_path / "out"
    assert invoke(["run", str(tmp_path / "missing.jsonl"), "--out", str(out), *fast_args]).exit_code == 2
    res = invoke(["run", str(articles_file), "--out", str(out), "--text-col", "body", *fast_args])
    assert res.exit_code == 2 and "columns are: id, title, text, published, source" in res.output
    assert invoke(["run", str(articles_file), "--out", str(out), "--to", "e n", *fast_args]).exit_code == 2
    assert invoke(["run", str(articles_file), "--out", str(out), *fast_args]).exit_code == 0
    # a non-empty output folder is refused unless --overwrite
    res = invoke(["run", str(articles_file), "--out", str(out), *fast_args])
    assert res.exit_code == 2 and "--overwrite" in res.output
    assert invoke(["run", str(articles_file), "--out", str(out), "--overwrite", *fast_args]).exit_code == 0


def test_max_errors_stops_early(tmp_path: Path, fast_args: list[str]) -> None:
    f = write_jsonl(tmp_path / "in.jsonl", ["not json"] * 5 + sample_articles(2))
    out = tmp_path / "out"
    res = invoke(["run", str(f), "--out", str(out), "--max-errors", "3", "--shard-size", "1", *fast_args])
    assert res.exit_code == 1
    manifest = json.loads((out / "run.json").read_text())
    assert "max-errors" in manifest["stopped_early"]


def test_lang_col_is_trusted(tmp_path: Path, fast_args: list[str]) -> None:
    arts = sample_articles(2)
    f = write_jsonl(tmp_path / "in.jsonl", [{**a, "language": "fr"} for a in arts])
    out = tmp_path / "out"
    assert invoke(["run", str(f), "--out", str(out), "--lang-col", "language", "--to", "fr", *fast_args]).exit_code == 0
    df = read(out, "articles")
    assert df["lang"].to_list() == ["fr", "fr"] and df["lang_score"].to_list() == [1.0, 1.0]
    assert df["lang_source"].to_list() == ["given", "given"]
    assert set(read(out, "translations")["model"]) == {"identity"}


def test_marian_and_mt5(tmp_path: Path, articles_file: Path, tiny: dict[str, Path]) -> None:
    out = tmp_path / "out"
    res = invoke(["run", str(articles_file), "--out", str(out), "--summary-model", str(tiny["mt5"]),
                  "--translation-model", str(tiny["marian"]), "--to", "de", "--max-new-tokens", "8", "--beams", "2",
                  "--translation-beams", "1", "--translation-max-new-tokens", "8", "--quiet"])
    assert res.exit_code == 0, res.output
    tr = read(out, "translations")
    assert set(tr.filter(pl.col("source_lang") != "de")["model"]) == {str(tiny["marian"])}


def test_truncate_flag(tmp_path: Path, fast_args: list[str]) -> None:
    long = json.loads((SAMPLES / "edge_cases.jsonl").read_text(encoding="utf-8").splitlines()[3])
    assert len(long["text"].split()) > 1000
    f = write_jsonl(tmp_path / "in.jsonl", [long, sample_articles(1)[0]])
    out = tmp_path / "out"
    assert invoke(["run", str(f), "--out", str(out), "--long-input", "truncate", *fast_args]).exit_code == 0
    df = read(out, "articles")
    assert df["truncated"].to_list() == [True, False]
    assert df["n_chunks"].to_list() == [1, 1]


def test_missing_hub_model_fails_with_one_sentence(tmp_path: Path, articles_file: Path) -> None:
    res = invoke(["run", str(articles_file), "--out", str(tmp_path / "o"), "--summary-model", "nobody/no-such-model", "--quiet"])
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1
    assert "nobody/no-such-model" in lines[0] and "local model folder" in lines[0]
