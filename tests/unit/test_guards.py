"""Guardrails: each flag on crafted outputs, no flag on real text, and the `flags` columns end to end."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from summarize import guards
from summarize.detect.detector import Detector
from summarize.guards import EMPTY_OUTPUT, LENGTH_RATIO, REPETITION, WRONG_LANGUAGE
from tests.conftest import sample_articles

ARTICLE = sample_articles(1)[0]["text"]
SENTENCE = "The city council approved the new budget for schools and public transport on Monday."


def fixed(lang: str, score: float) -> Callable[[str], tuple[str, float]]:
    return lambda text: (lang, score)


def check(output: str, source: str = SENTENCE, *, lang: str | None = None,
          detect: Callable[[str], tuple[str, float]] | None = None,
          bounds: tuple[float, float] = guards.TRANSLATION_RATIO) -> list[str]:
    return guards.check(output, source, expected_lang=lang, detect=detect, ratio_bounds=bounds)


@pytest.mark.parametrize("text", [
    "the the the the",
    "Der Rat hat hat hat hat entschieden",
    "the city council the city council the city council voted",
    "said that the mayor said that the mayor said that the mayor",
    "下雨了下雨了下雨了",
    "市议会批准了预算批准了预算批准了预算",
    " ".join(["council budget vote"] + [f"council budget {w}" for w in "abcdefghijklmnopqrstu"]),
])
def test_loops_are_repetition(text: str) -> None:
    assert guards.has_repetition(text)
    assert REPETITION in check(text, ARTICLE, bounds=guards.SUMMARY_RATIO)


@pytest.mark.parametrize("text", [
    "No, no, no, said the mayor.",
    "哈哈哈",
    "The vote was 1,000,000 to 0.",
    "The council met on Monday. The council will meet again on Friday. The council has 31 members.",
    SENTENCE,
])
def test_natural_text_is_not_repetition(text: str) -> None:
    assert not guards.has_repetition(text)


def test_no_sample_article_or_title_looks_like_a_loop() -> None:
    for a in sample_articles():
        assert not guards.has_repetition(a["text"]), a["id"]
        assert not guards.has_repetition(a["title"]), a["id"]
    # A phrase that comes back across a long text is not a loop.
    long = " ".join(a["text"] for a in sample_articles() if a["id"].startswith("en-"))
    assert long.lower().count("the council") >= 3
    assert not guards.has_repetition(long)


def test_empty_output() -> None:
    assert check("") == [EMPTY_OUTPUT]
    assert check("  \n ") == [EMPTY_OUTPUT]
    assert EMPTY_OUTPUT not in check(SENTENCE)


def test_length_ratio() -> None:
    # A summary longer than its article.
    assert LENGTH_RATIO in check(ARTICLE + " " + ARTICLE, ARTICLE, bounds=guards.SUMMARY_RATIO)
    assert LENGTH_RATIO not in check(SENTENCE, ARTICLE, bounds=guards.SUMMARY_RATIO)
    # A translation that lost most of its source, or ran on far past it.
    assert LENGTH_RATIO in check("Le conseil.", SENTENCE)
    assert LENGTH_RATIO in check(" ".join([SENTENCE.replace("council", f"council {k}") for k in range(5)]), SENTENCE)
    assert LENGTH_RATIO not in check("Le conseil municipal a approuvé lundi le nouveau budget des écoles.", SENTENCE)
    # Scripts are weighed, so Chinese for English is a normal length...
    assert LENGTH_RATIO not in check("市议会周一批准了学校和公共交通的新预算。", SENTENCE)
    assert guards.text_size("预算") == 6 and guards.text_size("a b") == 2
    # ...and a short source says nothing about the right length.
    assert LENGTH_RATIO not in check("Organisation des Nations unies", "UN")


def test_wrong_language() -> None:
    assert WRONG_LANGUAGE in check("Der Stadtrat hat den Haushalt gebilligt.", lang="en", detect=fixed("de", 0.99))
    assert WRONG_LANGUAGE not in check(SENTENCE, lang="en", detect=fixed("en", 0.99))
    # Unsure or undetermined answers, and languages a detector confuses, are not flagged.
    assert WRONG_LANGUAGE not in check(SENTENCE, lang="en", detect=fixed("de", 0.6))
    assert WRONG_LANGUAGE not in check(SENTENCE, lang="en", detect=fixed("und", 0.0))
    assert WRONG_LANGUAGE not in check(SENTENCE, lang="hr", detect=fixed("sr", 0.99))
    assert WRONG_LANGUAGE not in check(SENTENCE, lang="und", detect=fixed("de", 0.99))
    assert WRONG_LANGUAGE not in check(SENTENCE, lang="en", detect=None)


def test_wrong_language_with_the_project_detector() -> None:
    detector = Detector()

    def detect(text: str) -> tuple[str, float]:
        d = detector.detect_short(text)
        return d.lang, d.score

    german = "Der Stadtrat hat am Montag den neuen Haushalt für Schulen und den Nahverkehr gebilligt."
    assert WRONG_LANGUAGE in check(german, lang="en", detect=detect)
    assert WRONG_LANGUAGE not in check(german, lang="de", detect=detect)
    assert WRONG_LANGUAGE not in check("市议会周一批准了学校和公共交通的新预算。", lang="zh", detect=detect)


def test_every_flag_at_once_is_possible() -> None:
    flags = check("Stadt Stadt Stadt Stadt " * 20, SENTENCE, lang="en", detect=fixed("de", 0.99))
    assert flags == [REPETITION, LENGTH_RATIO, WRONG_LANGUAGE]
