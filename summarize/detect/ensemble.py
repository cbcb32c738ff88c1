"""The default detection engine: langdetect, fastText and (for hard cases) lingua combined.

Also the registry that builds each engine once per process (`_engine`) and `langdetect_raw`, the
uncalibrated baseline the benchmark compares against. The single engines live in `detect_engines`.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence

from ..errors import UsageError
from ..models import langcodes
from ..options import DetectorName, choice
from .engines import (
    _FLOOR,
    UND,
    Engine,
    _FastTextEngine,
    _LangdetectEngine,
    _LinguaEngine,
)
from .evidence import _latin_evidence

log = logging.getLogger(__name__)


# The ensemble's weights and its threshold for asking lingua, fitted on the tuning part of the
# benchmark's eld set (benchmarks/langid_fit.py; docs/detection.md has the figures).
ENSEMBLE_WEIGHTS = {"langdetect": 0.2, "fasttext": 0.3, "lingua": 3.0}
# Below this combined probability of the best language, lingua is asked as well.
LINGUA_BELOW = 0.8
# ... to choose among this many of the languages the other two rank first.
LINGUA_CANDIDATES = 5
# A langdetect probability below this, with none from fastText, rules a language out.
_PLAUSIBLE = 1e-6
# langdetect alone decides paragraphs of at least `_LONG` characters it gives at least `_SURE`,
# unless its answer has a close relative it confuses (it is as sure when wrong on those).
_LONG = 250
_SURE = 1.0 - 1e-9
_CLOSE_LANGS = frozenset(
    [
        "cs",
        "sk",
        "sl",
        "pl",
        "uk",
        "ru",
        "bg",
        "mk",
        "sr",
        "be",
        "kk",
        "sv",
        "no",
        "nn",
        "da",
        "pt",
        "es",
        "gl",
        "ca",
        "hr",
        "bs",
        "id",
        "ms",
        "af",
        "nl",
    ]
)
# fastText alone decides a paragraph of at least `_LONG` characters when its probability for
# its best candidate is at least this, unless that is a language it confuses with a neighbour
# (the detector still adds priors and letter evidence). Refitted on 14,902 paragraphs and long
# sentences of the tuning part, in 37 languages (benchmarks/langid_fit.py --fast-path): the
# answer was never wrong from 0.7 on (the highest wrong one had 0.60). At 0.8 fastText decides
# 11,410 of them alone, at 0.9 (the setting before) 10,218.
FASTTEXT_SURE = 0.8
# (Serbian is not one: it is a candidate only in Cyrillic text, where its letters set it apart.
# Czech is: fastText read a Slovak paragraph as Czech at 0.80.)
_FASTTEXT_CONFUSES = frozenset(["cs", "da", "no", "nn", "hr", "bs", "id", "ms", "sk", "gl"])
# Some of them fastText still decides alone from `CLOSE_PAIR_SURE` on, when a cheap check of
# the neighbour named here agrees: the letters and function words of
# `detect_evidence._latin_evidence` favour Czech over Slovak (or the other way round), Danish
# over Norwegian (or the other way round) by `CLOSE_PAIR_MARGIN`, one cue word's worth; for
# Croatian, which no letters or words there tell from Slovenian, fastText's own odds over
# Slovenian must be `CROATIAN_ODDS` (its Croatian adds up its Bosnian and Serbo-Croatian
# answers, so a Slovenian paragraph reached 0.61 for Croatian, at 2.9 times Slovenian).
# Indonesian and Malay are not checked this way: fastText reads most Malay as Indonesian.
# Fitted with FASTTEXT_SURE: 1,483 of 1,605 texts of the pairs decided this way and 347 of 410
# Croatian ones, none wrongly (with no margin asked, 2 of the pairs' were wrong).
CLOSE_PAIR_SURE = 0.5
CLOSE_PAIR_MARGIN = 1.5
CROATIAN_ODDS = 4.0
_CLOSE_PAIR_NEIGHBOUR = {"cs": "sk", "sk": "cs", "da": "no", "no": "da", "hr": "sl"}
# The combined probabilities are raised to this power before the detector's calibration: an
# average of engines that half agree is flatter than how often its best answer is right.
ENSEMBLE_SHARPNESS = 6.0
# Languages langdetect has no profile for but fastText and lingua know: langdetect's score for
# the closest language it knows stands in, so the other two engines decide between the pair.
# Serbian (which langdetect reads with Macedonian's profile) is a candidate here even without a
# letter of its own, as the other two engines know it.
_ENSEMBLE_PROXIES = {"ms": "id", "sr": "mk"}
_PROXY_PAIRS = {lang: pair for pair in _ENSEMBLE_PROXIES.items() for lang in pair}


def combine(
    p_ld: dict[str, float] | None, p_ft: dict[str, float] | None, p_li: dict[str, float] | None
) -> dict[str, float]:
    """The ensemble's probabilities: the engines' probabilities averaged with `ENSEMBLE_WEIGHTS`.

    A weighted vote, not a product: one engine that is confidently wrong is outvoted by two that
    agree, where a product of probabilities would let it veto. A missing engine has no vote.
    """
    # The languages of the first engine asked (langdetect, or fastText when it went first alone).
    mix = dict.fromkeys(next(probs for probs in (p_ld, p_ft, p_li) if probs is not None), 0.0)
    weight = 0.0
    for name, probs in (("langdetect", p_ld), ("fasttext", p_ft), ("lingua", p_li)):
        total = sum(probs.values()) if probs else 0.0
        if probs is None or total <= 0.0:
            continue
        w = ENSEMBLE_WEIGHTS[name]
        weight += w
        for lang in mix:
            mix[lang] += w * probs.get(lang, 0.0) / total
    return {lang: p / weight for lang, p in mix.items()}


def close_pair_agrees(text: str, best: str, probs: dict[str, float]) -> bool:
    """Whether fastText's `best` answer, a language it confuses with a neighbour, can stand alone.

    True when fastText gives it at least `CLOSE_PAIR_SURE` and the check of
    `_CLOSE_PAIR_NEIGHBOUR` agrees (microseconds, where langdetect and lingua take hundreds);
    False for the other languages of `_FASTTEXT_CONFUSES`.
    """
    neighbour = _CLOSE_PAIR_NEIGHBOUR.get(best)
    if neighbour is None or probs.get(best, 0.0) < CLOSE_PAIR_SURE:
        return False
    if best == "hr":
        return probs[best] >= CROATIAN_ODDS * probs.get(neighbour, 0.0)
    evidence = _latin_evidence(text, (best, neighbour))
    return evidence.get(best, 0.0) - evidence.get(neighbour, 0.0) >= CLOSE_PAIR_MARGIN


def _best(probs: dict[str, float]) -> str:
    return max(probs, key=lambda k: (probs[k], k))


class _EnsembleEngine:
    """langdetect and fastText together, and lingua for the hard cases.

    fastText (about 50 microseconds a paragraph) reads a long paragraph first and decides most
    alone (`FASTTEXT_SURE`, `close_pair_agrees`); langdetect (about 120) is asked otherwise, and
    lingua (a few hundred) only when those two disagree or their combined probability of the
    best language is below `LINGUA_BELOW`, or when fastText is sure the text is one of a pair
    langdetect reads with one profile. lingua is left out if its extra is not installed.
    """

    name = "ensemble"

    def __init__(self, langdetect: _LangdetectEngine, fasttext: _FastTextEngine, lingua: _LinguaEngine | None) -> None:
        self._ld, self._ft, self._li = langdetect, fasttext, lingua
        self.languages = langdetect.languages | (frozenset(_ENSEMBLE_PROXIES) & fasttext.languages)

    @property
    def arbitrates(self) -> bool:
        """Whether lingua is there to arbitrate the hard cases."""
        return self._li is not None

    def parts(
        self, text: str, candidates: Sequence[str], lingua: bool | None = None
    ) -> tuple[dict[str, float] | None, dict[str, float] | None, dict[str, float] | None] | None:
        """Each engine's probabilities over the candidates: langdetect's, fastText's, lingua's.

        An engine not asked has None: langdetect when fastText decided first (or asked lingua
        alone), fastText when langdetect was sure; lingua's are computed when `lingua` is True, or
        when it is None and the case is hard. None when no engine finds anything to score.
        """
        answers = None
        if len(text) >= _LONG:
            # fastText first on long text: it is the cheapest engine and, on a paragraph, as good
            # as the ensemble when it is sure of a language it does not confuse with a neighbour,
            # or of one it does and the close-pair check agrees.
            answers = self._ft.predict(text)
            sure = {lang: p for lang, p in self._ft.probabilities(text, candidates, answers).items() if p > 0.0}
            best = _best(sure) if sure else UND
            if (sure.get(best, 0.0) >= FASTTEXT_SURE and best not in _FASTTEXT_CONFUSES) or close_pair_agrees(
                text, best, sure
            ):
                return None, sure, None
            pair = _PROXY_PAIRS.get(best)
            if pair is not None and self._li is not None and sum(sure.get(lang, 0.0) for lang in pair) >= FASTTEXT_SURE:
                # fastText is sure it is one of a pair that langdetect reads with one profile
                # (Malay and Indonesian, Serbian and Macedonian): its vote could not tell them
                # apart, so lingua is asked without it.
                li = self._li.scores(text, sorted(sure, key=lambda k: (-sure[k], k))[:LINGUA_CANDIDATES])
                return None, sure, ({lang: math.exp(v) for lang, v in li.items()} if li else None)
        ld = self._ld.scores(text, [_ENSEMBLE_PROXIES.get(lang, lang) for lang in candidates])
        if not ld:
            return None
        for lang, proxy in _ENSEMBLE_PROXIES.items():
            if lang in candidates and proxy in ld:
                ld[lang] = ld[proxy]
        # langdetect's candidates (proxies only with their letters) are the ensemble's.
        top = max(ld.values())
        exp = {lang: math.exp(v - top) for lang, v in ld.items()}
        norm = sum(exp.values())
        p_ld = {lang: v / norm for lang, v in exp.items()}
        best = _best(p_ld)
        if len(text) >= _LONG and p_ld[best] >= _SURE and best not in _CLOSE_LANGS:
            # A long paragraph that langdetect is sure of, in a language without a close
            # relative it confuses: the other engines would only agree, at most of the cost.
            return {lang: p for lang, p in p_ld.items() if p >= _PLAUSIBLE}, None, None
        p_ft = self._ft.probabilities(text, list(p_ld), answers)
        # Only languages one of the two finds plausible go on: the others' combined probability
        # is below the floor anyway, and every step after this one costs per language.
        keep = [lang for lang in p_ld if p_ld[lang] >= _PLAUSIBLE or p_ft[lang] > 0.0]
        if len(keep) < len(p_ld):
            p_ld = {lang: p_ld[lang] for lang in keep}
            p_ft = {lang: p_ft[lang] for lang in keep}
        mix = combine(p_ld, p_ft, None)
        if lingua is None:
            lingua = _best(p_ld) != _best(p_ft) or mix[_best(mix)] < LINGUA_BELOW
        p_li = None
        if lingua and self._li is not None:
            # lingua only arbitrates among the languages the other two find plausible.
            li = self._li.scores(text, sorted(mix, key=lambda k: (-mix[k], k))[:LINGUA_CANDIDATES])
            p_li = {lang: math.exp(v) for lang, v in li.items()} if li else None
        return p_ld, p_ft, p_li

    def scores(self, text: str, candidates: Sequence[str], *, arbitrate: bool = True) -> dict[str, float] | None:
        found = self.parts(text, candidates, None if arbitrate else False)
        if found is None:
            return None
        return {lang: ENSEMBLE_SHARPNESS * math.log(p + _FLOOR) for lang, p in combine(*found).items()}


_ENGINE_LOCK = threading.Lock()
_ENGINES: dict[str, Engine] = {}


def _build(name: str) -> Engine:
    if name == "langdetect":
        return _LangdetectEngine()
    if name == "lingua":
        return _LinguaEngine()
    if name == "fasttext":
        return _FastTextEngine()
    ld, ft = _engine("langdetect"), _engine("fasttext")
    assert isinstance(ld, _LangdetectEngine) and isinstance(ft, _FastTextEngine)
    try:
        li = _engine("lingua")
    except UsageError:
        log.info("lingua is not installed: the ensemble detector goes without it")
        li = None
    return _EnsembleEngine(ld, ft, li if isinstance(li, _LinguaEngine) else None)


def _engine(name: str) -> Engine:
    """Build each engine once per process: loading langdetect's 55 profiles takes half a second."""
    name = choice(DetectorName, name, "--detector").value
    with _ENGINE_LOCK:
        found = _ENGINES.get(name)
    if found is None:
        # Built outside the lock: the ensemble builds the engines it combines through this function.
        built = _build(name)
        with _ENGINE_LOCK:
            found = _ENGINES.setdefault(name, built)
        log.debug("language detection engine %s loaded", name)
    return found


def langdetect_raw(text: str, seed: int = 0) -> tuple[str, float]:
    """langdetect's own top answer and probability (seeded), for comparing against in benchmarks.

    Returns (`und`, 0.0) where langdetect finds no features. This is the uncalibrated baseline the
    `Detector` improves on; the pipeline does not use it.
    """
    from langdetect.lang_detect_exception import LangDetectException


    engine = _engine("langdetect")
    assert isinstance(engine, _LangdetectEngine)
    detector = engine.factory.create()
    # The seed is read from the factory when a detector is made; setting it on the detector
    # instead leaves langdetect's global factory alone and makes each call independent.
    detector.seed = seed
    detector.append(text)
    try:
        best = detector.get_probabilities()
    except LangDetectException:
        return UND, 0.0
    return (langcodes.macrolanguage(best[0].lang), float(best[0].prob)) if best else (UND, 0.0)
