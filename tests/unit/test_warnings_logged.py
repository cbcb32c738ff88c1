"""Python warnings go through logging: --quiet silences them, --log-format json carries them."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator

import pytest

from summarize.cli.common import LogFormat, setup_logging


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        yield
    logging.captureWarnings(False)
    root.handlers[:], root.level = handlers, level


def test_a_warning_is_one_json_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(False, False, LogFormat.json)
    warnings.warn("a library says something", UserWarning, stacklevel=1)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert doc["level"] == "warning" and doc["logger"] == "py.warnings"
    assert "UserWarning: a library says something" in doc["message"]


def test_quiet_silences_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(False, True, LogFormat.text)
    warnings.warn("a library says something", UserWarning, stacklevel=1)
    assert capsys.readouterr().err == ""
    setup_logging(False, False, LogFormat.text)
    warnings.warn("a library says something", UserWarning, stacklevel=1)
    assert capsys.readouterr().err.startswith("WARNING py.warnings: ")
