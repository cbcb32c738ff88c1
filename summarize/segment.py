"""Paragraph and sentence segmentation that keeps offsets into the original text.

Translation runs sentence by sentence so that source and target stay aligned, so every
sentence carries its paragraph, its position and its character span in the original text.
Sentence boundaries come from `sentencex` (a maintained rule-based segmenter written in
Rust, with abbreviation lists for many languages); a thin layer of rules on top fixes the
mistakes of it that matter most for news text (titles such as French "M.", German ordinals,
Japanese and Korean quote particles, Thai and Khmer punctuation). `pysbd` was measured as
well: it is about 100 times slower, knows fewer languages (no he, th, tr) and is not more
accurate overall on news text (it misses boundaries after « » quotes and over-splits Arabic),
so it is not used.

This module must stay light: no model, no Polars, no torch.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sentencex

from .models import langcodes

# Paragraphs are found as everywhere else in the package (reading, detection).
from .text import paragraph_spans as split_paragraphs

__all__ = ["NO_SPACE_LANGS", "Sentence", "reassemble", "segment", "split_long", "split_paragraphs"]

# Languages whose sentences follow each other without a space. Thai, Lao, Khmer and Burmese
# put a space between phrases and sentences but never between words; they are listed here
# because the pipeline joins their translated sentences without one, as agreed for `reassemble`.
NO_SPACE_LANGS: frozenset[str] = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo", "dz", "yue", "wuu"})

# sentencex falls back to English rules for languages it does not know; English rules also
# know every sentence terminator it supports (。！？ ؟ । ။ ...), so they make a good default for
# text whose language is unknown.
_DEFAULT_LIBRARY_LANG = "en"
_UNKNOWN_LANGS = frozenset({"", "und", "mul", "mis", "zxx", "xx"})

# What sentencex is given (see _library_view): multi-byte spaces become ASCII ones of the same
# length in code points, and a Hebrew gershayim written as '"' becomes U+05F4.
_SPACES_TO_ASCII = {
    **{cp: " " for cp in (0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000)},
    **{cp: "\n" for cp in (0x85, 0x2028, 0x2029)},
}
_ODD_SPACE = re.compile("[" + "".join(map(chr, _SPACES_TO_ASCII)) + "]")
_HEBREW_GERSHAYIM = re.compile(r'(?<=[\u05d0-\u05ea])"(?=[\u05d0-\u05ea])')

# Scripts written without spaces between words (CJK, kana, fullwidth forms and CJK
# punctuation, Thai, Lao, Tibetan, Myanmar, Khmer). Used to decide whether a missing space
# between two pieces is normal (Chinese) or a sign that the split is inside a token (German
# "Dipl.-Ing.", Persian "۳.۵").
_NO_SPACE_CHAR = re.compile(
    r"[\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff"
    r"\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff]"
)
_CJK_TERMINATORS = frozenset("。！？｡")

# Thai and Lao have no sentence punctuation: a space between two letters of the script marks
# the end of a phrase or sentence (a space next to a digit or a Latin word does not).
_THAI_LAO_LETTERS = "\u0e01-\u0e4f\u0e81-\u0ecf\u0edc-\u0edf"
_THAI_OR_LAO = re.compile(r"[\u0e00-\u0eff]")
_THAI_SPACE = re.compile(rf"(?<=[{_THAI_LAO_LETTERS}])\s+(?=[{_THAI_LAO_LETTERS}])")
# Phrases are grouped until a group has at least this many code points: a Thai "sentence" of
# two or three words ("the minister said that") translates badly on its own. A following
# phrase shorter than _THAI_SHORT_CHARS (typically "this year", "he said") stays with the group.
_THAI_MIN_CHARS = 50
_THAI_SHORT_CHARS = 15
# Khmer ends sentences with khan (។) and bariyosan (៕), which sentencex does not know.
_KHMER_END = re.compile(r"[\u17d4\u17d5]\s*")

# Spanish, Italian, Portuguese, Catalan and Galician "no." is the word "no", not an
# abbreviation; sentencex treats it as one and misses the boundary in "Dijo que no. Luego...".
_NO_DOT_LANGS = frozenset({"es", "it", "pt", "ca", "gl"})
_NO_DOT = re.compile(r"(?<!\w)[Nn]o\.\s+(?=[¿¡«\"“‘(]*(\w))")

# German writes ordinals with a dot ("im 20. Jahrhundert", "der 1. FC Köln"); sentencex only
# knows the dates with full month names.
_DE_ORDINAL_END = re.compile(r"(?:^|\s)\d{1,3}\.$")

# Abbreviations that sentencex does not know and that are followed by a capitalised name, so
# the library takes them for a sentence end. Case matters ("M." is Monsieur, "m." is metres).
_EXTRA_ABBREVIATIONS: dict[str, frozenset[str]] = {
    "en": frozenset({"Ms.", "Mx."}),
    "de": frozenset({"Dipl.-Ing.", "Dipl.-Kfm.", "Dipl.-Psych.", "Dr.-Ing."}),
    "fr": frozenset({"M.", "MM.", "Mme.", "Mmes.", "Mlle.", "Mlles.", "Mgr.", "Me.", "Pr.", "Dr.", "Ste."}),
    "tr": frozenset({"Doç.", "Av.", "Yrd.", "Uzm.", "Op.", "Öğr.", "Gör.", "Sn."}),
    "hi": frozenset({"डॉ.", "प्रो.", "श्री.", "श्रीमती.", "सुश्री."}),
    "mr": frozenset({"डॉ.", "प्रा.", "श्री."}),
    "ar": frozenset({"د.", "أ.د."}),
}
_ALL_EXTRA_ABBREVIATIONS: frozenset[str] = frozenset().union(*_EXTRA_ABBREVIATIONS.values())

# Japanese quotes end with 」 and continue with a quotative particle: 「止まれ。」と言った。
# The exclusions are sentence-initial words that happen to start with と.
_CLOSERS = frozenset('」』）)〉》】"”’»')
_JA_PARTICLE = re.compile(r"(?:と(?!ころ|にかく|はいえ|りあえず|ても|うとう|もかく|もあれ)|って|など|なんて)")


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of a text, with where it came from.

    `text` is `original[start:end]`, which is already free of surrounding whitespace, so
    `original[start:end].strip() == text` always holds.
    """

    para_index: int  # 0-based paragraph within the text
    seg_index: int  # 0-based sentence position within the whole text
    text: str  # the sentence, stripped of surrounding whitespace
    start: int  # char offset in the original text
    end: int


