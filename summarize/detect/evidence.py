"""The evidence language detection weighs besides the engines: scripts, letters, cue words, priors.

Text cleaning for detection (URLs, e-mail addresses, handles and numbers out), the script of each
character and what it decides (Kana is Japanese, Hangul Korean, Hebrew without Yiddish marks
Hebrew), the letters and words a language does or does not use, and the calibration constants
(`CONFIDENT`, the length ceiling). `detect.Detector` combines them with an engine's scores.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from ..text import looks_like_html, remove_invisible, strip_html
from .engines import CharTable
from .pairs import ID_CUES, MS_CUES

UND = "und"

# Why a detection is `und`.
EMPTY = "empty"
NO_LETTERS = "no_letters"
TOO_SHORT = "too_short"
AMBIGUOUS = "ambiguous"

# A detection at least this sure counts as confident: a paragraph may then stand apart from the
# article's language, and `verify` may overrule a given language.
CONFIDENT = 0.9
# Short texts are capped, whatever the model says: by letters (the ceiling is 1 - exp(-letters /
# LENGTH_SCALE)) and by words (1 - WORD_DOUBT ** words), so two words never reach 0.9: raw
# langdetect is wrong on about one two-word text in four. The scale was refitted on the tuning
# part's two-word texts (benchmarks/langid_fit.py): 3 answers more of them right than 5 did, none
# confidently wrong, and leaves sentences as they were.
LENGTH_SCALE = 3.0
WORD_DOUBT = 0.35
_WORDS_ENOUGH = 20  # 1 - 0.35**20 is 1 to eight decimals
# Log-odds against a language for each letter its alphabet does not have.
FOREIGN_LETTER_PENALTY = 6.0
ARTICLE_BIAS = 3.0  # log-odds for the article's language when judging one of its paragraphs
# langdetect gives up after 10,000 characters; a few hundred per paragraph is plenty here.
MAX_PARAGRAPH_CHARS = 400
MAX_SEGMENTS = 64
# Ideographs and syllable blocks carry more than one alphabetic letter's worth of evidence.
DENSE_SCRIPT_WEIGHT = 3


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Scripts used by one language only (or one in practice): the script decides.
_SCRIPT_LANG = {
    "greek": "el", "armenian": "hy", "georgian": "ka", "thai": "th", "lao": "lo", "khmer": "km",
    "myanmar": "my", "sinhala": "si", "ethiopic": "am", "tibetan": "bo", "bengali": "bn",
    "gurmukhi": "pa", "gujarati": "gu", "oriya": "or", "tamil": "ta", "telugu": "te",
    "kannada": "kn", "malayalam": "ml", "hangul": "ko",
}  # fmt: skip

# Scripts shared by several languages: the engine chooses among these.
_GROUPS: dict[str, tuple[str, ...]] = {
    "latin": (
        "af", "az", "bs", "ca", "cs", "cy", "da", "de", "en", "eo", "es", "et", "eu", "fi", "fr", "ga",
        "hr", "hu", "id", "is", "it", "la", "lg", "lt", "lv", "mi", "ms", "nl", "nn", "no", "pl", "pt",
        "ro", "sk", "sl", "sn", "so", "sq", "st", "sv", "sw", "tl", "tn", "tr", "ts", "vi", "xh", "yo",
        "zu",
    ),
    "cyrillic": ("ru", "uk", "bg", "sr", "mk", "be", "kk", "mn"),
    "arabic": ("ar", "fa", "ur", "ps"),
    "devanagari": ("hi", "mr", "ne"),
}  # fmt: skip

# What each language writes with, for `verify`: a given language in another script than the text's
# is a disagreement the detector can see even for languages it does not know.
_LANG_SCRIPT = {lang: group for group, langs in _GROUPS.items() for lang in langs}
_LANG_SCRIPT.update({lang: script for script, lang in _SCRIPT_LANG.items()})
_LANG_SCRIPT.update({"ja": "cjk", "zh": "cjk", "he": "hebrew", "yi": "hebrew"})
# Languages no engine here detects, by the script they are written in.
_LANG_SCRIPT.update(
    dict.fromkeys(_words("ceb fo fy gd gl ha haw ht ig jv lb mg mt ny oc om qu rw sm su tk uz"), "latin")
)
_LANG_SCRIPT.update(dict.fromkeys(_words("ba ce cv ky os tg tt"), "cyrillic"))
_LANG_SCRIPT.update(dict.fromkeys(_words("ckb ks sd ug"), "arabic"))
_LANG_SCRIPT.update(dict.fromkeys(_words("bho kok mai new sa"), "devanagari"))

# Relative priors inside a script group: what a short, undecided text most likely is, after how
# much news and web text each language has. A sentence outweighs any of them; on two words they
# keep "Hola" from being Turkish and Russian greetings from being Macedonian.
_PRIORS = {
    "ru": 1.0, "uk": 0.3, "bg": 0.1, "sr": 0.1, "mk": 0.03, "be": 0.03, "kk": 0.03, "mn": 0.02,
    "ar": 1.0, "fa": 0.5, "ur": 0.3, "ps": 0.05,
    "hi": 1.0, "mr": 0.3, "ne": 0.2,
}  # fmt: skip
_MAJOR_LATIN = _words("en de es fr it nl pt pl vi tr id cs sv hu ro")
_MIDDLE_LATIN = _words("da fi sk no nn ca hr lt sl et lv sq ms az eu is bs ga")

# Lower-case alphabets where letters tell close languages apart (Cyrillic and Arabic scripts).
_RU = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
_ALPHABETS = {
    "ru": _RU,
    "uk": "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя",
    "bg": "абвгдежзийклмнопрстуфхцчшщъьюяѝ",
    "mk": "абвгдѓежзѕијклљмнњопрстќуфхцчџшѐѝ",
    "sr": "абвгдђежзијклљмнњопрстћуфхцчџш",
    "be": "абвгдеёжзійклмнопрстуўфхцчшыьэюяґ",
    "kk": _RU + "әғқңөұүһі",
    "mn": _RU + "өү",
    "ar": "ءآأؤإئابةتثجحخدذرزسشصضطظعغفقكلمنهوىيٱ",
    # Persian typed on Arabic keyboards has Arabic kaf and yeh, and alef maksura for final yeh.
    "fa": "ءآأؤئابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهیۀيكةى",
    "ur": "ءآأؤئابپتٹثجچحخدڈذرڑزژسشصضطظعغفقکگلمنںوہھیےۃۂۓهيكة",
    "ps": "ءآأؤئابپتټثجځچڅحخدډذرړزږژسشښصضطظعغفقکګگلمنڼوهۀیېۍيكة",
}
_ALPHABET_SETS = {lang: frozenset(letters) for lang, letters in _ALPHABETS.items()}
# Letters each language uses often and its neighbours never: a text long enough to show them but
# without any is evidence against the language (each letter is missing with odds 1 - frequency).
_MARKERS = {
    "ru": ("ыэ", 0.02), "uk": ("іїєґ", 0.065), "be": ("іў", 0.07), "bg": ("ъ", 0.025),
    "mk": ("јќѓѕљњџ", 0.035), "sr": ("јћђљњџ", 0.035), "kk": ("әғқңөұүһі", 0.08),
    "ar": ("ةىإيك", 0.08), "fa": ("پچژگکی", 0.06), "ur": ("ٹڈڑںےہھۓ", 0.08), "ps": ("ټډړږښګڼېۍځڅ", 0.06),
}  # fmt: skip
# Function words that tell close languages apart where letters do not: Russian from Ukrainian and
# Bulgarian, Serbian from Macedonian, Yiddish from Hebrew.
_CUES = {
    "ru": _words(
        "что это уже ещё еще был была было были который которая которые сейчас спасибо пожалуйста"
        " мы вы она они когда чтобы"
    ),
    "uk": _words(
        "що це вже але буде був була було були який яка яке дякую ласка щоб цей ця коли треба можна"
        " також зараз вони вона ми ви"
    ),
    "bg": _words("че това който която които беше са във със вече тя той ние вие моля благодаря какво"),
    "sr": _words("је су није који која које још већ"),
    "mk": _words("во ќе кој уште беше биле со"),
    "yi": _words("און איז דער ניט נישט זיך מיט אויף ווי פֿון"),
}
_CUE_WEIGHT = 1.5
# Latin-script close pairs: letters one language of the pair writes and the other never does
# (counted against the other), and function words of one only. Czech ě ř ů / Slovak ä ô ľ ĺ ŕ,
# Swedish ä ö / Danish and Norwegian æ ø, Portuguese ã õ ç â ê ô à / Spanish ñ. A name in the
# other spelling (São Paulo in a Spanish text) costs less than a sentence of evidence.
_LATIN_FOREIGN = {
    "sk": "ěřů", "cs": "äôľĺŕ", "sv": "æø", "no": "äö", "da": "äö", "es": "ãõçâêôà", "pt": "ñ",
}  # fmt: skip
LATIN_LETTER_PENALTY = 3.0
_WORD = re.compile(r"\w+")
# A word with a letter, from its first letter (vowel signs count with the letter they follow) to its end.
_LETTER_WORD = re.compile(r"[^\W\d_]\S*")
_LATIN_CUES = {
    "cs": _words("se jsou jsem jsme nebo který která které byl byla bylo pro jen také jako když již ještě"),
    "sk": _words("sa sú som sme alebo ktorý ktorá ktoré bol bola bolo pre len tiež ako keď už ešte aj nie"),
    "no": _words("av hva noen meg deg seg etter mye kanskje ikkje eg dei ei berre"),
    "da": _words("af hvad nogen nogle mig dig sig efter meget måske"),
    "ms": MS_CUES,  # words of one standard only; between the two, `pairs.decide_id_ms` weighs them
    "id": ID_CUES,
}
# Script groups where alphabets, markers or cue words apply.
_LETTER_GROUPS = frozenset({"cyrillic", "arabic"})
_YIDDISH_MARKS = re.compile("[\u05f0-\u05f2\ufb1f\ufb2e\ufb2f]|\u05d0[\u05b7\u05b8]")


_URL = re.compile(r"(?i)\b(?:https?://|ftp://|www\.)\S+")
_TLD = re.compile(r"(?i)\.(?:com|org|net|edu|gov|int|info|io|co|news|uk|de|fr|ru|cn|jp)\b")
_DIGIT = re.compile(r"\d")
_DOMAIN = re.compile(
    r"(?i)(?<![\w.-])(?:[a-z0-9-]{1,63}\.){1,6}(?:com|org|net|edu|gov|int|info|io|co|news|uk|de|fr|ru|cn|jp)(?:/\S*)?(?!\w)"
)
# Each pattern may start only where a token starts, so a long run of letters is scanned once
# (a pattern free to start anywhere in it would take quadratic time).
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_HANDLE = re.compile(r"(?<![\w@#])[@#][\w.]*\w")
# Scripts written without spaces: a number inside them ends at the first letter, or the whole
# run of text around it would be taken for one token and dropped (英国はリオ五輪で金メダルを27個獲得).
_UNSPACED = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f"
# A token with a digit: 2024, 3rd, G7, COVID19.
_NUMBER = re.compile(rf"(?<![^\W{_UNSPACED}])[^\W{_UNSPACED}]*\d[^\W{_UNSPACED}]*")


def _drop_numbers(text: str) -> str:
    """`_NUMBER.sub(" ", text)` on the space-separated words that hold a digit only (a token never
    spans a space): on a whole paragraph the pattern, whose look-behind leaves the regex engine no
    character to skip ahead to, cost as much as the rest of the cleaning."""
    pieces: list[str] = []
    done = 0
    for digit in _DIGIT.finditer(text):
        if digit.start() < done:
            continue  # in a word already cleaned
        start = text.rfind(" ", 0, digit.start()) + 1
        end = text.find(" ", digit.start())
        end = len(text) if end < 0 else end
        pieces += (text[done:start], _NUMBER.sub(" ", text[start:end]))
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def _strip(text: str) -> str:
    """Remove what is not prose in the text's language: markup, URLs, e-mails, handles, numbers."""
    if looks_like_html(text):
        # Entities are decoded (`&eacute;` is a letter of the text); scripts and styles dropped.
        text = strip_html(text)
    # URLs first (they may hold an @), then e-mail addresses, then bare domains (left in e-mails).
    # Each pattern runs only where its telltale character is present: most paragraphs have no
    # URL, address or handle, and a scan for a plain character is much cheaper than a pattern.
    if "//" in text or "ww." in text or "WW." in text:
        text = _URL.sub(" ", text)
    if "@" in text:
        text = _EMAIL.sub(" ", text)
    if "." in text and _TLD.search(text):
        text = _DOMAIN.sub(" ", text)
    if "@" in text or "#" in text:
        text = _HANDLE.sub(" ", text)
    if _DIGIT.search(text):
        text = _drop_numbers(text)
    if not text.isprintable() or "\u0640" in text:
        # A tatweel only stretches a word; spaces keep words apart where invisibles stood.
        text = remove_invisible(text, " ")[0].replace("\u0640", " ")
    return text


