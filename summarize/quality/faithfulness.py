"""Faithfulness guard: figures and names in a summary that its source never mentions.

Pure Python, no model. Two checks, each a flag on the article row:

* `unsupported_number`: a figure in the summary (count, amount, percentage, date part) whose value
  appears nowhere in the source. Digits of every script are read as values (Arabic-Indic, Persian,
  Devanagari, Bengali, full-width, ...), and thousands and decimal separators in every common
  convention (1,000 / 1.000 / 1 000 / 1'000 / ١٬٠٠٠; 3.5 / 3,5 / ٣٫٥), so a summary that writes a figure
  the way the source does, or the other way round, is not flagged. A scale word after a figure
  ("3 million", "3 Mio.", "3 млн", "3万") also counts as the full value, so "3 million" matches
  "3,000,000".
* `unsupported_name`: a capitalised word inside a sentence of the summary (a person, place or
  organisation in a script with upper and lower case) that no word of the source starts like.
  Judged only in summaries written mostly in the bicameral scripts (Latin, Cyrillic, Greek,
  Armenian), and not for German or Luxembourgish, which capitalise every noun. An acronym made of
  the initials of capitalised source words ("ECB", "BoE") or of a dotted one ("U.S.") is supported. Scripts without case (Han, Kana, Hangul, Arabic,
  Hebrew, the Indic scripts, Thai, Georgian, ...) give no evidence of what is a name, so their words
  are never judged: a name in those scripts is not checked at all.

Both checks are deliberately lenient, because a false alarm on a faithful summary costs the reader
more trust than a missed one: an ambiguous figure ("1.000") matches either reading, and a name
matches any source word sharing its stem (inflected "Путина" matches "Путин", "Helsingissä" matches
"Helsinki").

Why hand-written: no maintained library compares figures across digit scripts and separator
conventions, and named-entity models would add a heavy model per language to a check that runs on
every article.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

__all__ = ["NAME_SCRIPTS", "NOUN_CAPITALISING_LANGS", "Faithfulness", "check_summary", "name_candidates", "numbers"]

UNSUPPORTED_NUMBER = "unsupported_number"
UNSUPPORTED_NAME = "unsupported_name"

# Scripts whose case marks proper names; the first word of a script's Unicode character name.
NAME_SCRIPTS = frozenset({"LATIN", "CYRILLIC", "GREEK", "ARMENIAN"})
# Languages that capitalise every noun, so case says nothing about names.
NOUN_CAPITALISING_LANGS = frozenset({"de", "lb", "gsw", "nds"})

_NUMBER = re.compile(r"[0-9]+(?:[.,\u00a0\u202f\u2009 '’][0-9]+)*")
_SCALE = re.compile(r"\s?([万萬亿億千兆]|[^\W\d_]+\.?)", re.UNICODE)

# Scale words after a figure, case-folded; several values where languages disagree (a German
# "Billion" is 10^12, an English "billion" 10^9). Any of them may match.
_SCALES: dict[str, tuple[int, ...]] = {}
for _words, _factors in (
    ("thousand thousands tsd tsd. тыс тыс. тысяч тысячи тысяча mil k 千 mille mila tys. tys", (10**3,)),
    ("万 萬", (10**4,)),
    ("lakh lakhs", (10**5,)),
    ("million millions mio mio. mln mln. mn m. millionen millón millones milione milioni milhão milhões "
     "миллион миллиона миллионов млн млн. miljoen miljoner miljonit miljoona milijon milijuna miliony milionů",
     (10**6,)),
    ("crore crores", (10**7,)),
    ("亿 億", (10**8,)),
    ("billion billions bn bn. mrd mrd. milliard milliarde milliarden milliards miliardo miliardi bilhão bilhões "
     "миллиард миллиарда миллиардов млрд млрд. miljard miljardi mld mld.", (10**9, 10**12)),
    ("trillion trillions billionen бн трлн трлн. триллион триллиона триллионов 兆", (10**12,)),
):
    for _w in _words.split():
        _SCALES[_w] = _factors

_SENTENCE_END = frozenset(".!?…。！？:;»«\"“”„()[]")
# Letters of the cased scripts (Latin, Greek, Cyrillic, Armenian): a word is a run of them, so a
# Latin acronym glued to Japanese text ("ICカード") gives "IC", not the whole run of letters.
_CASED = (
    "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff"  # Latin
    "\u0370-\u03ff\u1f00-\u1fff"  # Greek
    "\u0400-\u052f\u1c80-\u1c8f\u2de0-\u2dff\ua640-\ua69f"  # Cyrillic
    "\u0531-\u0587"  # Armenian
)
_WORD = re.compile(rf"[{_CASED}](?:[{_CASED}\u0300-\u036f]|['’\-‐](?=[{_CASED}]))*")


@dataclass(frozen=True)
class Faithfulness:
    """The result of checking one summary against its source.

    Attributes:
        flags: `unsupported_number` and/or `unsupported_name`, in that order; empty when faithful.
        unsupported: the summary's unsupported figures and names as written in it, first occurrence
            first, without duplicates (for a `list<string>` column).
    """

    flags: tuple[str, ...] = ()
    unsupported: tuple[str, ...] = ()


def _ascii_digits(text: str) -> str:
    """Full-width forms folded (NFKC) and every decimal digit of any script as 0-9."""
    text = unicodedata.normalize("NFKC", text)
    # Arabic decimal and thousands separators have one meaning each; map them to what the parser reads.
    text = text.replace("\u066b", ".").replace("\u066c", "\u202f")
    out = []
    for ch in text:
        if not ch.isascii() and unicodedata.category(ch) == "Nd":
            out.append(str(unicodedata.decimal(ch)))
        else:
            out.append(ch)
    return "".join(out)


def _dec(digits: str) -> Decimal | None:
    try:
        return Decimal(digits)
    except InvalidOperation:
        return None


def _values(token: str) -> set[Decimal] | None:
    """Every value a written figure can mean (one, or two for '1.000'); None when it is not one number."""
    groups = re.split(r"[.,\u00a0\u202f\u2009 '’]", token)
    seps = re.findall(r"[.,\u00a0\u202f\u2009 '’]", token)
    if not seps:
        return {Decimal(token)}
    out: set[Decimal] = set()
    # Thousands grouping, optionally followed by one decimal part with another separator:
    # 1,234,567 / 1.234.567,89 / 1 234,5 / 1'000.25.
    last_sep_decimal = len(seps) >= 2 and seps[-1] in ".," and seps[-1] != seps[0]
    grouping = seps[:-1] if last_sep_decimal else seps
    int_groups = groups[: len(grouping) + 1]
    if (
        len(set(grouping)) == 1
        and 1 <= len(int_groups[0]) <= 3
        and all(len(g) == 3 for g in int_groups[1:])
    ):
        whole = "".join(int_groups)
        value = _dec(f"{whole}.{groups[-1]}" if last_sep_decimal else whole)
        if value is not None:
            out.add(value)
    # A single '.' or ',' may also be a decimal mark: "1.000" is 1000 or 1.0, "3,5" is 3.5.
    if len(seps) == 1 and seps[0] in ".,":
        value = _dec(f"{groups[0]}.{groups[1]}")
        if value is not None:
            out.add(value)
    return out or None


def _scaled(values: set[Decimal], following: str) -> set[Decimal]:
    m = _SCALE.match(following)
    if not m:
        return set()
    word = m.group(1).casefold()
    factors = _SCALES.get(word) or _SCALES.get(word.rstrip("."))
    if not factors:
        return set()
    return {v * f for v in values for f in factors}


def numbers(text: str) -> list[tuple[str, set[Decimal]]]:
    """The figures written in `text`: each as written (digits folded to 0-9) and the values it can mean."""
    norm = _ascii_digits(text)
    found: list[tuple[str, set[Decimal]]] = []
    for m in _NUMBER.finditer(norm):
        token = m.group(0)
        values = _values(token)
        if values is None:
            # Not one number (a date such as 14.10.2026, figures side by side): every part must be
            # supported on its own.
            parts = re.split(r"([.,\u00a0\u202f\u2009 '’])", token)
            pos = m.start()
            for part in parts:
                if part.isdigit():
                    found.append((part, {Decimal(part)} | _scaled({Decimal(part)}, norm[pos + len(part):])))
                pos += len(part)
            continue
        found.append((token, values | _scaled(values, norm[m.end():])))
    return found


def _script(ch: str) -> str:
    try:
        return unicodedata.name(ch).split(" ", 1)[0]
    except ValueError:
        return ""


def _fold(word: str) -> str:
    """Case, accents and the Turkish dotted capital folded away, for comparing words."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _sentence_initial(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and (text[i].isspace() or text[i] in "-–—•*"):
        if text[i] == "\n":
            return True
        i -= 1
    return i < 0 or text[i] in _SENTENCE_END