@functools.lru_cache(maxsize=512)
def _norm_lang(lang: str | None) -> str:
    # "zh-Hant", "pt_BR", "EN", "deu" -> the project code (`langcodes`); unknown -> "".
    if not lang:
        return ""
    code = langcodes.normalise(lang)
    return "" if code in _UNKNOWN_LANGS else code


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    piece = text[start:end]
    stripped = piece.lstrip()
    start += len(piece) - len(stripped)
    return start, start + len(stripped.rstrip())


def _library_view(para: str) -> str:
    """The paragraph as handed to sentencex: same length, same offsets, fewer surprises."""
    if para.isascii():
        return para
    # sentencex 1.0.32 panics on an upper-case letter, a multi-byte space and a dot ("A\u00a0."),
    # and news text is full of no-break spaces; each becomes one ASCII space (or newline).
    view = para.translate(_SPACES_TO_ASCII) if _ODD_SPACE.search(para) else para
    if '"' in view:
        # Hebrew writes gershayim as an ASCII quote (ד"ר, צה"ל); sentencex takes it for an
        # opening quote and then misses every boundary until the next quote.
        view = _HEBREW_GERSHAYIM.sub("\u05f4", view)
    return view


def _library_spans(para: str, code: str) -> list[tuple[int, int]]:
    # sentencex returns pieces that tile the input (whitespace included), so offsets are
    # running sums of lengths; this is about twice as fast as get_sentence_boundaries().
    # Anything unexpected (a lone surrogate, a future change in behaviour) degrades to one
    # sentence per paragraph rather than losing text or failing a whole batch.
    lib_text = _library_view(para)
    try:
        pieces = sentencex.segment(code, lib_text)
    except Exception:
        return [(0, len(para))]
    except BaseException as exc:
        # A Rust panic surfaces as pyo3's PanicException, which derives from BaseException.
        if type(exc).__name__ != "PanicException":
            raise
        return [(0, len(para))]
    if "".join(pieces) != lib_text:
        return [(0, len(para))]
    spans: list[tuple[int, int]] = []
    pos = 0
    for piece in pieces:
        end = pos + len(piece)
        start, stop = _strip_span(para, pos, end)
        if start < stop:
            spans.append((start, stop))
        pos = end
    return spans


