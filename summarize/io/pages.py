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
from urllib.parse import urlsplit

from ..options import Extract
from ..text import shorten_tags, strip_document, strip_html

__all__ = ["Extract", "Page", "extract_page", "looks_like_page", "site_free_title", "strip_page"]

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


def extract_page(html: str, *, fast: bool = False, precise: bool = False) -> Page:
    """The article of a web page and the page's metadata (`--extract main`).

    When trafilatura finds no article (a page of links, a fragment too short to judge), every
    visible text is kept instead, flagged `extract_fallback`, so nothing silently vanishes.
    `fast` (no comparison with readability's and jusText's extraction) and `precise` (trafilatura's
    `favor_precision`) are weighed in `benchmarks/extract.py` and not used: each drops the lead
    paragraph of a real news page there (docs/inputs.md).
    """
    doc = _bare_extraction(shorten_tags(html), fast, precise)
    text = _paragraphs(getattr(doc, "text", None) or "") if doc is not None else ""
    if not text:
        page = strip_page(html) if looks_like_page(html) else Page(strip_html(html), flags=("html_stripped",))
        return Page(page.text, page.title or _clean(getattr(doc, "title", None)), flags=(*page.flags, "extract_fallback"))
    site_name, url = _clean(doc.sitename), _clean(doc.url)
    title, site_name = site_free_title(_clean(doc.title), site_name, url)
    first, _, rest = text.partition("\n\n")
    if title and rest and first.casefold() == title.casefold():
        text = rest  # the headline is the title: the models read it once, not twice
    return Page(
        text=text, title=title, published=_clean(doc.date), author=_clean(doc.author),
        site_name=site_name, url=url, flags=("html_extracted",),
    )


# A separator between a headline and the site's name in a page's title ("Headline | CNN Politics",
# "Headline -- Sott.net", "Sott.net: Headline"): a dash, bar, colon, bullet or guillemet with space
# around it, or a full-width one, which CJK titles write without spaces.
_SEPARATOR = re.compile(r"\s+(?:--|::|[-|–—•·:»›~/])\s+|\s*[｜：]\s*")
# Between the site's own name and the headline a bar or colon needs no space before it ("Site: Headline",
# "Site | Motto: Headline"), and next to a name without Latin letters no dash needs a space ("标题-新华网");
# a Latin name and a dash without spaces are one word ("ADAC-Test", "BBC-Chef").
_EDGE = r"\s*[|:]\s+|\s+(?:--|::|[-–—•·»›~/])\s+|\s*[｜：]\s*"
_EDGE_CJK = r"\s*(?:--|::|[-|–—•·:»›~/｜：_])\s*"
# Separators of a breadcrumb ("Headline » Local » News » Site"): the trail before the site goes too.
_TRAIL = frozenset("»›/")
# Second-level labels under a country code (bbc.co.uk, yna.co.kr): the site's own label is before them.
_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "gov", "ac", "edu", "or", "ne", "go", "gob"})
_LONGEST = 500  # characters; longer titles and site names are not looked into
_SITE_WORDS = 4  # the most words a part of a title may have and still be the site's name


def site_free_title(title: str | None, site_name: str | None, url: str | None) -> tuple[str | None, str | None]:
    """`title` without the site's name that pages append or prepend to it, and the site's name.

    trafilatura takes a page's title from its `og:`/JSON-LD/`<title>` tags, which many outlets
    write as "Headline | Outlet" or "Outlet: Headline"; the models should read the headline only.
    A leading or trailing part of the title goes when it names the site: it is the site name, or
    it is short and begins with the site name or the name in the page's host ("CNN Politics" on
    cnn.com, "Ultima Hora Mallorca" on ultimahora.es). Nothing goes when no site is known, and a
    title that is only the site's name stays. Where the page names no site, the part that names
    its host becomes the site name.
    """
    if not title or len(title) > _LONGEST or (site_name and len(site_name) > _LONGEST):
        return title, site_name  # no real title or site name is this long: left as it is
    parts = _SEPARATOR.split(title)
    host = _host_key(url)
    if not (site_name and _key(site_name)) and not host:
        return title, site_name
    if site_name and (whole := _without_edge(title, site_name)):
        return whole, site_name
    seps = _SEPARATOR.findall(title)
    if len(parts) < 2:
        return title, site_name
    if _names_site(parts[-1], site_name, host):
        dropped, sep = parts[-1], seps[-1].strip()
        parts, seps = parts[:-1], seps[:-1]
        if sep in _TRAIL and all(s.strip() == sep for s in seps):
            parts, seps = parts[:1], []
    elif _names_site(parts[0], site_name, host):
        dropped, parts, seps = parts[0], parts[1:], seps[1:]
    else:
        return title, site_name
    rest = "".join(part + sep for part, sep in zip(parts, [*seps, ""], strict=True)).strip()
    if not _key(rest):
        return title, site_name
    return rest, site_name or dropped.strip()


def _without_edge(title: str, site_name: str) -> str | None:
    """`title` without a leading or trailing `site_name` and its separator, if it has one there
    (a site name may itself hold a separator: "LinkNaija | Nigeria's popular news platform")."""
    name = re.escape(site_name)
    sep = _EDGE if re.search("[a-zA-Z]", site_name) else _EDGE_CJK
    if m := re.match(f"{name}(?:{sep})", title, re.IGNORECASE):
        rest = title[m.end() :]
    elif m := re.search(f"(?:{sep}){name}$", title, re.IGNORECASE):
        rest = title[: m.start()]
    else:
        return None
    return rest.strip() if _key(rest) else None


def _key(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _host_key(url: str | None) -> str:
    """The site's name in the host of `url` (`cnn` of www.cnn.com, `yna` of en.yna.co.kr), as `_key`
    writes it; empty when there is none."""
    try:
        host = urlsplit(url).hostname if url else None
    except ValueError:  # "http://[not-an-address": no host to read
        host = None
    labels = (host or "").split(".")[:-1]  # no top-level domain
    if len(labels) >= 2 and labels[-1] in _SECOND_LEVEL:
        labels = labels[:-1]
    return _key(labels[-1]) if labels and len(labels[-1]) >= 3 and labels[-1] != "www" else ""


def _names_site(part: str, site_name: str | None, host: str) -> bool:
    """Whether a part of a title is the site's name: the site name or the host's name itself, or a
    short part that begins with the site name as a word ("CNN Politics") or holds the host's name
    ("Ultima Hora Mallorca" on ultimahora.es; a host name under 5 letters is too short to tell)."""
    key = _key(part)
    if not key:
        return False
    if key in (_key(site_name or ""), host):
        return True
    if len(part.split()) > _SITE_WORDS:
        return False
    if site_name and re.match(rf"{re.escape(site_name)}(?!\w)", part, re.IGNORECASE):
        return True
    return len(host) >= 5 and host in key


def _bare_extraction(html: str, fast: bool, precise: bool) -> Any:
    import trafilatura

    try:
        return trafilatura.bare_extraction(
            html, fast=fast, favor_precision=precise, with_metadata=True, include_comments=False, include_tables=True,
            deduplicate=False, date_extraction_params=_DATE_PARAMS, config=_config(),
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