_RANGES = (
    ("latin", ((0x41, 0x24F), (0x250, 0x2AF), (0x1E00, 0x1EFF), (0x2C60, 0x2C7F), (0xA720, 0xA7FF), (0xFF21, 0xFF5A))),
    ("greek", ((0x370, 0x3FF), (0x1F00, 0x1FFF))),
    ("cyrillic", ((0x400, 0x52F), (0x1C80, 0x1C8F), (0x2DE0, 0x2DFF), (0xA640, 0xA69F))),
    ("armenian", ((0x530, 0x58F), (0xFB13, 0xFB17))),
    ("hebrew", ((0x590, 0x5FF), (0xFB1D, 0xFB4F))),
    ("arabic", ((0x600, 0x6FF), (0x750, 0x77F), (0x8A0, 0x8FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))),
    ("devanagari", ((0x900, 0x97F), (0xA8E0, 0xA8FF))),
    ("bengali", ((0x980, 0x9FF),)), ("gurmukhi", ((0xA00, 0xA7F),)), ("gujarati", ((0xA80, 0xAFF),)),
    ("oriya", ((0xB00, 0xB7F),)), ("tamil", ((0xB80, 0xBFF),)), ("telugu", ((0xC00, 0xC7F),)),
    ("kannada", ((0xC80, 0xCFF),)), ("malayalam", ((0xD00, 0xD7F),)), ("sinhala", ((0xD80, 0xDFF),)),
    ("thai", ((0xE00, 0xE7F),)), ("lao", ((0xE80, 0xEFF),)), ("tibetan", ((0xF00, 0xFFF),)),
    ("myanmar", ((0x1000, 0x109F),)), ("georgian", ((0x10A0, 0x10FF), (0x1C90, 0x1CBF), (0x2D00, 0x2D2F))),
    ("hangul", ((0x1100, 0x11FF), (0x3130, 0x318F), (0xA960, 0xA97F), (0xAC00, 0xD7FF))),
    ("ethiopic", ((0x1200, 0x139F),)), ("khmer", ((0x1780, 0x17FF),)),
    ("kana", ((0x3040, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9F))),
    ("han", ((0x3005, 0x3007), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3FFFF))),
)  # fmt: skip
_TAGS = {name: chr(0x41 + i) for i, (name, _) in enumerate(_RANGES)}
_TAG_NAMES = {tag: name for name, tag in _TAGS.items()}
_OTHER_TAG = "~"
_BOUNDS = sorted((lo, hi, _TAGS[name]) for name, ranges in _RANGES for lo, hi in ranges)
_DENSE = frozenset({"han", "kana", "hangul"})


