"""Text cleaning shared by reading and detection: markup, invisible characters, paragraphs, content hash.

Reading (`io`) and detection (`detect`) see the same article text, so they must agree on what
markup is, which characters are invisible noise, where paragraphs break and how an article is
identified by its content. This module is the one place for each of those rules. It depends on
the standard library and selectolax only (no Polars, no models, no language detector).
"""

from __future__ import annotations

import hashlib
import re

__all__ = [
    "UNSPACED", "content_hash", "content_id", "looks_like_html", "paragraph_spans", "paragraphs", "remove_invisible",
    "shorten_tags", "strip_document", "strip_html",
]  # fmt: skip

# Scripts written without spaces between words (Thai, Lao, Myanmar, Khmer, Kana, Han): their text is
# measured letter by letter, not word by word (the repetition guards, a dump's headline length).
UNSPACED = re.compile(r"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

# Markup that marks a text as HTML: a tag of an element news pages actually use, a comment, or
# an entity. Only tags with a known name count, so prose such as "a<b" or "<Reuters>" is not
# taken for markup and stripped by a parser that would drop it.
_TAG_NAMES = (
    "a|abbr|article|aside|b|blockquote|body|br|center|code|div|em|figcaption|figure|font|footer|h[1-6]|head|header|"
    "hr|html|i|iframe|img|li|link|main|meta|nav|noscript|ol|p|pre|s|script|section|small|span|strong|style|sub|sup|"
    "table|tbody|td|th|thead|title|tr|u|ul"
)
_HTML = re.compile(
    rf"</?(?:{_TAG_NAMES})\b[^<>]*>|<!--|&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]{{1,31}});", re.IGNORECASE
)
# Elements a reader sees as separate blocks: their end (or a double <br>) is a paragraph break.
_BLOCKS = ("p", "div", "li", "tr", "blockquote", "section", "article", "header", "footer", "figure", "h1", "h2", "h3",
           "h4", "h5", "h6", "nav", "main", "aside", "ul", "ol", "dl", "dt", "dd", "table", "td", "th", "pre",
           "figcaption", "address", "form", "details", "summary")  # fmt: skip
_BLOCK_END = re.compile(
    r"(?i)<\s*(?:/\s*(?:" + "|".join(_BLOCKS) + r")|br\s*/?\s*>\s*<\s*br)\b[^<>]*>"
)

# Characters that carry no text: C0 and C1 controls (tab and line breaks kept), zero-width space,
# direction marks and overrides, invisible operators and the byte-order mark. Zero-width (non-)
# joiners are kept: they are spelling in Persian and Indic scripts and glue emoji sequences.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\ufeff]")


def looks_like_html(text: str) -> bool:
    """Whether `text` holds HTML markup: a common tag, a comment or a character entity."""
    return ("<" in text or "&" in text) and _HTML.search(text) is not None


def strip_html(text: str) -> str:
    """Visible text of an HTML fragment: scripts, styles and comments dropped, entities decoded,
    block elements and line breaks kept as blank-line paragraph breaks.

    A real HTML parser (lexbor, through selectolax) does the work, so unclosed tags and odd
    nesting come out as a browser would show them. Markup nested deeper than any page nests
    (`MAX_DEPTH`), on which the parser's time grows with the square of the depth (200,000 unclosed
    `<div>`s: two minutes), is read by a linear scan of its tags instead.
    """
    return strip_document(text, whole=False)[0]


def strip_document(html: str, *, whole: bool = True) -> tuple[str, str | None]:
    """Visible text of a web page without its `<head>`, and its `<title>`.

    `whole=False` reads `html` as a fragment of a body (`strip_html`), whose `<title>` is text.
    """
    html = shorten_tags(html)
    if _too_deep(html):
        return _flat_text(html, whole)
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html if whole else f"<body>{html}</body>")
    title = None
    if whole:
        node = tree.css_first("head title") or tree.css_first("title")
        title = " ".join(node.text(separator=" ").split()) or None if node is not None else None
        head = tree.head
        if head is not None:
            head.decompose()
    for node in tree.css("script, style, template"):
        node.decompose()
    for node in tree.css("br, " + ", ".join(_BLOCKS)):
        node.insert_after("\n\n")
    body = tree.body
    out = body.text(separator="") if body is not None else ""
    return re.sub(r"\n\s*\n+", "\n\n", out).strip(), title


# No tag of a page is this long but one that inlines a file (a `data:` image); parsers take time
# that grows with the square of a tag's attributes (50,000 of them: 1.7 s for lxml, 4 s for lexbor).
MAX_TAG = 65536
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)")  # a start or end tag's name


def shorten_tags(html: str) -> str:
    """`html` with every tag longer than `MAX_TAG` characters cut to its bare name (`<img`).

    Attributes are never visible text, so nothing a reader sees is lost. A tag ends at the first
    `>`, as a browser's tokenizer ends it: the markup is split at `>` once (linear), and only the
    pieces over `MAX_TAG` are searched.
    """
    if len(html) <= MAX_TAG:
        return html
    parts = html.split(">")
    if max(map(len, parts)) <= MAX_TAG:
        return html
    for i, part in enumerate(parts):
        if len(part) > MAX_TAG and (m := _TAG.search(part)) is not None and len(part) - m.start() > MAX_TAG:
            parts[i] = part[: m.end()]
    return ">".join(parts)