def _cut(para: str, start: int, end: int, cuts: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    pos = start
    for cut in [*cuts, end]:
        piece = _strip_span(para, pos, cut)
        if piece[0] < piece[1]:
            out.append(piece)
        pos = cut
    return out


def _thai_spans(para: str, start: int, end: int) -> list[tuple[int, int]]:
    phrases = _cut(para, start, end, [m.end() for m in _THAI_SPACE.finditer(para, start, end)])
    groups: list[tuple[int, int]] = []
    group_start = -1
    for k, (p_start, p_end) in enumerate(phrases):
        if group_start < 0:
            group_start = p_start
        next_is_short = k + 1 < len(phrases) and phrases[k + 1][1] - phrases[k + 1][0] < _THAI_SHORT_CHARS
        if p_end - group_start >= _THAI_MIN_CHARS and not next_is_short:
            groups.append((group_start, p_end))
            group_start = -1
    if group_start >= 0:
        # A short tail belongs to the phrase before it rather than standing alone.
        if groups:
            groups[-1] = (groups[-1][0], phrases[-1][1])
        else:
            groups.append((group_start, phrases[-1][1]))
    return groups


def _extra_splits(para: str, spans: list[tuple[int, int]], lang: str) -> list[tuple[int, int]]:
    # Boundaries sentencex misses. Each regex is searched only when its trigger character is
    # in the paragraph, which keeps the common case (English, German, ...) cheap.
    ascii_only = para.isascii()
    has_thai = not ascii_only and _THAI_OR_LAO.search(para) is not None
    has_khmer = not ascii_only and ("\u17d4" in para or "\u17d5" in para)
    check_no = lang in _NO_DOT_LANGS and "o." in para
    if not (has_thai or has_khmer or check_no):
        return spans
    out: list[tuple[int, int]] = []
    for start, end in spans:
        pieces = [(start, end)]
        if check_no:
            cuts = [m.end() for m in _NO_DOT.finditer(para, start, end) if m.group(1).isupper()]
            pieces = _cut(para, start, end, cuts)
        if has_khmer:
            pieces = [
                q for s, e in pieces for q in _cut(para, s, e, [m.end() for m in _KHMER_END.finditer(para, s, e)])
            ]
        if has_thai:
            pieces = [q for s, e in pieces for q in _thai_spans(para, s, e)]
        out.extend(pieces)
    return out


def _first_alnum(text: str) -> str:
    for ch in text:
        if ch.isalnum():
            return ch
    return ""


def _should_merge(prev: str, gap: str, nxt: str, lang: str) -> bool:
    """Whether the boundary between `prev` and `nxt` is a false sentence break."""
    last = prev[-1]
    first = nxt[0]
    # A piece without any letter ("1.", "2020.", "***") is a list number or debris; it means
    # nothing alone to a translator.
    if not any(ch.isalpha() for ch in prev):
        return True
    # In scripts that use spaces, a real boundary is followed by whitespace. No whitespace means
    # the split is inside a token ("Dipl.-Ing.", Persian "۳.۵") or before a Korean quote
    # particle ('"멈춰."라고 말했다').
    if not gap and not _NO_SPACE_CHAR.match(last) and not _NO_SPACE_CHAR.match(first):
        return True
    # A sentence does not start with a lower-case letter: "т. е. так", "tj. wczoraj".
    if last not in _CJK_TERMINATORS and _first_alnum(nxt).islower():
        return True
    if last == ".":
        token = prev.rsplit(None, 1)[-1]
        # An initial in a non-Latin script ("В. В. Путин"): sentencex knows them under the
        # language's own code, not under the English rules used for unknown languages.
        if len(token) == 2 and not token.isascii() and token[0].isupper():
            return True
        extra = _EXTRA_ABBREVIATIONS.get(lang, frozenset()) if lang else _ALL_EXTRA_ABBREVIATIONS
        if token in extra:
            return True
        if (
            lang == "de"
            and len(prev) > 1
            and prev[-2].isdigit()
            and _DE_ORDINAL_END.search(prev, max(0, len(prev) - 5))
        ):
            return True
    # 「止まれ。」と言った。 is one Japanese sentence.
    return not gap and last in _CLOSERS and _JA_PARTICLE.match(nxt) is not None


def _sentence_spans(para: str, lang: str) -> list[tuple[int, int]]:
    spans = _extra_splits(para, _library_spans(para, lang or _DEFAULT_LIBRARY_LANG), lang)
    if len(spans) < 2:
        return spans
    merged = [spans[0]]
    for start, end in spans[1:]:
        p_start, p_end = merged[-1]
        if p_end == start:
            # A split just before a closing quote ('אמר: "עצור.' + '" ואז', where the gershayim
            # of ד"ר made the library pair the quotes wrongly): the quote ends the sentence.
            k = start
            while k < end and para[k] in _CLOSERS:
                k += 1
            if start < k and (k == end or para[k].isspace()):
                p_end = k
                start = _strip_span(para, k, end)[0]
                merged[-1] = (p_start, p_end)
                if start >= end:
                    continue
        if _should_merge(para[p_start:p_end], para[p_end:start], para[start:end], lang):
            merged[-1] = (p_start, end)
        else:
            merged.append((start, end))
    # A letterless piece at the very end (a trailing "2." or "***") joins the sentence before.
    if len(merged) > 1 and not any(ch.isalpha() for ch in para[merged[-1][0] : merged[-1][1]]):
        merged[-2:] = [(merged[-2][0], merged[-1][1])]
    return merged


def segment(text: str, lang: str | None) -> list[Sentence]:
    """Split `text` into paragraphs, then each paragraph into sentences.

    `lang` is an ISO 639-1 code (region and script subtags such as "zh-Hant" are ignored);
    None or "und" uses English rules, which still know the sentence terminators of other
    scripts. Sentences come in text order with 0-based `seg_index` over the whole text and
    `para_index` over the non-empty paragraphs of `split_paragraphs`; each one's `text` is
    `text[start:end]`, free of surrounding whitespace, and together they cover every
    non-whitespace character of the input exactly once.
    """
    code = _norm_lang(lang)
    out: list[Sentence] = []
    for para_index, (p_start, p_end) in enumerate(split_paragraphs(text)):
        para = text[p_start:p_end]
        for start, end in _sentence_spans(para, code):
            out.append(Sentence(para_index, len(out), para[start:end], p_start + start, p_start + end))
    return out


def _joiner(prev: str, nxt: str, no_space: bool) -> str:
    # Even in Chinese or Japanese output, two pieces of Latin text ("... iPhone 16." and
    # "Apple said ...") still need a space between them.
    if no_space and (_NO_SPACE_CHAR.match(prev[-1]) or _NO_SPACE_CHAR.match(nxt[0])):
        return ""
    return " "


def reassemble(sentences: Sequence[tuple[int, str]], lang: str | None = None) -> str:
    """Join (para_index, sentence) pairs, in order, back into a text.

    Sentences of one paragraph are joined with a single space, or with nothing when `lang`
    (the language the sentences are written in, i.e. the target language of a translation)
    is written without spaces (zh, ja, th, ...; a space is still kept between two pieces of
    Latin-script text there). When `lang` is None the choice is made from the characters on
    each side. Each sentence is stripped, empty ones are skipped, and paragraphs are joined
    with a blank line ("\\n\\n").
    """
    code = _norm_lang(lang)
    no_space = not code or code in NO_SPACE_LANGS
    paragraphs: list[str] = []
    current: list[str] = []
    current_para: int | None = None
    for para_index, raw in sentences:
        if para_index != current_para:
            if current:
                paragraphs.append("".join(current))
            current = []
            current_para = para_index
        piece = raw.strip()
        if not piece:
            continue
        if current:
            current.append(_joiner(current[-1], piece, no_space))
        current.append(piece)
    if current:
        paragraphs.append("".join(current))
    return "\n\n".join(paragraphs)


# split_long: boundaries by preference. ASCII , ; : only count when followed by whitespace so
# that "1,000", "3:1" and URLs are never cut; fullwidth and Arabic marks need no space after.
_LONG_LEVELS: tuple[re.Pattern[str], ...] = (
    re.compile(r"(?:[;؛](?=\s|$)|[；])\s*"),
    re.compile(r"(?::(?=\s|$)|[：])\s*"),
    re.compile(r"(?:,(?=\s|$)|[，、،])\s*"),
    re.compile(r"\s+"),
)


def _grapheme_cuts(text: str, start: int, end: int) -> list[int]:
    # Positions where cutting does not separate a base letter from its combining marks
    # (Thai vowels and tone marks, Devanagari matras, accents) or break an emoji sequence.
    cuts = []
    for i in range(start + 1, end):
        ch = text[i]
        if unicodedata.category(ch) in ("Mn", "Mc", "Me", "Sk") and ch not in "^`¨¯´¸˘˙˚˛˜˝":
            continue
        if ch == "\u200d" or text[i - 1] == "\u200d" or "\ufe00" <= ch <= "\ufe0f":
            continue
        cuts.append(i)
    return cuts


def split_long(text: str, max_units: int, count: Callable[[str], int]) -> list[str]:
    """Split one over-long sentence into pieces with `count(piece) <= max_units` each.

    Boundaries are preferred after ";", then ":", then ",", then at spaces, and only then
    between any two characters (the normal case for Chinese, Japanese and Thai); cuts never
    fall inside "1,000" or "3:1" nor between a letter and its combining marks. Pieces are
    stripped consecutive slices of `text`, so joining them gives back `text` modulo
    whitespace. `count` is called on candidate pieces (for example a tokenizer's length)
    and need not be additive. A single character that alone exceeds `max_units` is
    returned as its own piece, as nothing smaller exists. Whitespace-only text gives [].
    """
    if max_units < 1:
        raise ValueError(f"max_units must be at least 1, not {max_units}")

    def fits(start: int, end: int) -> bool:
        return count(text[start:end].strip()) <= max_units

    def pack(start: int, end: int, level: int) -> list[tuple[int, int]]:
        if fits(start, end):
            return [(start, end)]
        if level < len(_LONG_LEVELS):
            bounds = [m.end() for m in _LONG_LEVELS[level].finditer(text, start, end) if start < m.end() < end]
        else:
            bounds = _grapheme_cuts(text, start, end)
        if not bounds:
            if level < len(_LONG_LEVELS):
                return pack(start, end, level + 1)
            return [(start, end)]  # a single character over the limit: nothing smaller exists
        bounds.append(end)
        out: list[tuple[int, int]] = []
        pos = start
        i = 0  # bounds[i] is the first boundary after pos
        while pos < end:
            if not fits(pos, bounds[i]):
                # Even the next atom is too long: split it at the next weaker level.
                out.extend(pack(pos, bounds[i], level + 1) if level < len(_LONG_LEVELS) else [(pos, bounds[i])])
                pos = bounds[i]
                i += 1
                continue
            # Binary search for the furthest boundary that still fits. Every boundary accepted
            # was tested, so a count() that is not monotonic cannot produce an oversize piece.
            lo, hi = i, len(bounds) - 1
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if fits(pos, bounds[mid]):
                    lo = mid
                else:
                    hi = mid - 1
            out.append((pos, bounds[lo]))
            pos = bounds[lo]
            i = lo + 1
        return out

    start, end = _strip_span(text, 0, len(text))
    if start >= end:
        return []
    pieces = (text[s:e].strip() for s, e in pack(start, end, 0))
    return [p for p in pieces if p]