def _mostly_cased(text: str) -> bool:
    """Whether most letters of `text` are in a script with case."""
    cased = sum(len(w) for w in _WORD.findall(text))
    letters = sum(1 for ch in text if ch.isalpha())
    return cased * 2 > letters


def _acronyms(text: str) -> set[str]:
    """Initials of runs of capitalised words ("Gross Domestic Product", "Bank of England"), folded."""
    out: set[str] = set()
    run: list[str] = []
    for w in [*text.split(), ""]:
        word = w.strip("\"'“”«»„()[],.;:!?")
        if word[:1].isupper():
            run.append(word[0])
            continue
        if word and len(word) <= 3 and run:
            continue  # "of", "for", "de", "la" inside a name
        for i in range(len(run)):
            for j in range(i + 2, len(run) + 1):
                out.add(_fold("".join(run[i:j])))
        run = []
    return out


def _initials(word: str) -> str:
    """An acronym's capitals, folded ("BoE" -> "be"); empty for a word with fewer than two capitals."""
    caps = "".join(ch for ch in word if ch.isupper())
    return _fold(caps) if len(caps) >= 2 else ""


def name_candidates(summary: str, lang: str | None = None) -> list[str]:
    """Capitalised words inside sentences of `summary`, in scripts whose case marks names.

    Sentence-initial words are skipped (their capital says nothing), as are one-letter words and
    every word when `lang` capitalises all nouns (German). Words are split at apostrophes and
    hyphens ("l'Élysée" gives "Élysée", "Ankara'da" gives "Ankara").
    """
    if lang and lang.split("-")[0].lower() in NOUN_CAPITALISING_LANGS:
        return []
    if not _mostly_cased(summary):
        # A Latin acronym inside Chinese or Arabic text (GDP, NATO) is usually a translation of a
        # term the source spells out in its own script: nothing to compare it with.
        return []
    out: list[str] = []
    for m in _WORD.finditer(summary):
        if _sentence_initial(summary, m.start()):
            continue
        for part in re.split(r"['’\-‐]", m.group(0)):
            if len(part) < 2 or not part[0].isupper() or _script(part[0]) not in NAME_SCRIPTS:
                continue
            out.append(part)
    return out


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _stem_match(word: str, source_words: Iterable[str]) -> bool:
    """Same word, or the same stem: a shared prefix of 4+ letters that leaves at most 3 letters of either."""
    for s in source_words:
        if s == word:
            return True
        cp = _common_prefix(word, s)
        if cp >= 4 and cp >= min(len(word), len(s)) - 3:
            return True
    return False


