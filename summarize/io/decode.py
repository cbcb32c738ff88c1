"""Bytes to text: UTF-8 first, then what the bytes declare, then a detection library.

Real inputs arrive in legacy encodings (a GB2312 news page, a Windows-1251 export), with byte
order marks, with a stray NUL, or as UTF-8 with a few damaged bytes. The order matters:

1. A byte order mark names the encoding outright.
2. An HTML `<meta charset>` (or `http-equiv` content type) is what the page's author declared.
3. Valid UTF-8 is UTF-8.
4. Text that is mostly valid UTF-8 with some bad bytes is damaged UTF-8: the bad bytes become
   U+FFFD (flag `invalid_utf8`), rather than the whole text being re-read as mojibake.
5. Otherwise charset-normalizer (a well-kept detector, already a dependency of the Hub client)
   picks the encoding, if its best guess reads as clean text; if not, the bytes are damaged
   UTF-8 after all (a decoder stress test has more broken bytes than good ones).

Whatever was not plain UTF-8 is recorded as a flag `decoded_from:<encoding>`.
"""

from __future__ import annotations

import codecs
import logging
import re

log = logging.getLogger(__name__)

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)  # fmt: skip
_META = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*\\?["']?\s*([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE,
)
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
# Bytes that never occur in text (all C0 controls but tab, newlines, form feed and escape).
_CONTROL = frozenset(set(range(32)) - {9, 10, 12, 13, 27})
# charset-normalizer's "mess" of its best guess above which the guess is not believed.
MAX_CHAOS = 0.05
CHAOS_MARGIN = 0.02
BINARY_SHARE = 0.05  # more control bytes than this in the first 8 KiB: a binary file, not text


def _codec(label: str) -> str | None:
    name = label.strip().lower()
    name = _SUPERSETS.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def declared_charset(data: bytes) -> str | None:
    """The charset label an HTML `<meta>` tag in the first 4 KiB declares (lower case), if Python
    has a codec for it."""
    m = _META.search(data[:4096])
    label = m.group(1).decode("ascii").lower() if m else None
    return label if label and _codec(label) else None


def looks_binary(data: bytes) -> bool:
    """True when the head of `data` holds many control bytes (an image, an archive, a PDF)."""
    head = data[:8192]
    if not head or head.startswith(tuple(b for b, _ in _BOMS)):
        return False
    return sum(1 for b in head if b in _CONTROL) / len(head) > BINARY_SHARE


def decode(data: bytes, where: str) -> tuple[str, list[str]]:
    """`data` as text, and flags saying how: `decoded_from:<enc>`, `invalid_utf8`."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            text = data[len(bom):].decode(enc, errors="replace")
            return text, [] if enc == "utf-8" else [f"decoded_from:{enc}"]
    declared = declared_charset(data) if b"<" in data[:4096] else None
    codec = _codec(declared) if declared else None
    if declared and codec and codec != "utf-8":
        return data.decode(codec, errors="replace"), [f"decoded_from:{declared}"]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    damaged = data.decode("utf-8", errors="replace")
    bad = damaged.count("\ufffd")
    good = sum(1 for ch in damaged if ord(ch) > 0x7F) - bad
    if good >= bad:
        # More well-formed multi-byte sequences than broken ones: UTF-8 with damage, not a legacy
        # encoding (in Latin-1 text, accented letters are almost never valid UTF-8 sequences).
        log.warning("%s: invalid UTF-8, decoded with replacement characters", where)
        return damaged, ["invalid_utf8"]
    from charset_normalizer import from_bytes

    # Among the guesses that read about as cleanly as the cleanest, the most coherent (letter
    # frequencies of a real language) wins: `.best()` alone picks Mac Central European for a short
    # French Latin-1 line, whose accents then come out wrong.
    guesses = [m for m in from_bytes(data) if m.encoding not in ("utf_8", "ascii")]
    low = min((m.chaos for m in guesses), default=1.0)
    if low > MAX_CHAOS:
        # A legacy encoding decodes real text cleanly (chaos 0 on news text in GB2312, Shift_JIS,
        # Windows-1251, Latin-1); a stress file of malformed UTF-8 only decodes as noise.
        log.warning("%s: invalid UTF-8 (no other encoding reads it cleanly), decoded with replacement characters", where)
        return damaged, ["invalid_utf8"]
    best = max((m for m in guesses if m.chaos <= low + CHAOS_MARGIN), key=lambda m: (m.coherence, m.encoding == "cp1252"))
    enc = _codec(best.encoding) or best.encoding
    log.info("%s: not UTF-8, decoded as %s", where, enc)
    return data.decode(enc, errors="replace"), [f"decoded_from:{enc}"]
