"""`summarize eval` and `summarize report` on a real run with tiny models, and the page in headless chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from summarize.quality.report import render
from tests.conftest import invoke, read, sample_articles, write_jsonl
from tests.unit.test_eval import _reference_rouge

# One article per script: Latin, Cyrillic, Han, Arabic, Devanagari, Kana, Hangul.
IDS = ("en-001", "ru-001", "zh-001", "ar-001", "hi-001", "ja-001", "ko-001")


def quality_app() -> typer.Typer:
    """The real `summarize` app, which carries `eval` and `report`."""
    from summarize.cli import app

    return app


def run_quality(*args: str) -> Any:
    return CliRunner().invoke(quality_app(), list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def run_out(tiny: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real `summarize run` output folder: tiny models, seven languages, English translations."""
    tmp = tmp_path_factory.mktemp("report")
    rows = [r for r in sample_articles() if r["id"] in IDS]
    src = write_jsonl(tmp / "in.jsonl", rows)
    out = tmp / "out"
    result = invoke([
        "run", str(src), "--out", str(out), "--to", "en", "--translate", "summary",
        "--summary-model", str(tiny["t5"]), "--translation-model", str(tiny["m2m100"]),
        "--max-new-tokens", "12", "--beams", "1", "--translation-beams", "1",
        "--translation-max-new-tokens", "16", "--quiet",
    ])
    assert result.exit_code in (0, 1), result.output
    return out


@pytest.fixture(scope="module")
def references(run_out: Path) -> Path:
    """Reference summaries (the titles) and reference English translations, in JSONL."""
    rows = [{"id": r["id"], "summary": r["title"], "summary_en": f"Summary of {r['id']}"} for r in sample_articles() if r["id"] in IDS]
    rows.append({"id": "missing-article", "summary": "No such article."})
    return write_jsonl(run_out.parent / "refs.jsonl", rows)


