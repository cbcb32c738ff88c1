"""summarize.text: the cleaning rules that reading and detection share, and the content hash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from summarize import io, text
from summarize.detect.detector import make_detector
from summarize.options import DetectOptions, ReadOptions
from summarize.schema import Article


@pytest.mark.parametrize(
    ("sample", "is_html"),
    [
        ("<p>Council</p>", True),
        ('See <a href="x">this</a>', True),
        ("Prices &eacute;lev&eacute;s", True),
        ("a &amp; b", True),
        ("<!-- note --> text", True),
        ("x < y and y > z", False),
        ("Reported by <Reuters> staff", False),
        ("Tom & Jerry", False),
        ("plain text", False),
    ],
)
def test_looks_like_html(sample: str, is_html: bool) -> None:
    assert text.looks_like_html(sample) is is_html


def test_strip_html_keeps_blocks_as_paragraphs_and_drops_hidden_content() -> None:
    html = ("<div><h2>Title</h2><p>One &amp; <b>two</b>.</p><script>var x = 'no';</script>"
            "<!-- hidden --><ul><li>Item</li></ul><p>Line<br>break</p></div>")
    assert text.strip_html(html) == "Title\n\nOne & two.\n\nItem\n\nLine\n\nbreak"
    # An unclosed script hides the rest, as in a browser; a stray '<' in prose survives.
    assert text.strip_html("<p>Kept</p><script>never shown") == "Kept"
    assert text.strip_html("<p>1 < 2</p>") == "1 < 2"


PAGE = ("<!DOCTYPE html><html><head><title>Floods &amp; rain | The Post</title><style>p {color: red}</style>"
        "<script>var t = '<div>';</script></head><body><nav><a href='/'>Home</a></nav><article><h1>Floods</h1>"
        "<p>Heavy rain <b>forced</b> thousands<br>from their homes.</p><!-- ad --><ul><li>One</li><li>Two</li></ul>"
        "</article><footer>&copy; 2025</footer></body></html>")


def test_a_page_reads_the_same_whether_parsed_or_scanned() -> None:
    # strip_document reads pages with lexbor; markup too deep for it goes through a linear scan of
    # the tags instead, which must give the reader the same text and title.
    parsed = text.strip_document(PAGE)
    assert parsed == ("Home\n\nFloods\n\nHeavy rain forced thousands\n\nfrom their homes.\n\nOne\n\nTwo\n\n© 2025",
                      "Floods & rain | The Post")
    assert text._flat_text(PAGE, True) == parsed
    fragment = "<div><p>One &amp; two</p><script>no</script><template><p>inert</p></template><p>Line<br>break</p></div>"
    assert text.strip_html(fragment) == "One & two\n\nLine\n\nbreak"  # a template's content is inert
    assert text._flat_text(fragment, False) == (text.strip_html(fragment), None)


@pytest.mark.parametrize("deep", [
    "<div>" * 200_000 + "<p>Deep text.</p>" + "</div>" * 200_000,  # nested: the parser's time grows with its square
    "<span>" * 100_000 + "Deep text.",  # never closed
    "<head>" * 50_000 + "<title>" * 50_000 + "<p>Deep text.</p>",  # what lazy patterns scanned again and again
])
def test_markup_nested_beyond_any_page_is_read_without_the_parser(deep: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import selectolax.lexbor

    def refuse(html: str) -> None:
        raise AssertionError(f"{len(html):,} characters of hostile nesting were handed to the parser")

    monkeypatch.setattr(selectolax.lexbor, "LexborHTMLParser", refuse)
    assert text.strip_html(deep) == "Deep text."
    assert text.strip_document(deep)[0] == "Deep text."
    # A page nested as deep as real pages are is still parsed (the guard would refuse it here).
    with pytest.raises(AssertionError, match="hostile nesting"):
        text.strip_html("<div>" * 3000 + "<p>Text.</p>")


def test_a_tag_of_50000_attributes_reaches_no_parser_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    # Parsers take time growing with the square of one tag's attributes (lxml 1.7 s, lexbor 4 s for
    # these, three parses a page): a tag over MAX_TAG characters is cut to its name first.
    import selectolax.lexbor
    import trafilatura

    from summarize.io.pages import extract_page

    body = "".join(f"<p>Paragraph {i} of the storm report, long enough for an extractor to keep it.</p>" for i in range(8))
    storm = "<html><body><article " + " ".join(f'data-a{i}="{i}"' for i in range(50_000)) + f">{body}</article></body></html>"
    image = f'<html><body><img src="data:image/png;base64,{"A" * 200_000}" alt="x"><article>{body}</article></body></html>'
    assert text.shorten_tags(storm) == f"<html><body><article>{body}</article></body></html>"
    assert text.shorten_tags(image) == f"<html><body><img><article>{body}</article></body></html>"
    assert text.shorten_tags(PAGE) == PAGE  # a page's ordinary tags are left alone
    seen: list[int] = []
    lexbor, bare = selectolax.lexbor.LexborHTMLParser, trafilatura.bare_extraction
    monkeypatch.setattr(selectolax.lexbor, "LexborHTMLParser", lambda html: seen.append(len(html)) or lexbor(html))
    monkeypatch.setattr(trafilatura, "bare_extraction", lambda html, **kw: seen.append(len(html)) or bare(html, **kw))
    for page in (storm, image):
        assert text.strip_document(page)[0].startswith("Paragraph 0 of the storm report")
        assert extract_page(page).text.startswith("Paragraph 0 of the storm report")
    assert seen and max(seen) < 2_000


def test_remove_invisible_keeps_line_breaks_tabs_and_joiners() -> None:
    raw = "a\x00b\u200bc\u202ed\ufeff\x85e\tf\r\ng"
    assert text.remove_invisible(raw) == ("abcde\tf\r\ng", True)
    assert text.remove_invisible(raw, " ") == ("a b c d  e\tf\r\ng", True)
    # Zero-width (non-)joiners spell Persian and Indic words and glue emoji sequences.
    persian = "می\u200cخواهم"
    assert text.remove_invisible(persian) == (persian, False)


def test_paragraphs_split_on_blank_lines_and_block_tags() -> None:
    assert text.paragraphs("  One.\nStill one.\n \n\nTwo.\r\n\r\nThree. ") == ["One.\nStill one.", "Two.", "Three."]
    assert text.paragraphs("<p>One</p><p>Two</p>") == ["<p>One", "<p>Two"]
    assert text.paragraphs("Line<br><br>Next<br/>same") == ["Line", "Next<br/>same"]
    assert text.paragraphs(" \n\n ") == []


def test_paragraph_spans_point_into_the_text() -> None:
    raw = "\n First para.\n\n\tSecond\npara.\n\n\n"
    spans = text.paragraph_spans(raw)
    assert [raw[a:b] for a, b in spans] == ["First para.", "Second\npara."]


def test_one_content_hash_for_ids_and_resume() -> None:
    digest = text.content_hash("Title", "Body text")
    assert len(digest) == 16 and int(digest, 16) >= 0
    assert digest == text.content_hash("Title", "Body text")
    # The title counts, and where it ends: "Tit" + "leBody text" is another article.
    assert digest != text.content_hash(None, "Body text")
    assert digest != text.content_hash("Tit", "leBody text")
    assert text.content_hash(None, "x") == text.content_hash("", "x")
    assert text.content_id("Title", "Body text") == f"sha256:{digest}"
    # Stored in articles.content_hash and compared on --resume: its value must never change.
    assert digest == hashlib.sha256(b"Title\x00Body text").hexdigest()[:16]


def test_reading_and_detection_clean_alike(tmp_path: Path) -> None:
    body = ("<p>Die Bundesregierung hat am Mittwoch ein neues Klimaschutzgesetz beschlossen, das den "
            "Ausstoß von Treibhausgasen deutlich senken soll.</p><script>var english = 'words here';</script>"
            "<p>Der Bundestag soll im Herbst &uuml;ber den Entwurf abstimmen.</p>")
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps({"text": body}) + "\n", encoding="utf-8")
    (art,) = io.read_records([str(f)], ReadOptions(strip_html=True))
    assert isinstance(art, Article)
    assert art.text == text.strip_html(body) and "über" in art.text and "english" not in art.text
    assert art.id == text.content_id(None, art.text)
    det = make_detector(DetectOptions())
    assert det.detect(body) == det.detect(art.text)


def test_text_module_stays_light() -> None:
    # Reading must not pull in the language detector, models or Polars by cleaning text.
    import subprocess
    import sys

    code = ("import sys; from summarize import text; text.strip_html('<p>x</p>'); text.paragraphs('a'); "
            "print(sorted(m for m in ('langdetect', 'torch', 'transformers', 'polars', 'pyarrow') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1])
    assert done.stdout.strip() == "[]"
