"""The CLI builds the same options as the Python API: its defaults are the options' defaults."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from summarize.options import ReadOptions, RunOptions
from tests.conftest import invoke


def test_run_defaults_are_the_options_defaults(articles_file: Path, tmp_path: Path) -> None:
    res = invoke(["run", str(articles_file), "--out", str(tmp_path / "o"), "--dry-run"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["options"] == json.loads(json.dumps(RunOptions().to_dict()))
    assert doc["read_options"] == json.loads(json.dumps(asdict(ReadOptions())))


def test_flags_reach_the_options(articles_file: Path, tmp_path: Path) -> None:
    res = invoke([
        "run", str(articles_file), "--out", str(tmp_path / "o"), "--dry-run", "--to", "DE,pt-BR,fre",
        "--beams", "2", "--translation-beams", "3", "--batch-size", "5", "--max-batch-tokens", "900",
        "--no-repeat-ngram-size", "0", "--min-lang-score", "0.7", "--verify-lang", "--max-chars", "500",
        "--on-duplicate-id", "first", "--keep-col", "outlet:int", "--device", "cpu", "--max-errors", "4",
    ])  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    opts, read = doc["options"], doc["read_options"]
    assert opts["to"] == ["de", "pt", "fr"]
    assert opts["summary"]["num_beams"] == 2 and opts["summary"]["no_repeat_ngram_size"] == 0
    assert opts["translation"]["num_beams"] == 3 and opts["translation"]["no_repeat_ngram_size"] == 0
    assert opts["summary"]["batch_size"] == opts["translation"]["batch_size"] == 5
    assert opts["translation"]["max_batch_tokens"] == 900
    assert opts["detect"]["min_score"] == 0.7 and opts["detect"]["verify_lang"] is True
    assert opts["device"] == "cpu" and opts["max_errors"] == 4
    assert read["max_chars"] == 500 and read["on_duplicate_id"] == "first" and read["keep_cols"] == ["outlet"]
    assert read["keep_types"] == [["outlet", "int"]]


def test_plan_takes_the_run_options(articles_file: Path) -> None:
    # `models plan` spells the routing options as `run` does and builds the same RunOptions.
    res = invoke(["models", "plan", str(articles_file), "--to", "fr", "--translate", "summary,title", "--json"])
    assert res.exit_code == 0, res.output
    plan = json.loads(res.output)
    assert {a["field"] for a in plan["translations"]} == {"summary", "title"}
    assert {a["target_lang"] for a in plan["translations"]} == {"fr"}