def _script_tag(ch: str) -> str | None:
    """The script of a letter; vowel signs of Brahmic, Thai and Arabic writing count as letters."""
    category = unicodedata.category(ch)[0]
    if category not in "LM":
        return None
    cp = ord(ch)
    at = bisect.bisect_right(_BOUNDS, (cp, 1 << 30)) - 1  # the last range starting at or before cp
    if at >= 0 and cp <= _BOUNDS[at][1]:
        return _BOUNDS[at][2]
    return _OTHER_TAG if category == "L" else None


_SCRIPT_TABLE = CharTable(_script_tag)
# Per script group: letters of other scripts become spaces, everything else stays.
_KEEP_TABLES = {
    group: CharTable(lambda ch, tag=_TAGS[group]: ch if _SCRIPT_TABLE[ord(ch)] in (tag, None) else " ")
    for group in ("latin", "cyrillic", "arabic", "devanagari")
}


@dataclass(frozen=True, slots=True)
class _Scripts:
    """Letters of a text by script, and the script that has most of them."""

    counts: dict[str, int]
    letters: int
    main: str | None
    chars: set[str]  # the distinct characters of the text

    @classmethod
    def of(cls, text: str) -> _Scripts:
        chars = set(text)
        counts = {_TAG_NAMES.get(tag, "other"): n for tag, n in _SCRIPT_TABLE.counts(text, chars).items()}
        weighted = {s: n * (DENSE_SCRIPT_WEIGHT if s in _DENSE else 1) for s, n in counts.items()}
        cjk = sum(weighted.get(s, 0) for s in _DENSE)
        if cjk:
            weighted = {s: n for s, n in weighted.items() if s not in _DENSE} | {"cjk": cjk}
        main = max(weighted, key=lambda s: (weighted[s], s)) if weighted else None
        return cls(counts, sum(counts.values()), main, chars)

    def weight(self) -> int:
        """Letters, with ideographs and syllables counted as several."""
        return sum(n * (DENSE_SCRIPT_WEIGHT if s in _DENSE else 1) for s, n in self.counts.items())


