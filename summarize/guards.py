"""Guardrails against degenerate model output, recorded as row flags (never as failures).

A flag marks a row for a person or a filter to look at; the output itself is kept, because a
flagged summary is often still usable and dropping it would hide what the model did. The checks
are cheap, pure functions of the output and its source, so they run on every row.

Flags:
    `repetition`: the output loops (a word or phrase repeated back to back), or most of it is
        made of repeated phrases.
    `length_ratio`: the output is implausibly long or short for its source.
    `wrong_language`: the detector is confident the output is in another language than asked.
    `empty_output`: the output is empty (for a sentence-by-sentence translation: a sentence of
        the source came back empty, so the translation silently lost it).
    `low_confidence`: the model's mean log-probability per chosen token (`Output.logprob`) is
        below `--min-logprob` (`RunOptions.min_logprob`, default `DEFAULT_MIN_LOGPROB`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable

from .models import langcodes
from .options import DEFAULT_MIN_LOGPROB
from .text import UNSPACED

REPETITION = "repetition"
LENGTH_RATIO = "length_ratio"
WRONG_LANGUAGE = "wrong_language"
EMPTY_OUTPUT = "empty_output"
LOW_CONFIDENCE = "low_confidence"


# Bounds on output size over source size (see `text_size`). A summary longer than its article
# is degenerate; there is no useful lower bound, since a long article has a tiny summary.
SUMMARY_RATIO = (0.0, 1.0)
# Translations between any two languages stay within about 0.5x..2x once characters of the dense
# scripts are weighted (Hebrew, written without vowels, is the shortest; Japanese the longest);
# the bounds leave room for that and for titles, so only real dropouts and runaways are flagged.
TRANSLATION_RATIO = (1 / 3, 3.0)
# Below this source size (in Latin-letter equivalents) the ratio says nothing: "UN" may become
# "Organisation des Nations unies".
MIN_RATIO_SOURCE = 20

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")

def units(text: str) -> list[str]:
    """The units repetition is measured in: lower-cased words, or letters in scripts without spaces.

    Words are split at spaces only, with punctuation stripped from their ends, so that words
    with combining marks (Hindi, Thai vowels) stay whole and "1,000,000" stays one word; digits
    and punctuation are left out of letter units, so "……" never looks like a loop.
    """
    if UNSPACED.search(text):
        return [c for c in text if c.isalpha()]
    return [w for w in (_strip_punctuation(t) for t in text.lower().split()) if w]


def _strip_punctuation(token: str) -> str:
    start, end = 0, len(token)
    while start < end and unicodedata.category(token[start])[0] in "PS":
        start += 1
    while end > start and unicodedata.category(token[end - 1])[0] in "PS":
        end -= 1
    return token[start:end]


def _tandem(seq: list[str], period: int, copies: int) -> bool:
    # A span of `period` units repeated `copies` times back to back is a run of at least
    # (copies - 1) * period positions where each unit equals the one `period` later.
    need = (copies - 1) * period
    run = 0
    for i in range(len(seq) - period):
        run = run + 1 if seq[i] == seq[i + period] else 0
        if run >= need:
            return True
    return False


def _grams(seq: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(seq[i : i + n]) for i in range(len(seq) - n + 1))


def has_repetition(
    text: str,
    *,
    max_period: int = 8,
    copies: int = 3,
    max_top_share: float = 0.2,
    max_repeated_share: float = 0.5,
) -> bool:
    """True when the text loops, the typical failure of seq2seq decoding.

    Units are words (letters in Chinese, Japanese, Thai..., where every size below doubles).
    Three signs, each far from what news text does (in the sample articles and edge cases the
    most frequent 2-gram is at most 6% of a text's 2-grams, and repeats at most 3% of its 3-grams):

    * a span of 1 to `max_period` units repeated `copies` times back to back ("the city the
      city the city"; a single word needs one copy more, since "no, no, no" is English);
    * in a text of 16 units or more, one 2-gram taking up `max_top_share` of all 2-grams (and
      occurring 4 times or more): a loop with a varying tail ("budget a, budget b, budget c");
    * in such a text, more than `max_repeated_share` of the 3-grams repeating earlier ones.

    A phrase that comes back a few times across a long article ("the city council") is none.
    """
    seq = units(text)
    scale = 2 if seq and UNSPACED.search(text) else 1
    for period in range(1, max_period * scale + 1):
        if len(seq) < period * copies:
            break
        if _tandem(seq, period, copies + 1 if period == 1 else copies):
            return True
    if len(seq) < 16 * scale:
        return False
    pairs = _grams(seq, 2 * scale)
    top = pairs.most_common(1)[0][1]
    if top >= 4 and top / sum(pairs.values()) >= max_top_share:
        return True
    triples = _grams(seq, 3 * scale)
    total = sum(triples.values())
    return (total - len(triples)) / total > max_repeated_share


def text_size(text: str) -> float:
    """Size of a text in Latin-letter equivalents, comparable across scripts.

    Characters other than spaces, with a Han character worth 3 (a Chinese text is about a third
    as long as its English translation), a Hangul syllable 2.5 and a kana 2.
    """
    size = float(len("".join(text.split())))
    if text.isascii():
        return size
    size += 2 * len(_HAN.findall(text)) + 1.5 * len(_HANGUL.findall(text)) + len(_KANA.findall(text))
    return size


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

    The length ratio is `text_size(output) / text_size(source)` and is only judged for sources
    of at least `MIN_RATIO_SOURCE`; the language check only flags a confident disagreement
    (`detect` returns a language and a score), so short or mixed outputs are not penalised.
    """
    if not output.strip():
        return [EMPTY_OUTPUT]
    flags: list[str] = []
    if has_repetition(output):
        flags.append(REPETITION)
    src = text_size(source)
    if src >= MIN_RATIO_SOURCE:
        ratio = text_size(output) / src
        lo, hi = ratio_bounds
        if ratio < lo or ratio > hi:
            flags.append(LENGTH_RATIO)
    if detect is not None and expected_lang and expected_lang != "und":
        lang, score = detect(output)
        if lang != "und" and not langcodes.same_language(lang, expected_lang) and score >= min_lang_score:
            flags.append(WRONG_LANGUAGE)
    return flags


def confidence(logprob: float | None, min_logprob: float) -> list[str]:
    """`[low_confidence]` when the output's mean log-probability is below `min_logprob`, else `[]`.

    An output without a score (an identity translation, a failed one) is never flagged.
    """
    return [LOW_CONFIDENCE] if logprob is not None and logprob < min_logprob else []


__all__ = [
    "DEFAULT_MIN_LOGPROB", "EMPTY_OUTPUT", "LENGTH_RATIO", "LOW_CONFIDENCE", "MIN_RATIO_SOURCE", "REPETITION",
    "SUMMARY_RATIO", "TRANSLATION_RATIO", "WRONG_LANGUAGE", "check", "confidence", "has_repetition", "text_size", "units",
]
