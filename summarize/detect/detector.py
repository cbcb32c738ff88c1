"""Language detection: which language an article is in, how sure we are, and its paragraph mix.

Single detectors make different mistakes, and raw langdetect is confidently wrong on short text.
The script of the text decides or narrows the candidates (Kana is Japanese, Hangul Korean,
Cyrillic never a Latin-script language); an engine from `detect_engines` / `detect_ensemble` scores the candidates
(by default the ensemble of langdetect's profiles scored exactly, fastText's lid.176 and, for
hard cases, lingua; `DetectOptions(engine=...)` picks one alone); then letters and words a
language does not use count against it (ě/ř/ů are not Slovak, і/ї/є not Russian, æ/ø not
Swedish), priors favour the languages common in news, and short texts are scaled down. The
answer is the same on every run. Articles are detected per paragraph, so mixed-language articles
report their mix.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections import Counter
from functools import lru_cache

from ..models import langcodes
from ..options import DetectOptions
from ..schema import Detection
from ..text import paragraphs
from .engines import TEMPERATURE
from .ensemble import _engine, _EnsembleEngine, langdetect_raw
from .evidence import (  # the evidence this stage weighs; detect.py combines it
    _GROUPS,
    _KEEP_TABLES,
    _LANG_SCRIPT,
    _LETTER_GROUPS,
    _LETTER_WORD,
    _SCRIPT_LANG,
    _WORDS_ENOUGH,
    AMBIGUOUS,
    ARTICLE_BIAS,
    CONFIDENT,
    EMPTY,
    MAX_PARAGRAPH_CHARS,
    MAX_SEGMENTS,
    NO_LETTERS,
    TOO_SHORT,
    UND,
    _decide_cjk,
    _decide_hebrew,
    _Evidence,
    _latin_evidence,
    _length_ceiling,
    _letter_evidence,
    _prior,
    _Scripts,
    _softmax,
    _strip,
)
from .pairs import decide_id_ms

__all__ = ["CONFIDENT", "TEMPERATURE", "UND", "Detector", "langdetect_raw", "make_detector", "verify"]

log = logging.getLogger(__name__)


class Detector:
    """Detects the language of articles and short texts with calibrated scores.

    Build it with `make_detector` to share one per options; it is safe to use from several threads.
    `detect` reads a whole article (title and paragraphs) and reports the paragraph mix;
    `detect_short` reads one sentence or summary as a unit. The answers are the same on every run
    whatever `options.seed`: the exact scoring draws no random numbers (the seed only drives
    langdetect's own sampler in `langdetect_raw`).
    """

    def __init__(self, options: DetectOptions | None = None) -> None:
        self.options = options or DetectOptions()
        self._engine = _engine(self.options.engine)
        self.name: str = self._engine.name
        self._candidates = {
            group: tuple(lang for lang in langs if lang in self._engine.languages) for group, langs in _GROUPS.items()
        }
        # The Indonesian/Malay decision is fitted on the ensemble's scores with lingua in them.
        self._pair_decision = isinstance(self._engine, _EnsembleEngine) and self._engine.arbitrates

    @property
    def languages(self) -> frozenset[str]:
        """Every language this detector can answer."""
        return self._engine.languages | frozenset(_SCRIPT_LANG.values()) | {"ja", "zh", "ko", "he", "yi"}

    # One piece of text -------------------------------------------------------------------------

    def _evidence(self, text: str, *, arbitrate: bool = True) -> _Evidence:
        """What one piece of text says; `arbitrate=False` keeps the slow arbiter (lingua) out."""
        scripts = _Scripts.of(text)
        main = scripts.main
        if main not in _GROUPS:
            if main == "cjk":
                decided: tuple[str, float] | None = _decide_cjk(text, scripts)
            elif main == "hebrew":
                decided = _decide_hebrew(text)
            else:
                decided = (_SCRIPT_LANG[main], 0.99) if main in _SCRIPT_LANG else None
            return _Evidence(scripts.letters, scripts.weight(), 0, main, decided=decided)
        letters = scripts.counts.get(main, 0)
        # Letters of other scripts (a Latin brand name in Russian text) would only add noise.
        if letters < scripts.letters:
            text = _KEEP_TABLES[main].translate(text)
        words = self._count_words(text)
        candidates = self._candidates.get(main, ())
        if letters < self.options.min_chars or not candidates:
            return _Evidence(scripts.letters, letters, words, main)
        if len(candidates) == 1:
            return _Evidence(scripts.letters, letters, words, main, logits={candidates[0]: 0.0})
        scores = self._engine.scores(text[: self._cut(text)], candidates, arbitrate=arbitrate)
        if not scores:
            return _Evidence(scripts.letters, letters, words, main)
        if main in _LETTER_GROUPS:
            letter_ev = _letter_evidence(text, scores, scripts.chars if letters == scripts.letters else None)
        else:
            letter_ev = _latin_evidence(text, scores) if main == "latin" else {}
        logits = {lang: s + _log_prior(lang) + letter_ev.get(lang, 0.0) for lang, s in scores.items()}
        if self._pair_decision and arbitrate and main == "latin":
            logits = decide_id_ms(logits, scores, text, words)
        return _Evidence(scripts.letters, letters, words, main, logits=logits)

    @staticmethod
    def _count_words(text: str) -> int:
        """Words with a letter, counted up to where the word ceiling no longer matters."""
        # One match per word: from its first letter to its end, so the next match is in the next word.
        return sum(1 for _ in itertools.islice(_LETTER_WORD.finditer(text), _WORDS_ENOUGH))

    @staticmethod
    def _cut(text: str) -> int:
        """Where to stop reading: after `MAX_PARAGRAPH_CHARS`, at a word boundary."""
        if len(text) <= MAX_PARAGRAPH_CHARS:
            return len(text)
        space = text.find(" ", MAX_PARAGRAPH_CHARS)
        return len(text) if space < 0 or space > MAX_PARAGRAPH_CHARS + 40 else space

    def _judge(self, evidence: _Evidence, bias: str | None = None) -> tuple[str, float, str | None]:
        """Turn evidence into (lang, score, reason); `bias` favours the article's language."""
        if evidence.letters == 0:
            return UND, 0.0, NO_LETTERS
        if evidence.decided is not None:
            lang, score = evidence.decided
            # A single letter of a script is as likely a symbol (pi, a bullet) as a word.
            return (lang, score, None) if evidence.letters >= 2 else (UND, 0.0, TOO_SHORT)
        if evidence.logits is None:
            if evidence.script in _GROUPS and evidence.weight < self.options.min_chars:
                return UND, 0.0, TOO_SHORT
            return UND, 0.0, AMBIGUOUS
        logits = evidence.logits
        if bias is not None and bias in logits:
            logits = {**logits, bias: logits[bias] + ARTICLE_BIAS}
        posterior = _softmax(logits)
        lang = max(posterior, key=lambda k: (posterior[k], k))
        score = posterior[lang] * _length_ceiling(evidence.weight, evidence.words)
        if score < self.options.min_score:
            return UND, round(score, 4), AMBIGUOUS
        return lang, round(score, 4), None

    def detect_short(self, text: str) -> Detection:
        """Detect the language of one sentence, paragraph or summary, as a single unit.

        Used to check a model's output language: no paragraph splitting and no title. Markup, URLs,
        e-mail addresses, handles and numbers are ignored. Never raises on bad input: an empty or
        letterless text is `und` with a reason.
        """
        if text is None or not str(text).strip():
            return Detection(UND, 0.0, (), self.name, EMPTY)
        lang, score, reason = self._judge(self._evidence(_strip(str(text))))
        if lang == UND:
            return Detection(UND, 0.0, (), self.name, reason)
        return Detection(lang, score, ((lang, 1.0),), self.name, None)

    # A whole article ---------------------------------------------------------------------------

    def detect(self, text: str | None, title: str | None = None) -> Detection:
        """Detect an article's language from its title and text, paragraph by paragraph.

        Paragraphs (separated by blank lines) are judged one by one; those confidently in another
        language than the dominant one make up `mix` (shares by letters, dominant first), the rest
        count for the dominant language. The article's score pools the evidence of every paragraph
        in its language, so a long article of short paragraphs is still sure. Never raises on bad
        input: empty or letterless input is `und` with a reason (`empty`, `no_letters`,
        `too_short`, `ambiguous`).
        """
        pieces = [p for p in ([title] if title else []) + paragraphs(str(text or "")) if p.strip()]
        if not pieces:
            return Detection(UND, 0.0, (), self.name, EMPTY)
        pieces = [_strip(p) for p in pieces]
        if len(pieces) > MAX_SEGMENTS:
            size = -(-len(pieces) // MAX_SEGMENTS)
            pieces = ["\n".join(pieces[i : i + size]) for i in range(0, len(pieces), size)]
        read = self._pieces_evidence(pieces)
        evidence = [e for e, _ in read]
        if sum(e.letters for e in evidence) == 0:
            return Detection(UND, 0.0, (), self.name, NO_LETTERS)
        judged = [j for _, j in read]
        strong = [(e, j) for e, j in zip(evidence, judged, strict=True) if j[0] != UND and j[1] >= CONFIDENT]
        if not strong:
            # No paragraph is sure on its own: read title and text as one piece.
            return self._single(self._evidence("\n".join(pieces)))
        by_letters: Counter[str] = Counter()
        for e, (lang, _, _) in strong:
            by_letters[lang] += e.letters
        dominant = max(by_letters, key=lambda k: by_letters[k])
        shares: Counter[str] = Counter()
        pooled: list[_Evidence] = []
        for e, (lang, score, _) in zip(evidence, judged, strict=True):
            if lang not in (UND, dominant) and score >= CONFIDENT:
                # Paragraphs of an article are likely in its language: ask again, biased towards it.
                lang, score, _ = self._judge(e, bias=dominant)
                if lang != dominant and score >= CONFIDENT:
                    shares[lang] += e.letters
                    continue
            shares[dominant] += e.letters
            pooled.append(e)
        score = self._pooled_score(dominant, pooled)
        total = sum(shares.values())
        others = [(lang, round(n / total, 4)) for lang, n in shares.items() if lang != dominant]
        # The dominant share is what the others leave, so the shares add up to exactly 1.
        mix = (
            (dominant, round(1.0 - sum(share for _, share in others), 4)),
            *sorted(others, key=lambda m: (-m[1], m[0])),
        )
        return Detection(dominant, score, mix, self.name, None)

    def _pieces_evidence(self, pieces: list[str]) -> list[tuple[_Evidence, tuple[str, float, str | None]]]:
        """Each piece's evidence and verdict, read longest first. A piece whose characters, with
        those of every shorter piece, are fewer than the lead of the language confidently ahead
        cannot change the article's language, so it goes without the arbiter (lingua), whose
        first use in a process loads its models (seconds): a title or a dateline under a long
        article. Such a piece then counts as another language only when the fast engines agree."""
        if len(pieces) == 1:
            e = self._evidence(pieces[0])
            return [(e, self._judge(e))]
        order = sorted(range(len(pieces)), key=lambda i: (-len(pieces[i]), i))
        total = left = sum(len(p) for p in pieces)
        ahead: Counter[str] = Counter()
        found: dict[int, tuple[_Evidence, tuple[str, float, str | None]]] = {}
        for i in order:
            arbitrate = True
            if 2 * left < total:  # else what is left outweighs all that was read
                top = [*sorted(ahead.values(), reverse=True), 0, 0]
                arbitrate = left >= top[0] - top[1]
            e = self._evidence(pieces[i], arbitrate=arbitrate)
            found[i] = e, self._judge(e)
            left -= len(pieces[i])
            lang, score, _ = found[i][1]
            if lang != UND and score >= CONFIDENT:
                ahead[lang] += e.letters
        return [found[i] for i in range(len(pieces))]

    def _single(self, evidence: _Evidence) -> Detection:
        lang, score, reason = self._judge(evidence)
        if lang == UND:
            return Detection(UND, 0.0, (), self.name, reason)
        return Detection(lang, score, ((lang, 1.0),), self.name, None)

    def _pooled_score(self, lang: str, pooled: list[_Evidence]) -> float:
        """Confidence in `lang` from all its paragraphs together (naive Bayes adds their evidence)."""
        decided = max((e.decided[1] for e in pooled if e.decided is not None and e.decided[0] == lang), default=0.0)
        scored = [e for e in pooled if e.logits is not None and lang in e.logits]
        if decided or not scored:
            return decided
        # Only languages every pooled paragraph could be are compared: a language left out of one
        # paragraph (a proxy without its letters there) must not win by missing its evidence.
        tables = [e.logits or {} for e in scored]
        # In the first paragraph's order, not a set's: the sums must not depend on hashing.
        common = [other for other in tables[0] if all(other in table for table in tables[1:])]
        logits = {other: sum(table[other] for table in tables) for other in common}
        weight = sum(e.weight for e in scored)
        words = sum(e.words for e in scored)
        return round(_softmax(logits)[lang] * _length_ceiling(weight, words), 4)


@lru_cache(maxsize=1024)
def _log_prior(lang: str) -> float:
    return math.log(_prior(lang))


@lru_cache(maxsize=16)
def make_detector(options: DetectOptions | None = None) -> Detector:
    """Return the shared `Detector` for these options (built on first use, then cached)."""
    return Detector(options)


def verify(given: str, detection: Detection, options: DetectOptions) -> bool:
    """Return True when the detector confidently disagrees with a given language.

    Used by `--verify-lang` (returns False when `options.verify_lang` is off). Disagreement needs a
    confident detection (score >= 0.9, and at least `min_score`) of another language that is not a
    close relative of the given one (`langcodes.CLOSE_GROUPS`: Croatian/Serbian/Bosnian,
    Norwegian/Danish, Indonesian/Malay, ...), with the given language (or a close relative) not
    found in the article's mix. A given language the engine cannot detect is only contradicted by
    a different script.
    """
    if not options.verify_lang:
        return False
    lang = langcodes.normalise(given)
    found = detection.lang
    if UND in (lang, found) or langcodes.same_language(lang, found):
        return False
    if detection.score < max(options.verify_min_score, options.min_score):
        return False
    if any(langcodes.same_language(mixed, lang) for mixed, _ in detection.mix):
        return False
    # The detector answers a variety (`nb`, `yue`) with its macrolanguage (`no`, `zh`).
    detected_as = langcodes.macrolanguage(lang)
    given_script, found_script = _LANG_SCRIPT.get(detected_as), _LANG_SCRIPT.get(found)
    if given_script and found_script and given_script != found_script:
        return True
    return detected_as in make_detector(options).languages