def check_summary(summary: str | None, source: str, lang: str | None = None) -> Faithfulness:
    """Check one summary against its source (title and text): the flags and the unsupported items.

    `lang` is the summary's ISO 639-1 language; it only switches the name check off for languages
    that capitalise every noun. An empty or missing summary is faithful by definition.
    """
    if not summary or not summary.strip():
        return Faithfulness()
    unsupported: list[str] = []
    flags: list[str] = []

    source_values: set[Decimal] = set()
    for _, values in numbers(source):
        source_values |= values
    for token, values in numbers(summary):
        if not values & source_values and token not in unsupported:
            unsupported.append(token)
    if unsupported:
        flags.append(UNSUPPORTED_NUMBER)

    candidates = name_candidates(summary, lang)
    if candidates:
        # Dotted abbreviations count undotted too ("U.S." supports "US").
        undotted = re.sub(r"(?<=\b\w)\.(?=\w\b)|(?<=\b\w\.\w)\.", "", source)
        source_words = {_fold(p) for text in (source, undotted) for w in _WORD.findall(text) for p in re.split(r"['’\-‐]", w) if p}
        acronyms = _acronyms(source)
        missing_names = [
            c for c in candidates
            if not _stem_match(_fold(c), source_words) and _initials(c) not in acronyms
        ]
        for name in missing_names:
            if name not in unsupported:
                unsupported.append(name)
        if missing_names:
            flags.append(UNSUPPORTED_NAME)
    return Faithfulness(tuple(flags), tuple(unsupported))