def _han_kind(ch: str) -> str | None:
    """Which writing system a Han character belongs to, by the legacy character sets that hold it.

    Simplified Chinese forms are in GB 2312 and not in Big5 or JIS (们, 这); Japanese shinjitai
    are in JIS only (気, 変, 関); traditional forms are in Big5 and not GB 2312 (風, 機).
    """

    def has(codec: str) -> bool:
        try:
            ch.encode(codec)
        except UnicodeEncodeError:
            return False
        return True

    gb, big5, jis = has("gb2312"), has("big5"), has("shift_jis")
    if gb and not big5 and not jis:
        return "s"
    if jis and not gb and not big5:
        return "j"
    if big5 and not gb:
        return "t"
    return None


_HAN_TABLE = CharTable(lambda ch: _han_kind(ch) if _script_tag(ch) == _TAGS["han"] else None)


def _decide_cjk(text: str, scripts: _Scripts) -> tuple[str, float]:
    """Kana makes Japanese, Hangul Korean, and Han alone Chinese, unless its forms say otherwise.

    Japanese sentences always have kana, but headline fragments can be kanji only (気候変動):
    Japanese-only character forms then decide, and a short text of forms shared with Japanese
    gets a modest score.
    """
    han = scripts.counts.get("han", 0)
    kana = scripts.counts.get("kana", 0)
    hangul = scripts.counts.get("hangul", 0)
    if hangul >= kana and hangul * 3 >= han:
        return "ko", 0.99
    if kana and kana * 20 >= han + kana:
        return "ja", 0.99
    kinds = Counter(_HAN_TABLE.counts(text))
    if kinds["j"] > kinds["s"] and kinds["j"] * 5 >= kinds["t"]:
        return "ja", 0.9 if kinds["j"] >= 2 else 0.8
    if kinds["s"]:
        return "zh", 0.99 if han >= 8 else 0.97
    if kinds["t"]:
        # Traditional forms: Taiwan or Hong Kong Chinese, or kanji-only Japanese when short.
        return "zh", 0.95 if han >= 8 else 0.7
    return "zh", 0.97 if han >= 8 else 0.8


