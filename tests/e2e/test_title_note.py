"""`--translate title` on articles without a title says so instead of leaving a short table unexplained."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from summarize import api
from tests.conftest import options


def test_untitled_articles_are_counted_in_a_warning(tmp_path: Path, tiny: dict[str, Path],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "dump"
    folder.mkdir()
    # No blank line after the first line: the whole file is text, and there is no title.
    (folder / "a.txt").write_text("The council met on Monday.\nIt approved the budget for the year.\n", encoding="utf-8")
    (folder / "b.txt").write_text("Budget approved\n\nThe council met on Monday and approved the budget.\n",
                                  encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="summarize.api"):
        info = api.run([folder], tmp_path / "out", options(tiny, to=("fr",)))
    assert info.exit_code == 0
    notes = [r.getMessage() for r in caplog.records if "--translate title" in r.getMessage()]
    assert notes and notes[0].startswith("--translate title: 1 article(s) had no title")


def test_no_warning_when_every_article_has_a_title(tmp_path: Path, tiny: dict[str, Path],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "dump"
    folder.mkdir()
    (folder / "b.txt").write_text("Budget approved\n\nThe council met on Monday and approved the budget.\n",
                                  encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="summarize.api"):
        api.run([folder], tmp_path / "out", options(tiny, to=("fr",)))
    assert not [r for r in caplog.records if "--translate title" in r.getMessage()]
