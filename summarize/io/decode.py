"""Bytes to text: a byte order mark, then UTF-8, then (whole documents only) what they declare.

Real inputs arrive in legacy encodings (a GB2312 news page, a Windows-1251 export), with byte
order marks, with a stray NUL, or as UTF-8 with a few damaged bytes. The rules, in order:

1. A byte order mark names the encoding outright (UTF-8, UTF-16 or UTF-32, any format).
2. Bytes that decode as UTF-8 are UTF-8, whatever they say about themselves: a JSONL record or
   a text that mentions `charset=iso-8859-1` (or `utf-7`) is still read as the UTF-8 it is.
3. Mostly valid UTF-8 with some broken bytes is damaged UTF-8: the bad bytes become U+FFFD
   (flag `invalid_utf8`), and no legacy codec is tried on it (Kuhn's stress file is UTF-8 with
   hundreds of malformed sequences; read as ISO-8859-2 its valid text would be mojibake).
4. Only a whole document (an `.html`/`.txt`/`.md` file, `document=True`) that is not UTF-8 may
   name its own encoding, with an HTML `<meta charset>` / `http-equiv` content type or an XML
   declaration in its first 4 KiB. A JSONL line or a CSV cell never does.
5. Otherwise charset-normalizer (a well-kept detector, already a dependency of the Hub client)
   picks the encoding, if its guess decodes without error, reads as words (mostly letters) and
   keeps every ASCII byte (a multibyte codec whose second bytes overlap ASCII can swallow the
   backslash of a JSON escape); if not, the bytes are damaged UTF-8 after all.

Whatever was not plain UTF-8 is recorded as a flag `decoded_from:<encoding>`.
"""

from __future__ import annotations

import codecs
import logging
import re
import unicodedata

log = logging.getLogger(__name__)

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)  # fmt: skip
_META = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*\\?["']?\s*([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE,
)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""")
# Labels a browser reads as a superset (WHATWG Encoding Standard): pages labelled gb2312 are
# really GBK, latin-1 pages really Windows-1252, and so on; decoding with the narrow codec
# would turn their extra characters into errors.
_SUPERSETS = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252",
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932",
    "euc-kr": "cp949", "ks_c_5601-1987": "cp949", "big5": "big5hkscs", "iso-8859-9": "cp1254",
    "tis-620": "cp874", "iso-8859-11": "cp874",
}
# Declared labels that are never honoured: UTF-7 turns `+ADw-` into `<`, smuggling markup past
# any check made on the bytes (browsers dropped it for that reason), and the UTF-16/32 labels
# without a BOM name bytes that are not what the ASCII-compatible declaration itself was written in.
_NEVER_DECLARED = {"utf-7", "utf7", "x-utf-7", "utf-16", "utf-16le", "utf-16be", "utf-32", "utf-32le", "utf-32be"}
# Bytes that never occur in text (all C0 controls but tab, newlines, form feed and escape).
_CONTROL = frozenset(set(range(32)) - {9, 10, 12, 13, 27})
# charset-normalizer's "mess" of its best guess above which the guess is not believed.
MAX_CHAOS = 0.05
CHAOS_MARGIN = 0.02
BINARY_SHARE = 0.05  # more control bytes than this in the first 8 KiB: a binary file, not text
# Bytes in clean runs of non-ASCII bytes (runs that are well-formed UTF-8) per byte in broken
# runs, above which bytes are damaged UTF-8. In legacy text nearly every run of non-ASCII bytes
# (a Latin-1 accent, a Cyrillic word, a Chinese clause) is broken as UTF-8, so the share is 0
# to 0.02; Kuhn's stress file has about 0.6, a UTF-8 article with one flipped byte far more.
DAMAGED_SHARE = 0.1
# Share of the non-ASCII characters of a legacy guess that must be letters or marks: legacy
# text is words, while malformed UTF-8 read in a legacy code page is mostly symbols.
LETTER_SHARE = 0.7
# The legacy code pages a guess may name: those news text is really written in. charset-normalizer
# knows many more (Mac, DOS, EBCDIC, HP Roman-8), which mostly win on noise.
LEGACY = (
    "cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258", "cp874",
    "iso8859_2", "iso8859_5", "iso8859_7", "iso8859_15", "koi8_r", "koi8_u",
    "gb18030", "big5hkscs", "cp932", "euc_jp", "cp949", "euc_kr",
)  # fmt: skip
# Multibyte code pages and the narrower repertoire their common characters come from.
_MULTIBYTE = {"gb18030": "gb2312", "big5hkscs": "big5", "cp932": "shift_jis", "euc_jp": "euc_jp",
              "cp949": "euc_kr", "euc_kr": "euc_kr"}
MIN_EVIDENCE = 8  # non-ASCII bytes needed before code pages other than Windows-1252 are told apart
MIN_CHARS = 12  # characters a multibyte code page must yield to be believed (16 stray bytes of Kuhn's file are 8 valid EUC-KR syllables)
_HIGH_RUNS = re.compile(rb"[\x80-\xff]+")


def _codec(label: str) -> str | None:
    name = label.strip().lower()
    if name in _NEVER_DECLARED:
        return None
    name = _SUPERSETS.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def declared_charset(data: bytes) -> str | None:
    """The charset label an HTML `<meta>` tag (or an XML declaration) in the first 4 KiB declares
    (lower case), if Python has a codec for it and it is one a document may declare."""
    head = data[:4096]
    m = _XML_DECL.search(head) or _META.search(head)
    label = m.group(1).decode("ascii").lower() if m else None
    return label if label and _codec(label) else None


def bom_encoding(data: bytes) -> tuple[str, int] | None:
    """(codec, length of the mark) when `data` starts with a byte order mark."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return enc, len(bom)
    return None


