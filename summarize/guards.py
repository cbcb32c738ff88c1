"""Guardrails against degenerate model output, recorded as row flags (never as failures)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

REPETITION = "repetition"
LENGTH_RATIO = "length_ratio"
WRONG_LANGUAGE = "wrong_language"
EMPTY_OUTPUT = "empty_output"

_WORD = re.compile(r"\w+", re.UNICODE)
_NO_SPACE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\u0e00-\u0e7f]")


def _units(text: str) -> list[str]:
    # Scripts written without spaces are compared character by character.
    if _NO_SPACE.search(text):
        return [c for c in text if not c.isspace()]
    return _WORD.findall(text.lower())


def has_repetition(text: str, *, n: int = 3, times: int = 3) -> bool:
    """True when some n-gram of words (characters for CJK/Thai; 2n of them) occurs `times` or more."""
    units = _units(text)
    size = n * 2 if units and len(units[0]) == 1 and _NO_SPACE.search(text) else n
    if len(units) < size * times:
        return False
    grams = Counter(tuple(units[i : i + size]) for i in range(len(units) - size + 1))
    return max(grams.values()) >= times


def check(
    output: str,
    source: str,
    *,
    expected_lang: str | None,
    detect: Callable[[str], tuple[str, float]] | None,
    ratio_bounds: tuple[float, float],
    min_lang_score: float = 0.9,
) -> list[str]:
    """Flags for one output given its source text and the language it should be in.

    The length ratio is measured in characters without spaces, output over source; the
    language check only flags a confident disagreement so short outputs are not penalised.
    """
    flags: list[str] = []
    if not output.strip():
        return [EMPTY_OUTPUT]
    if has_repetition(output):
        flags.append(REPETITION)
    src_len = len("".join(source.split()))
    out_len = len("".join(output.split()))
    if src_len:
        ratio = out_len / src_len
        lo, hi = ratio_bounds
        if ratio < lo or ratio > hi:
            flags.append(LENGTH_RATIO)
    if detect is not None and expected_lang and expected_lang != "und":
        lang, score = detect(output)
        if lang not in ("und", expected_lang) and score >= min_lang_score:
            flags.append(WRONG_LANGUAGE)
    return flags


SUMMARY_RATIO = (0.0, 1.0)  # a summary longer than its article is degenerate
TRANSLATION_RATIO = (0.2, 5.0)  # wide: CJK <-> Latin differs ~3x in characters