def _decide_hebrew(text: str) -> tuple[str, float]:
    """Yiddish writes Hebrew letters with its own ligatures, pointed alefs and function words."""
    if _YIDDISH_MARKS.search(text):
        return "yi", 0.97
    cues = sum(1 for word in text.split() if word in _CUES["yi"])
    if cues >= 2:
        return "yi", 0.9
    return "he", 0.97 if cues == 0 else 0.9


@dataclass(frozen=True, slots=True)
class _Evidence:
    """What one piece of text says about its language.

    Attributes:
        letters: Letters in the whole piece (the mix is shared out by letters).
        weight: Letters of the main script, ideographs counted as several (for the length ceiling).
        words: Words of the main script (for the length ceiling).
        script: Script group (`latin`, `cyrillic`, ...) or the script that decided.
        decided: The language the script alone decides, with its confidence.
        logits: Log-evidence per candidate (engine score + prior + letters + cues), if any.
    """

    letters: int
    weight: int
    words: int
    script: str | None
    decided: tuple[str, float] | None = None
    logits: dict[str, float] | None = None


def _prior(lang: str) -> float:
    if lang in _PRIORS:
        return _PRIORS[lang]
    return 1.0 if lang in _MAJOR_LATIN else 0.5 if lang in _MIDDLE_LATIN else 0.2