def looks_binary(data: bytes) -> bool:
    """True when the head of `data` holds many control bytes (an image, an archive, a PDF)."""
    head = data[:8192]
    if not head or bom_encoding(head):
        return False
    return sum(1 for b in head if b in _CONTROL) / len(head) > BINARY_SHARE


# What `decode(..., mark=True)` puts where damaged UTF-8 had bad bytes, in place of U+FFFD: a lone
# surrogate, which decoding valid UTF-8 never yields, so a CSV reader can tell which of a file's
# records hold damage (and then write U+FFFD) from records holding a U+FFFD the bytes spelled.
DAMAGE = "\udcff"


def _mark_damage(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return DAMAGE, exc.end


codecs.register_error("summarize.damage", _mark_damage)


def decode(data: bytes, where: str, *, document: bool = False, mark: bool = False) -> tuple[str, list[str]]:
    """`data` as text, and flags saying how: `decoded_from:<enc>`, `invalid_utf8`.

    `document=True` for a whole file read as one article (text or HTML): only then may the
    bytes declare their own encoding. A JSONL line or a CSV file's bytes never do. With
    `mark`, damaged UTF-8 has `DAMAGE` where it would have U+FFFD (one for one).
    """
    bom = bom_encoding(data)
    if bom:
        enc, size = bom
        text = data[size:].decode(enc, errors="replace")
        return text, [] if enc == "utf-8" else [f"decoded_from:{enc}"]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    damaged = data.decode("utf-8", errors="summarize.damage" if mark else "replace")
    if _mostly_utf8(data):
        # Well-formed multi-byte sequences among the broken ones: UTF-8 with damage, not a legacy
        # encoding, and no legacy codec is tried on it (not even one the page declares).
        log.warning("%s: invalid UTF-8, decoded with replacement characters", where)
        return damaged, ["invalid_utf8"]
    if document and b"<" in data[:4096]:
        declared = declared_charset(data)
        codec = _codec(declared) if declared else None
        if declared and codec and codec != "utf-8":
            return data.decode(codec, errors="replace"), [f"decoded_from:{declared}"]
    guess = _guess(data)
    if guess is None:
        # A legacy encoding decodes real text cleanly (chaos 0 on news text in GB2312, Shift_JIS,
        # Windows-1251, Latin-1); a stress file of malformed UTF-8 only decodes as noise.
        log.warning("%s: invalid UTF-8 (no other encoding reads it cleanly), decoded with replacement characters", where)
        return damaged, ["invalid_utf8"]
    enc, text = guess
    log.info("%s: not UTF-8, decoded as %s", where, enc)
    return text, [f"decoded_from:{enc}"]


def _mostly_utf8(data: bytes) -> bool:
    """Whether the non-ASCII runs of `data` are mostly well-formed UTF-8 (see DAMAGED_SHARE)."""
    clean = broken = 0
    for m in _HIGH_RUNS.finditer(data):
        run = m.group()
        try:
            run.decode("utf-8")
            clean += len(run)
        except UnicodeDecodeError:
            broken += len(run)
    return clean > 0 and clean >= broken * DAMAGED_SHARE


def _guess(data: bytes) -> tuple[str, str] | None:
    """The legacy encoding charset-normalizer reads `data` in most cleanly, and the text; None
    when no guess is believable (see `_believable`)."""
    from charset_normalizer import from_bytes

    high = sum(1 for b in data if b > 0x7F)
    # Too little evidence to tell code pages apart: only the commonest one, Windows-1252, is tried.
    candidates = list(LEGACY) if high >= MIN_EVIDENCE else ["cp1252"]
    guesses = [m for m in from_bytes(data, cp_isolation=candidates) if m.chaos <= MAX_CHAOS]
    if not guesses:
        return None
    # Among the guesses that read about as cleanly as the cleanest, the most coherent (letter
    # frequencies of a real language) wins: `.best()` alone picks Mac Central European for a short
    # French Latin-1 line, whose accents then come out wrong.
    low = min(m.chaos for m in guesses)
    ranked = sorted((m for m in guesses if m.chaos <= low + CHAOS_MARGIN),
                    key=lambda m: (m.coherence, m.encoding == "cp1252"), reverse=True)
    for best in ranked:
        enc = _codec(best.encoding) or best.encoding
        try:
            text = data.decode(enc)
        except (LookupError, UnicodeDecodeError):
            continue
        if _believable(text, enc):
            return enc, text
    return None


def _believable(text: str, enc: str) -> bool:
    """Legacy text is words: most non-ASCII characters are letters or marks, and a multibyte
    code page must yield at least `MIN_CHARS` characters of its common repertoire (random damaged
    UTF-8 read as Big5 or GB18030 gives a few rare ideographs, and can eat the ASCII byte after one)."""
    high = [ch for ch in text if ord(ch) > 0x7F]
    letters = sum(1 for ch in high if ch.isalpha() or unicodedata.category(ch).startswith("M"))
    if not high or letters < LETTER_SHARE * len(high):
        return False
    common = _MULTIBYTE.get(codecs.lookup(enc).name)
    if common is None:
        return True
    for ch in high:
        # Two bytes each in the narrow standard: its common characters, not halfwidth katakana
        # (one byte in Shift_JIS) or the composed Hangul that Python's EUC-KR spells in eight.
        try:
            if len(ch.encode(common)) != 2 or "\uff61" <= ch <= "\uff9f":
                return False
        except UnicodeEncodeError:
            return False
    return len(high) >= MIN_CHARS