def test_eval_command_scores_the_run(run_out: Path, references: Path) -> None:
    import polars as pl

    result = run_quality("eval", str(run_out), "--references", str(references), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    articles = read(run_out, "articles")
    ok = articles.filter(pl.col("status") == "ok")
    summaries_ok = sum(1 for s in ok["summary"].to_list() if s and s.strip())
    translations = read(run_out, "translations").filter(pl.col("status") == "ok")
    assert data["scored"] == summaries_ok + translations.height
    assert data["missing"] == 1 + 2 * len(IDS) - data["scored"]
    per_article = pl.read_parquet(run_out / "eval.parquet")
    assert per_article.height == data["scored"]
    assert (run_out / "eval.json").is_file()
    # Every per-article ROUGE equals multilingual-rouge's own on the same pair.
    refs = {r["id"]: r["title"] for r in sample_articles() if r["id"] in IDS}
    for row in per_article.filter(pl.col("task") == "summary").iter_rows(named=True):
        hyp = ok.filter(pl.col("id") == row["id"])["summary"][0]
        assert row["rougeL"] == pytest.approx(_reference_rouge(row["lang"], [(hyp, refs[row["id"]])])["rougeL"])
    table = run_quality("eval", str(run_out), "--references", str(references))
    assert "chrF++" in table.stdout and "scored" in table.stdout


def test_eval_refuses_a_folder_without_a_run(tmp_path: Path, references: Path) -> None:
    result = CliRunner().invoke(quality_app(), ["eval", str(tmp_path), "--references", str(references)])
    assert result.exit_code == 2
    assert "no run.json" in result.stderr


def _report(run_out: Path, references: Path) -> Path:
    run_quality("eval", str(run_out), "--references", str(references))
    html = run_out.parent / "report.html"
    result = run_quality("report", str(run_out), "--html", str(html), "--eval", str(run_out / "eval.json"))
    assert result.exit_code == 0, result.output
    return html


def test_report_is_self_contained(run_out: Path, references: Path) -> None:
    page = _report(run_out, references).read_text(encoding="utf-8")
    manifest = json.loads((run_out / "run.json").read_text(encoding="utf-8"))
    assert manifest["run_id"] in page
    for heading in ("Run", "Articles per language and status", "Flags", "Faithfulness per language",
                    "Summary length per language", "Confidence per language", "Durations and throughput",
                    "Models and licences", "Evaluation against references"):
        assert f"<h2>{heading}</h2>" in page
    for model in manifest["models"]:
        assert model in page
    # Endonyms of the run's languages, as text (the browser renders the script).
    for word in ("русский", "中文", "العربية", "हिन्दी", "日本語", "한국어"):
        assert word in page
    # Nothing to fetch: no external scripts, styles, images or fonts (SVG namespaces are names, not fetches).
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//|@import|<link|<script", page)
    # Charts are inline SVG whose labels stay text.
    assert page.count("<svg") >= 4
    assert "<text" in page and "DejaVuSans-" not in page


def test_report_shows_confidence_and_faithfulness_columns() -> None:
    manifest = {"run_id": "r1", "seconds": 2.0, "models": {"m": {"task": "summarization", "licence": "cc-by-nc-4.0", "noncommercial": True}}}
    articles = [
        {"id": f"a{i}", "lang": lang, "status": "ok", "summary": "x", "summary_tokens": 10 + i, "duration_ms": 5.0,
         "summary_logprob": -0.5 - i / 10, "flags": ["unsupported_number"] if i % 2 else [],
         "unsupported": ["42"] if i % 2 else []}
        for i, lang in enumerate(["de", "de", "el", "el", "zh"])
    ]
    page = render(manifest, articles, [{"id": "a0", "target_lang": "en", "status": "ok", "logprob": -1.0}])
    conf = page.split("<h2>Confidence per language</h2>")[1].split("<h2>")[0]
    assert conf.count("<svg") == 2  # summaries and translations
    faith = page.split("<h2>Faithfulness per language</h2>")[1].split("<h2>")[0]
    assert "el · Ελληνικά" in faith and "1 (50%)" in faith and "42" in faith
    assert "non-commercial use only" in page


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_report_renders_in_headless_chromium(run_out: Path, references: Path, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is required in CI (apt-get install chromium fonts-noto-cjk fonts-noto-core)")
        pytest.skip("chromium is not installed")
    html = _report(run_out, references)
    png = tmp_path / "report.png"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}", "--window-size=1200,2400",
         html.resolve().as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    assert png.stat().st_size > 20_000
    from PIL import Image

    with Image.open(png) as im:
        assert im.size == (1200, 2400)
        colours = im.convert("RGB").getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 50  # text, tables and charts, not a blank page
    # The status chart's bars are drawn: a sizeable area in its 'ok' green (#009E73).
    green = sum(n for n, rgb in colours if rgb == (0x00, 0x9E, 0x73))
    assert green > 2_000


def test_report_picks_up_this_runs_eval_json_only(run_out: Path, references: Path) -> None:
    from summarize.quality.report import write_report

    run_quality("eval", str(run_out), "--references", str(references))
    page = write_report(run_out, run_out.parent / "auto.html").read_text(encoding="utf-8")
    assert "<h2>Evaluation against references</h2>" in page
    # An eval.json left from another run (--overwrite keeps it) is not shown as this run's scores.
    data = json.loads((run_out / "eval.json").read_text(encoding="utf-8"))
    (run_out / "eval.json").write_text(json.dumps({**data, "run_id": "another-run"}), encoding="utf-8")
    page = write_report(run_out, run_out.parent / "auto.html").read_text(encoding="utf-8")
    assert "<h2>Evaluation against references</h2>" not in page


def test_commands_have_help() -> None:
    for command, words in (("eval", "ROUGE"), ("report", "self-contained HTML")):
        result = run_quality(command, "--help")
        assert result.exit_code == 0 and words in result.stdout


def test_report_is_deterministic() -> None:
    manifest = {"run_id": "r1", "seconds": 1.0}
    articles = [{"id": "a", "lang": "ru", "status": "ok", "summary": "Текст", "summary_tokens": 4, "duration_ms": 3.0, "flags": ["repetition"]}]
    assert render(manifest, articles, []) == render(manifest, articles, [])
