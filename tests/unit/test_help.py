"""Help text names what a user types (INPUT, LANGS), every input kind, and counts read from the registry."""

from __future__ import annotations

import re

import pytest

from summarize.io.read import FOLDER_SUFFIXES, JSONL_SUFFIXES
from summarize.models.registry import Registry
from tests.conftest import invoke


def _help(*command: str) -> str:
    res = invoke([*command, "--help"])
    assert res.exit_code == 0
    return " ".join(res.output.split())  # words as the terminal wraps them do not matter


@pytest.mark.parametrize("command", [("run",), ("detect",), ("models", "plan"), ("models", "fetch")])
def test_inputs_have_a_metavar_and_every_kind(command: tuple[str, ...]) -> None:
    text = _help(*command)
    assert "INPUT]..." in text or "INPUT..." in text
    assert "<list[str]>" not in text and "{inputs}" not in text
    if command != ("models", "fetch"):
        for suffix in (*JSONL_SUFFIXES, ".csv", ".parquet", *FOLDER_SUFFIXES):
            assert suffix.lstrip(".") in text, suffix


def test_run_help_names_its_values() -> None:
    text = _help("run")
    for shown in ("--to LANGS", "--translate FIELDS", "--out DIR", "--keep-col NAME[:TYPE]",
                  "--storage-option KEY=VALUE", "--summary-model MODEL", "--lang-col COLUMN"):
        assert shown in text, shown


def test_the_xlsum_language_count_comes_from_the_registry() -> None:
    default = next(m for m in Registry.load().models() if m.task == "summarization" and m.default)
    n = len(default.languages)
    assert n == 43  # 45 XL-Sum configs; both Chinese and both Serbian ones share a code
    assert f"XL-Sum mT5 for its {n} languages" in _help("run")
    assert not re.search(r"\b45 languages\b", _help("run"))
