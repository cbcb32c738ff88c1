"""The article of a web page: its main text and the page's own metadata, by trafilatura.

A saved news page is mostly not the article: menus, cookie banners, "related stories", footers.
Telling the article from the rest is a research problem with a well-kept answer: trafilatura,
which web-scale text pipelines use and which scores best of the open extractors on its own and
on independent evaluations (readability-lxml and jusText, which it can fall back on, each do one
half of the job: readability finds the block but keeps its chrome, jusText classifies paragraphs
but knows no metadata). It also reads the title, author, site name, canonical URL and (through
htmldate) the publication date from `og:`/JSON-LD/meta tags, so the article row can carry them.

`--extract all` keeps the old behaviour (every visible text, `text.strip_document`); `none` leaves
the markup alone.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from ..options import Extract
from ..text import shorten_tags, strip_document, strip_html

__all__ = ["Extract", "Page", "extract_page", "looks_like_page", "strip_page"]

log = logging.getLogger(__name__)


# A page, as opposed to a fragment with a few tags: document-level or layout markup. A fragment
# ("<p>One</p><p>Two</p>") has no boilerplate to remove and is only stripped.
_PAGE = re.compile(r"<(?:!doctype\s+html|html|head|body|article|main|nav|header|footer)\b", re.IGNORECASE)
# htmldate refuses dates after `max_date` (by default today, so an answer would depend on the day
# of the run); a fixed far bound keeps it deterministic.
_DATE_PARAMS = {"extensive_search": False, "original_date": True, "max_date": "2099-12-31", "outputformat": "%Y-%m-%d"}


@dataclass(frozen=True, slots=True)
class Page:
    """What extraction found in a page.

    Attributes:
        text: The article's text, paragraphs separated by blank lines.
        title: Its headline (JSON-LD/`og:` title, `<h1>` or `<title>`), if any.
        published: Its publication date as `YYYY-MM-DD`, if the page states one.
        author: Its author(s), `; `-separated, if the page names them.
        site_name: The outlet (`og:site_name` and the like), if named.
        url: The page's canonical URL, if it gives one.
        flags: `html_extracted` for main-content extraction, `html_stripped` when every visible
            text was kept (`--extract all`, or extraction found no article: then also
            `extract_fallback`).
    """

    text: str
    title: str | None = None
    published: str | None = None
    author: str | None = None
    site_name: str | None = None
    url: str | None = None
    flags: tuple[str, ...] = ()


def looks_like_page(text: str) -> bool:
    """Whether `text` is a web page (document or layout markup), not an HTML fragment."""
    return _PAGE.search(text) is not None


def strip_page(html: str) -> Page:
    """Every visible text of the page (`--extract all`), its `<title>` as title."""
    text, title = strip_document(html)
    return Page(text, title=title, flags=("html_stripped",))


def extract_page(html: str, *, fast: bool = False) -> Page:
    """The article of a web page and the page's metadata (`--extract main`).

    When trafilatura finds no article (a page of links, a fragment too short to judge), every
    visible text is kept instead, flagged `extract_fallback`, so nothing silently vanishes.
    """
    doc = _bare_extraction(shorten_tags(html), fast)
    text = _paragraphs(getattr(doc, "text", None) or "") if doc is not None else ""
    if not text:
        page = strip_page(html) if looks_like_page(html) else Page(strip_html(html), flags=("html_stripped",))
        return Page(page.text, page.title or _clean(getattr(doc, "title", None)), flags=(*page.flags, "extract_fallback"))
    title = _clean(doc.title)
    first, _, rest = text.partition("\n\n")
    if title and rest and first.casefold() == title.casefold():
        text = rest  # the headline is the title: the models read it once, not twice
    return Page(
        text=text, title=title, published=_clean(doc.date), author=_clean(doc.author),
        site_name=_clean(doc.sitename), url=_clean(doc.url), flags=("html_extracted",),
    )


def _bare_extraction(html: str, fast: bool) -> Any:
    import trafilatura

    try:
        return trafilatura.bare_extraction(
            html, fast=fast, with_metadata=True, include_comments=False, include_tables=True, deduplicate=False,
            date_extraction_params=_DATE_PARAMS, config=_config(),
        )
    except Exception as exc:  # a page lxml cannot parse at all: treat as no article found
        log.debug("trafilatura failed: %s", exc)
        return None


_CONFIG: list[Any] = []


def _config() -> Any:
    """trafilatura's settings with its signal-based timeout off (it would only work in the main
    thread, and a run reads in worker threads too); everything else as shipped."""
    if not _CONFIG:
        from copy import deepcopy

        from trafilatura.settings import DEFAULT_CONFIG

        config = deepcopy(DEFAULT_CONFIG)
        config["DEFAULT"]["EXTRACTION_TIMEOUT"] = "0"
        _CONFIG.append(config)
    return _CONFIG[0]


def _paragraphs(text: str) -> str:
    """trafilatura's one-line-per-block text with blank lines between blocks, the paragraph
    break the rest of the pipeline (detection, segmentation) reads."""
    lines = [line.strip() for line in text.splitlines()]
    return "\n\n".join(line for line in lines if line)


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value or None
