"""One article's text as the models will read it: a page's article, a dump's body, or the text as given.

Reading calls `extract_text` for every record (a text column, a file of a folder), so `run`,
`detect` and `extract` all see the same text: what `--extract` decides is decided here, once.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..options import Extract
from ..text import looks_like_html, strip_html
from .dumps import clean_dump
from .pages import extract_page, looks_like_page, strip_page


@dataclass(frozen=True, slots=True)
class Extracted:
    """What reading took from one text.

    Attributes:
        text: The article's text.
        title: A title the text itself gave (a page's headline, a dump's header), if any.
        published: A publication date the text gave, as written, if any.
        author: Author(s) the text named, if any.
        site_name: The outlet the page or a dump's source line named, if any.
        url: The page's canonical URL, if any.
        removed: Lines taken out of a text dump (header and chrome lines), in order.
        flags: What was done: `html_extracted`, `html_stripped`, `extract_fallback`, `html`
            (markup left in place), `header_parsed`, `chrome_removed`.
    """

    text: str
    title: str | None = None
    published: str | None = None
    author: str | None = None
    site_name: str | None = None
    url: str | None = None
    removed: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()


def extract_text(text: str, mode: Extract, *, page: bool = False, headline: bool = False,
                 lang: str | None = None) -> Extracted:
    """The article in `text` under `--extract mode`.

    `page`: the text is a web page whatever it looks like (an `.html` file). `headline`: a dump's
    short first line is its title even without a date line (a `.txt` file). `lang`: the text's
    language when the input gives it, tried first for dates.
    """
    if page or looks_like_html(text):
        if mode is Extract.none:
            return Extracted(text, flags=("html",))
        if mode is Extract.all or not (page or looks_like_page(text)):
            # A fragment (a few tags in a text column) has no boilerplate to tell apart.
            got = strip_page(text) if page else None
            return Extracted(got.text, title=got.title, flags=got.flags) if got else Extracted(strip_html(text), flags=("html_stripped",))
        p = extract_page(text)
        return Extracted(p.text, p.title, p.published, p.author, p.site_name, p.url, flags=p.flags)
    if mode is Extract.none:
        return Extracted(text)
    d = clean_dump(text, headline=headline, lang=lang)
    return Extracted(d.text, d.title, d.published, d.author, d.site_name, removed=d.removed, flags=d.flags)