# Far deeper than pages nest (a few dozen; this count, which also sees tags inside scripts and
# unclosed inline elements, reaches 700 on real news pages) and than browsers build (Blink stops
# nesting at 512). Up to here the parser takes milliseconds. Elements whose end tag may be left out
# (p, li, td ...) and void ones do not nest.
MAX_DEPTH = 4096
_FLAT = frozenset((
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr", "p", "li",
    "dt", "dd", "tr", "td", "th", "option", "optgroup", "thead", "tbody", "tfoot", "colgroup", "caption", "rb", "rt",
    "rp",
))  # fmt: skip


def _too_deep(html: str) -> bool:
    """Whether the markup's open elements ever nest deeper than `MAX_DEPTH` (a count of its
    start and end tags, linear; only done when the text has that many tags at all)."""
    if html.count("<") <= MAX_DEPTH:
        return False
    depth = 0
    for m in _TAG.finditer(html):
        if m.group(2).lower() in _FLAT:
            continue
        depth = max(0, depth - 1) if m.group(1) else depth + 1
        if depth > MAX_DEPTH:
            return True
    return False


_HIDDEN_START = re.compile(r"<(script|style|template)\b|<!--", re.IGNORECASE)
_HIDDEN_END = {"script": re.compile(r"</script\s*>", re.IGNORECASE), "style": re.compile(r"</style\s*>", re.IGNORECASE),
               "template": re.compile(r"</template\s*>", re.IGNORECASE)}
_ANY_TAG = re.compile(r"<[^<>]*>")
_BR = re.compile(r"<br\b[^<>]*>", re.IGNORECASE)
_TITLE_START = re.compile(r"<title\b[^<>]*>", re.IGNORECASE)
_TITLE_END = re.compile(r"</title\s*>", re.IGNORECASE)
_HEAD_END = re.compile(r"</head\s*>|<body\b", re.IGNORECASE)


def _flat_text(html: str, whole: bool) -> tuple[str, str | None]:
    """`strip_document` by scanning tags left to right, never building the tree: every search
    starts where the last one ended, so the time is linear in the markup's length."""
    import html as html_lib

    title = None
    if whole:
        m = _TITLE_START.search(html)
        end = _TITLE_END.search(html, m.end()) if m else None
        if m and end:
            title = " ".join(html_lib.unescape(_ANY_TAG.sub(" ", html[m.end() : end.start()])).split()) or None
        head = _HEAD_END.search(html)
        if head:
            html = html[head.start() :]
    kept, pos = [], 0
    while (m := _HIDDEN_START.search(html, pos)) is not None:
        kept.append(html[pos : m.start()])
        if m.group(1):
            end = _HIDDEN_END[m.group(1).lower()].search(html, m.end())
            pos = end.end() if end else -1
        else:
            close = html.find("-->", m.end())
            pos = close + 3 if close >= 0 else -1
        if pos < 0:  # unclosed: hides the rest, as in a browser
            pos = len(html)
            break
    kept.append(html[pos:])
    text = _BLOCK_END.sub("\n\n", _BR.sub("\n\n", "".join(kept)))
    text = html_lib.unescape(_ANY_TAG.sub("", text))
    return re.sub(r"\n\s*\n+", "\n\n", text).strip(), title


def remove_invisible(text: str, replacement: str = "") -> tuple[str, bool]:
    """`text` without control and invisible characters, and whether there were any.

    Newlines, carriage returns and tabs are kept. `replacement` stands in for each character
    removed; detection uses a space so that words on either side stay apart.
    """
    if _INVISIBLE.search(text) is None:
        return text, False
    return _INVISIBLE.sub(replacement, text), True


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) offsets of the non-empty paragraphs of `text`.

    Paragraphs are separated by one or more blank lines, where a line holding only whitespace
    counts as blank; a single line break inside a paragraph is not a break. Offsets are
    trimmed so that `text[start:end]` has no surrounding whitespace, and paragraphs made of
    whitespace only are left out.
    """
    # Line by line: str.splitlines knows every line break (\r\n is one, so "a\r\nb" is one
    # paragraph), and is several times cheaper than a pattern for the breaks, which would be
    # tried at every position of the text.
    spans: list[tuple[int, int]] = []
    pos = start = end = 0
    for line in text.splitlines(keepends=True):
        if not line.isspace():
            start, end = (start if end > start else pos), pos + len(line)
        elif end > start:
            spans.append(_trim(text, start, end))
            start = end
        pos += len(line)
    if end > start:
        spans.append(_trim(text, start, end))
    return [(start, end) for start, end in spans if start < end]


def paragraphs(text: str) -> list[str]:
    """The non-empty paragraphs of `text`, trimmed; in markup, the end of a block element
    (`</p>`, `</div>`, `<br><br>`, ...) also ends a paragraph, its tags left for the caller."""
    if "<" in text:
        text = _BLOCK_END.sub("\n\n", text)
    return [text[start:end] for start, end in paragraph_spans(text)]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    piece = text[start:end]
    stripped = piece.lstrip()
    start += len(piece) - len(stripped)
    return start, start + len(stripped.rstrip())


def content_hash(title: str | None, text: str) -> str:
    """Hash of what the model reads of an article (title and text): 16 hex digits of SHA-256.

    Stored in `articles.content_hash` and compared on `--resume`, so its value must not change
    between versions: a changed hash would make a resumed run redo (and write twice) its articles.
    """
    return hashlib.sha256(f"{title or ''}\x00{text}".encode()).hexdigest()[:16]


def content_id(title: str | None, text: str) -> str:
    """The id of an article that has none: `sha256:` + its content hash, the same in every run."""
    return f"sha256:{content_hash(title, text)}"
