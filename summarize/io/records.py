"""One raw record (a dict of one input) to an `Article` or a `Reject`: the checks every reader shares.

Each reader (`read.py`) turns its format into dicts; `Builder.build` checks the columns the options
name, extracts what `--extract` asks (`extract.py`), cleans invisible characters, derives a missing
id, applies `--on-duplicate-id` and the kept columns' types, and gives a bad record a `Reject` that
names its file and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import UnsupportedLanguageError, UsageError
from ..models import langcodes
from ..options import Extract, ReadOptions
from ..schema import Article, Reject
from ..text import content_id, looks_like_html, remove_invisible, strip_html
from .extract import extract_text
from .seen import SeenIds

__all__ = ["INT64", "RAW_LIMIT", "Builder"]

INT64 = (-(2**63), 2**63 - 1)
RAW_LIMIT = 1000


@dataclass
class Builder:
    """Turns raw records (dicts) of one input into Articles or Rejects, checking columns once."""

    source: str
    options: ReadOptions
    counter: list[int]
    seen_ids: SeenIds
    checked: bool = False
    superseded: frozenset[tuple[str, int]] = frozenset()  # `last`: positions a later version replaces
    keyed: bool = False  # the output is keyed by id: `all` cannot keep a duplicate

    def check_columns(self, columns: Iterable[str]) -> None:
        cols = list(columns)
        wanted = [("--text-col", self.options.text_col)]
        if self.options.lang_col:
            wanted.append(("--lang-col", self.options.lang_col))
        wanted += [("--keep-col", c) for c in self.options.keep_cols]
        if self.options.published_col:
            wanted.append(("--published-col", self.options.published_col))
        for flag, col in wanted:
            if col not in cols:
                raise UsageError(f"{self.source}: no column {col!r} (asked by {flag}); columns are: {', '.join(map(str, cols))}")
        self.checked = True

    def build(self, rec: dict[str, Any], line: int, raw: str, flags: Sequence[str] = (), *, page: bool = False,
              headline: bool = False) -> Article | Reject:
        """An Article from one raw record; `page` and `headline` say what a folder's file is
        (an `.html` page, a `.txt` file whose first line may be its title)."""
        o = self.options
        text = rec.get(o.text_col)
        if text is None or (isinstance(text, float) and text != text):
            return Reject(self.source, line, f"missing text (column {o.text_col!r})", raw[:RAW_LIMIT])
        if not isinstance(text, str):
            return Reject(self.source, line, f"text must be a string, got {type(text).__name__}", raw[:RAW_LIMIT])
        title = rec.get(o.title_col)
        if title is not None and not isinstance(title, str):
            if isinstance(title, int | float) and title == title:
                title = str(title)
            else:
                return Reject(self.source, line, f"title must be a string, got {type(title).__name__}", raw[:RAW_LIMIT])
        all_flags = list(flags)
        given_lang = rec.get(o.lang_col) if o.lang_col else None
        got = extract_text(text, o.extract, page=page, headline=headline and not title,
                           lang=given_lang if isinstance(given_lang, str) else None)
        text = got.text
        all_flags += got.flags
        text, invisible = remove_invisible(text)
        if invisible:
            all_flags.append("control_chars")
        if len(text) > o.max_chars:
            text = text[: o.max_chars]
            all_flags.append("input_truncated")
        if title:
            title, in_title = remove_invisible(title)
            if in_title and not invisible:
                all_flags.append("control_chars")
            if o.extract is not Extract.none and looks_like_html(title):
                title = strip_html(title)
        elif got.title:
            title = remove_invisible(got.title)[0]
        if title and len(title) > o.max_chars:
            # A runaway title is as costly as a runaway text: every field may be translated.
            title = title[: o.max_chars]
            all_flags.append("title_truncated")
        rid = rec.get(o.id_col)
        if rid is None or rid == "" or (isinstance(rid, float) and rid != rid):
            rid = content_id(title, text)
        elif isinstance(rid, bool) or not isinstance(rid, str | int | float):
            return Reject(self.source, line, f"id must be a string or a number, got {type(rid).__name__}", raw[:RAW_LIMIT])
        else:
            rid = str(int(rid)) if isinstance(rid, float) and rid.is_integer() else str(rid)
        if o.on_duplicate_id == "last" and (self.source, line) in self.superseded:
            return Reject(self.source, line, f"duplicate id {rid!r}: a later version wins (--on-duplicate-id last)",
                          raw[:RAW_LIMIT], fatal=False)
        checked = o.on_duplicate_id in ("first", "error") or (self.keyed and o.on_duplicate_id == "all")
        where = self.seen_ids.add(rid, self.source, line) if checked else None
        if where is not None:
            policy = (f"--on-duplicate-id {o.on_duplicate_id}" if o.on_duplicate_id != "all" else
                      "the tables are keyed by id; choose --on-duplicate-id first, last or error")
            return Reject(self.source, line, f"duplicate id {rid!r} (first at {where[0]}:{where[1]}; {policy})",
                          raw[:RAW_LIMIT], fatal=o.on_duplicate_id != "first")
        lang = rec.get(o.lang_col) if o.lang_col else None
        lang = str(lang).strip() if lang not in (None, "") and not (isinstance(lang, float) and lang != lang) else None
        if lang is not None and not _known_language(lang):
            # An unknown code cannot route a model or name a folder: detect the language instead.
            all_flags.append("bad_lang")
            lang = None
        extra = {c: rec.get(c) for c in o.keep_cols}
        for name, typ in o.keep_types:
            why = _does_not_fit(extra.get(name), typ)
            if why:
                return Reject(self.source, line, f"--keep-col {name}:{typ}: {why}", raw[:RAW_LIMIT])
        published = rec.get(o.published_col or "published")
        if (published is None or published == "") and got.published:
            published = got.published
        idx = self.counter[0]
        self.counter[0] += 1
        return Article(
            id=rid, row_index=idx, source=self.source, line=line, text=text,
            title=title or None, lang=lang, extra=extra, flags=tuple(all_flags),
            published=published if published is not None and published != "" else None,
            author=got.author, site_name=got.site_name, url=got.url, removed=got.removed,
        )


def _does_not_fit(value: Any, typ: str) -> str | None:
    """Why a kept value cannot be stored as its declared number type (None when it can, or when
    it is not a number at all: that is a `bad_value:` flag, not a reject)."""
    if typ not in ("int", "float") or value is None or isinstance(value, bool):
        return None
    number: int | float
    if isinstance(value, int | float):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value[:5000]):
        if len(value.strip().lstrip("+-")) > 4000:
            return f"a number of {len(value.strip())} digits does not fit"
        number = int(value)
    else:
        return None
    if typ == "int" and isinstance(number, float) and number.is_integer():
        number = int(number)
    if typ == "int" and isinstance(number, int) and not INT64[0] <= number <= INT64[1]:
        digits = str(number)
        return f"{digits[:40]}{'...' if len(digits) > 40 else ''} does not fit a 64-bit integer"
    if typ == "float" and isinstance(number, int):
        try:
            float(number)
        except OverflowError:
            return "the number is too large for a 64-bit float"
    return None


def _known_language(code: str) -> bool:
    try:
        langcodes.language_name(code)
    except UnsupportedLanguageError:
        return False
    return "\x00" not in code
