"""Publication dates as newsrooms write them, parsed the same way on every run.

The common machine forms (ISO 8601, RFC 2822, `2025-12-06`, `2025/12/06`, `20251206`) are read
by the standard library, which is exact and fast. Everything else ("06 December 2025",
"6. Dezember 2025", "2025年12月6日", "6 декабря 2025") goes to dateparser, which knows month
names and date orders in some 200 locales; nobody should keep such tables by hand.

dateparser is made deterministic here: only absolute dates are read (its relative-time parser,
which turns "yesterday" or "3 hours ago" into a date relative to *now*, is off), missing parts
are filled from a fixed base date, the day must be given, and the languages are tried in a
fixed order: the text's language first when it is known, then `LANGUAGES`.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from functools import lru_cache
from typing import Any

# The order dateparser tries languages in when the text's language is not known (or the date is
# not written in it): the languages of most news first. Codes are dateparser's; the project's
# `no` is dateparser's `nb`.
LANGUAGES = (
    "en", "es", "fr", "de", "pt", "it", "ru", "zh", "ja", "ar", "nl", "pl", "tr", "id", "ko", "uk", "sv", "da",
    "nb", "fi", "cs", "sk", "hu", "ro", "el", "bg", "hr", "sr", "ca", "vi", "th", "he", "fa", "hi", "ms", "bn",
    "ur", "sw", "tl", "lt", "lv", "et", "sl",
)  # fmt: skip
_ALIASES = {"no": "nb", "nn": "nb", "zh-hant": "zh", "fil": "tl", "bs": "hr"}

# Fills parts a date leaves out; a date before it is not a publication date of a news article
# anyone feeds us, and it is fixed so that no answer depends on the day the run happens.
RELATIVE_BASE = dt.datetime(2000, 1, 1)
_SETTINGS: dict[str, Any] = {
    "PARSERS": ["custom-formats", "absolute-time"],  # never "relative-time": no answer depends on today
    "RELATIVE_BASE": RELATIVE_BASE,
    "PREFER_DATES_FROM": "past",
    "PREFER_DAY_OF_MONTH": "first",
    "REQUIRE_PARTS": ["day", "month", "year"],
    "TIMEZONE": "UTC",
    "TO_TIMEZONE": "UTC",
    "RETURN_AS_TIMEZONE_AWARE": True,
    "STRICT_PARSING": False,
}

_PLAIN_DATES = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
# Words that introduce a date line ("Published 6 December 2025", "Mis à jour le ..."): dropped
# before parsing, since dateparser reads a date, not a sentence about one.
_LEAD = re.compile(
    r"^(?:(?:first\s+)?published(?:\s+on)?|updated(?:\s+on)?|last\s+updated|posted(?:\s+on)?|date|"
    r"ver[öo]ffentlicht(?:\s+am)?|aktualisiert(?:\s+am)?|stand|datum|"
    r"publi[ée](?:\s+le)?|mis\s+[àa]\s+jour(?:\s+le)?|"
    r"publicado(?:\s+(?:el|em|a))?|actualizado(?:\s+el)?|atualizado(?:\s+em)?|"
    r"pubblicato(?:\s+il)?|aggiornato(?:\s+il)?|gepubliceerd(?:\s+op)?|bijgewerkt(?:\s+op)?|"
    r"publicerad|uppdaterad|udgivet|opdateret|publisert|oppdatert|"
    r"opublikowano|zaktualizowano|publikováno|aktualizováno|yay[ıi]nlanma(?:\s+tarihi)?|g[üu]ncellenme(?:\s+tarihi)?|"
    r"diterbitkan|dipublikasikan|diperbarui|"
    r"опубликовано|обновлено|опубліковано|оновлено|"
    r"发布时间|发布日期|更新时间|公開日|更新日|投稿日|게시일|입력|수정|"
    r"نشر(?:\s+في)?|تاريخ\s+النشر)\s*[:：]?\s*",
    re.IGNORECASE,
)
# An RFC 2822 date as mail and RSS write it. `email.utils` parses far more than this, wrongly: it
# drops "PM" ("5:50 PM" is 05:50) and zone names it does not know ("JST", "CEST": read as UTC), so
# anything else goes to dateparser, which reads both.
_RFC2822 = re.compile(
    r"^(?:[a-z]{3},\s*)?\d{1,2}\s+[a-z]{3}\s+\d{2,4}\s+\d{1,2}:\d{2}(?::\d{2})?"
    r"(?:\s*(?:[+-]\d{4}|ut|gmt|z|[ecmp][sd]t))?$",
    re.IGNORECASE,
)
_YEAR = re.compile(r"\d{4}")
# Unix times a publication date may be given as (APIs and databases write them): seconds or
# milliseconds from 1990 to 2033-05-18 (2,000,000,000 s). Any other number is not taken for a date:
# an 8-digit number such as 20251206 is a plain date, read as such when given as a string, and the
# bound leaves every digit string that begins with "20" to the other forms ("2025120610").
_EPOCH_RANGE = (631_152_000, 2_000_000_000)
_EPOCH_DIGITS = re.compile(r"^(?:\d{9,10}(?:\.\d{1,9})?|\d{12,13})$")
_MAX_LINE = 200  # characters: a date line's lead words and the date itself
# What may follow a date on its line: a separator and a time or a zone ("| 10:32 GMT").
_TAIL = re.compile(r"\s*[|•·,–—-]\s*$")


def _from_epoch(number: float) -> dt.datetime | None:
    """A Unix time in seconds or milliseconds, when it falls in `_EPOCH_RANGE` either way."""
    for scale in (1, 1000):
        try:
            seconds = number / scale
        except OverflowError:  # an integer too large for a float is no time
            return None
        if _EPOCH_RANGE[0] <= seconds < _EPOCH_RANGE[1]:
            return dt.datetime.fromtimestamp(seconds, dt.UTC)
    return None


def parse_timestamp(value: Any) -> dt.datetime | None:
    """A UTC datetime from an ISO 8601 string, an RFC 2822 date, a plain date (`2026-10-14`,
    `2026/10/14`, `20261014`), a Unix time (seconds or milliseconds, as a number or a string of
    digits, from 1990 to 2033), or a datetime/date object; None when it is none of those.
    A value without a zone is taken as UTC."""
    ts: dt.datetime | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return _from_epoch(value)
    if isinstance(value, str) and _EPOCH_DIGITS.match(value.strip()) and (ts := _from_epoch(float(value.strip()))):
        return ts
    if isinstance(value, dt.datetime):
        ts = value
    elif isinstance(value, dt.date):
        ts = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if not text or "\x00" in text:
            return None
        try:
            ts = dt.datetime.fromisoformat(text)
        except ValueError:
            for pattern in _PLAIN_DATES:
                m = pattern.match(text)
                if m:
                    try:
                        year, month, day = (int(g) for g in m.groups())
                        ts = dt.datetime(year, month, day)
                    except ValueError:
                        return None
                    break
            if ts is None and _RFC2822.match(text):
                try:
                    ts = email.utils.parsedate_to_datetime(text)
                except (TypeError, ValueError, IndexError):
                    return None
        if ts is None:
            return None
    else:
        return None
    try:
        return ts.replace(tzinfo=dt.UTC) if ts.tzinfo is None else ts.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        return None


def language_order(lang: str | None) -> tuple[str, ...]:
    """The languages dateparser tries, in order: `lang` (when known and dateparser has it) first."""
    code = _ALIASES.get((lang or "").lower(), (lang or "").lower().split("-")[0])
    if not code or code == "und" or code == LANGUAGES[0]:
        return LANGUAGES
    return (code, *(c for c in LANGUAGES if c != code))


@lru_cache(maxsize=64)
def _parser(order: tuple[str, ...]) -> Any:
    from dateparser.date import DateDataParser

    try:
        return DateDataParser(languages=list(order), use_given_order=True, try_previous_locales=False,
                              settings=_SETTINGS)
    except ValueError:  # a language dateparser does not know: the fixed order alone
        return DateDataParser(languages=list(LANGUAGES), use_given_order=True, try_previous_locales=False,
                              settings=_SETTINGS)


def parse_date(value: Any, lang: str | None = None) -> dt.datetime | None:
    """A UTC datetime from a publication date in any common form and language; None when it is
    not one. `lang` (the text's language, when known) is tried before the fixed order."""
    ts = parse_timestamp(value)
    if ts is not None or not isinstance(value, str):
        return ts
    text = value.strip()
    # A date with its lead words fits in `_MAX_LINE`; a longer value is not one, and never reaches
    # the patterns below (`_TAIL` backtracks over a long run of spaces: 46 s for 100,000).
    if len(text) > _MAX_LINE:
        return None
    text = _TAIL.sub("", _LEAD.sub("", text, count=1)).strip()
    # Every date form read here has a four-digit year; a line without one costs no parser call
    # (a parser call that fails tries every language: some 20 ms).
    if not text or len(text) > 80 or _YEAR.search(text) is None:
        return None
    ts = parse_timestamp(text)
    if ts is not None:
        return ts
    try:
        found = _parser(language_order(lang)).get_date_data(text).date_obj
    except (ValueError, OverflowError, TypeError):
        return None
    if found is None:
        return None
    return found.replace(tzinfo=dt.UTC) if found.tzinfo is None else found.astimezone(dt.UTC)
