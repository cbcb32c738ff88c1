"""`summarize eval` and `summarize report` report errors through the shared path: one line, or one
JSON object under --log-format json, with the error's exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import invoke


@pytest.mark.parametrize("command", ["eval", "report"])
def test_errors_follow_the_log_format(tmp_path: Path, command: str) -> None:
    refs = tmp_path / "refs.jsonl"
    refs.write_text('{"id": "a", "summary": "x"}\n', encoding="utf-8")
    extra = ["--references", str(refs)] if command == "eval" else ["--html", str(tmp_path / "r.html")]
    res = invoke([command, str(tmp_path), *extra])
    assert res.exit_code == 2
    assert res.stderr.strip() == f"summarize: error: {tmp_path}: not an output folder of summarize run (no run.json)"
    res = invoke([command, str(tmp_path), *extra, "--log-format", "json"])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert doc["level"] == "error" and doc["exit_code"] == 2 and "no run.json" in doc["message"]