def _letter_evidence(text: str, candidates: Iterable[str], chars: set[str] | None = None) -> dict[str, float]:
    """Penalties for letters a language does not use, and bonuses for its telltale words. `chars`:
    the text's distinct characters where known, without a Σ (whose lower case depends on context)."""
    lowered = text.lower()
    distinct = set(lowered) if chars is None else {low for ch in chars for low in ch.lower()}
    present = {ch for ch in distinct if ch.isalpha()}
    # Letters are what the other characters (a few kinds) leave; foreign ones are counted once each.
    letters = len(lowered) - sum(map(lowered.count, distinct - present))
    counts: dict[str, int] = {}
    # Each word once, with how often it occurs: the cue lists are looked up in it.
    words = Counter(map(str.strip, lowered.split(), itertools.repeat(".,;:!?\"'«»()")))
    out = {}
    for lang in candidates:
        value = 0.0
        alphabet = _ALPHABET_SETS.get(lang)
        if alphabet is not None:
            # Each distinct foreign letter counts, with diminishing weight for repeats: a quoted
            # name should not outweigh a long text, a letter on every line should. (Sorted: a
            # sum of floats in a set's order could differ in its last digit from run to run.)
            foreign = [counts.get(ch) or counts.setdefault(ch, lowered.count(ch)) for ch in sorted(present - alphabet)]
            value -= FOREIGN_LETTER_PENALTY * sum(1 + math.log(n) for n in foreign)
        markers = _MARKERS.get(lang)
        if markers is not None and present.isdisjoint(markers[0]):
            value += math.log1p(-markers[1]) * letters
        cues = _CUES.get(lang)
        if cues is not None:
            value += _CUE_WEIGHT * sum(words[w] for w in cues & words.keys())
        out[lang] = value
    return out


def _latin_evidence(text: str, candidates: Iterable[str]) -> dict[str, float]:
    """Letter and word evidence between Latin-script close pairs (see `_LATIN_FOREIGN`)."""
    candidates = [lang for lang in candidates if lang in _LATIN_FOREIGN or lang in _LATIN_CUES]
    if not candidates:
        return {}
    lowered = text.lower()
    words: set[str] | None = None
    out = {}
    for lang in candidates:
        foreign = _LATIN_FOREIGN.get(lang)
        cues = _LATIN_CUES.get(lang)
        value = 0.0
        if foreign is not None:
            value -= LATIN_LETTER_PENALTY * sum(1 + math.log(n) for n in map(lowered.count, foreign) if n)
        if cues is not None:
            if words is None:
                words = set(_WORD.findall(lowered))
            value += _CUE_WEIGHT * len(cues & words)
        out[lang] = value
    return out


def _softmax(logits: dict[str, float]) -> dict[str, float]:
    top = max(logits.values())
    exp = {lang: math.exp(v - top) for lang, v in logits.items()}
    total = sum(exp.values())
    return {lang: v / total for lang, v in exp.items()}


def _length_ceiling(letters: int, words: int) -> float:
    """The most a text of this many letters and words can be trusted, whatever the model says."""
    return min(1.0 - math.exp(-letters / LENGTH_SCALE), 1.0 - WORD_DOUBT**words)
