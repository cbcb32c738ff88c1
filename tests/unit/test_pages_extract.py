"""Web pages: main-content extraction and metadata, and `summarize extract` end to end (no model)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from summarize import io
from summarize.options import ReadOptions
from summarize.schema import FILES, Article

from ..conftest import invoke, write_jsonl

PARAS = [
    "The city council voted on Tuesday to close Mill Road to through traffic from next spring, ending a dispute "
    "that has divided residents and shop owners for more than three years.",
    "Under the plan, buses, bicycles and emergency vehicles will still be allowed through a new gate near the "
    "railway bridge, while delivery vans will have access before ten in the morning.",
    "Shop owners said they feared losing customers, but the council pointed to a survey in which most visitors "
    "said they arrived on foot, by bicycle or by bus rather than by car.",
]
PAGE = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Council closes Mill Road | The Harrowfield Post</title>
<meta property="og:title" content="Council closes Mill Road to through traffic">
<meta property="og:site_name" content="The Harrowfield Post">
<meta name="author" content="Jane Doe">
<link rel="canonical" href="https://post.example/news/mill-road">
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "NewsArticle",
 "headline": "Council closes Mill Road to through traffic", "datePublished": "2025-12-06T09:30:00+00:00",
 "author": {{"@type": "Person", "name": "Jane Doe"}}}}</script>
</head><body>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies</div>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li>
<li><a href="/login">Directory of sites Login Contact Support</a></li></ul></nav>
<main><article><h1>Council closes Mill Road to through traffic</h1>
<p class="byline">By Jane Doe</p>
{"".join(f"<p>{p}</p>" for p in PARAS)}
</article>
<aside class="related"><h2>Related stories</h2><ul><li><a href="/a">Bus fares to rise in January</a></li>
<li><a href="/b">New cycle lanes open on Station Street</a></li></ul></aside></main>
<footer><p>© 2025 The Harrowfield Post. All rights reserved. Privacy policy. Terms of use.</p></footer>
</body></html>"""


def test_a_page_becomes_its_article_and_metadata(tmp_path: Path) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "mill-road.html").write_text(PAGE, encoding="utf-8")
    (art,) = io.read_records([str(folder)], ReadOptions())
    assert isinstance(art, Article) and "html_extracted" in art.flags
    for p in PARAS:
        assert p in art.text
    for chrome in ("cookies", "Directory of sites", "Related stories", "Bus fares", "All rights reserved", "Sport"):
        assert chrome not in art.text
    assert art.title == "Council closes Mill Road to through traffic"
    assert art.site_name == "The Harrowfield Post" and art.author == "Jane Doe"
    assert art.url == "https://post.example/news/mill-road" and art.published == "2025-12-06"
    # --extract all: every visible text, as the old --strip-html; the <title> is the title.
    (everything,) = io.read_records([str(folder)], ReadOptions(extract="all"))  # type: ignore[arg-type]
    assert isinstance(everything, Article) and "html_stripped" in everything.flags
    assert "Related stories" in everything.text and PARAS[0] in everything.text
    assert everything.title == "Council closes Mill Road | The Harrowfield Post"


def test_a_page_in_a_text_column_is_extracted_and_its_given_title_kept(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "in.jsonl", [{"id": "p", "title": "Given title", "text": PAGE, "published": "2025-12-01"}])
    (art,) = io.read_records([str(f)], ReadOptions())
    assert isinstance(art, Article) and "html_extracted" in art.flags and PARAS[1] in art.text
    assert art.title == "Given title" and art.published == "2025-12-01" and "Accept all" not in art.text


def test_a_page_with_no_article_falls_back_to_its_visible_text(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "in.jsonl", [{"id": "p", "text": "<html><body><footer>Contact us</footer></body></html>"}])
    (art,) = io.read_records([str(f)], ReadOptions())
    assert isinstance(art, Article) and "extract_fallback" in art.flags and art.text == "Contact us"


def test_extract_command_writes_what_the_models_read(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.html").write_text(PAGE, encoding="utf-8")
    (folder / "b.txt").write_text("World\nFloods in Malawi\n6. Dezember 2025\n\nHeavy rains forced thousands of people "
                                  "from their homes in southern Malawi on Saturday, officials said.\n\nAdvertisement\n",
                                  encoding="utf-8")
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "x", "text": "The council met on Tuesday to vote on the "
                                               "budget for next year.", "published": "soon"}, "{not json"])
    res = invoke(["extract", str(folder), str(bad), "--out", "-", "-q"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["a.html", "b.txt", "x", None]
    a, b, x, rej = rows
    assert a["title"] == "Council closes Mill Road to through traffic" and a["lang"] == "en"
    assert a["published_at"] == "2025-12-06T00:00:00+00:00" and a["site_name"] == "The Harrowfield Post"
    assert a["text"].startswith(PARAS[0]) and "html_extracted" in a["flags"]
    assert b["title"] == "Floods in Malawi" and b["published_at"] == "2025-12-06T00:00:00+00:00"
    assert b["removed"] == ["World", "Floods in Malawi", "6. Dezember 2025", "Advertisement"]
    assert b["text"].startswith("Heavy rains") and {"header_parsed", "chrome_removed"} <= set(b["flags"])
    assert x["published"] == "soon" and x["published_at"] is None and "bad_published" in x["flags"]
    assert rej["status"] == "error" and "invalid JSON" in rej["error"]
    # Parquet: the declared schema of `summarize schema`; --extract none leaves the page as it is.
    out = tmp_path / "x.parquet"
    res = invoke(["extract", str(folder), "--out", str(out), "--extract", "none", "-q"])
    assert res.exit_code == 0, res.output
    table = pq.read_table(out)
    assert table.schema.names == FILES["extracted"].names
    got = table.to_pylist()
    assert got[0]["text"].startswith("<!DOCTYPE html>") and got[0]["flags"] == ["html"]
    assert got[1]["removed"] == [] and got[1]["published_at"] is None
    assert table.column("published_at").type.tz == "UTC"


def test_a_page_with_no_tree_is_said_by_its_flags_not_by_the_extractors_error_lines(tmp_path: Path) -> None:
    # A redirect stub as crawlers save them: scripts and a <noscript> refresh, no document at all.
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "redirect.html").write_text('<script>var go = 1;</script>\n<noscript><META http-equiv="refresh" '
                                          'content="0;URL=\'https://example.com\'"></noscript>\n', encoding="utf-8")
    res = invoke(["extract", str(folder), "--out", "-"])
    assert res.exit_code == 0, res.output
    (row,) = (json.loads(line) for line in res.stdout.splitlines())
    assert "extract_fallback" in row["flags"]
    assert "trafilatura" not in res.stderr and "ERROR" not in res.stderr, res.stderr


def test_the_site_name_pages_add_to_their_title_is_not_part_of_the_headline() -> None:
    from summarize.io.pages import site_free_title

    headline = "Takeaways from the civil fraud trial"
    cases = [
        # (title, site name, url) -> (title, site name)
        ((f"{headline} | CNN Politics", "CNN", "https://www.cnn.com/x"), (headline, "CNN")),
        ((f"{headline} -- Sott.net", "Sott.net", None), (headline, "Sott.net")),
        ((f"{headline} | Yonhap News Agency", "Yonhap News Agency", "https://en.yna.co.kr/v"), (headline, "Yonhap News Agency")),
        # a site name that holds a separator itself, before the headline
        ((f"LinkNaija | Nigeria's news platform: {headline}", "LinkNaija | Nigeria's news platform", None),
         (headline, "LinkNaija | Nigeria's news platform")),
        # a breadcrumb: the trail before the site's name goes with it; the site is named by the host alone
        ((f"{headline} » Local » Noticias » Ultima Hora Mallorca", None, "http://ultimahora.es/a.html"),
         (headline, "Ultima Hora Mallorca")),
        # CJK titles write the separator without spaces
        (("短缺药品保供稳价-新华网", "新华网", None), ("短缺药品保供稳价", "新华网")),
        # no site name: the part of the title that names the host is the site's name
        (("ผล DNA ยืนยัน อ.สุรชัย | ประชาไท Prachatai.com", None, "https://prachatai.com/j/1"),
         ("ผล DNA ยืนยัน อ.สุรชัย", "ประชาไท Prachatai.com")),
        # a site name and a headline in the title of a page that is the site's (a home page)
        (("SimplyScience - Wie entsteht Erdöl?", "SimplyScience", None), ("Wie entsteht Erdöl?", "SimplyScience")),
    ]
    for given, expected in cases:
        assert site_free_title(*given) == expected, given
    kept = [
        # no site known: nothing to tell a site's name from a part of the headline
        (f"Guerre en Ukraine : {headline}", None, None),
        # parts that do not name the site stay: a topic before a colon, a dash inside the headline
        (f"Analysis: {headline}", "CNN", "https://www.cnn.com/x"),
        ("Brexit - the long goodbye", "The Harrowfield Post", "https://post.example/a"),
        # a short site name is matched as a word, not as the start of one ("Apple" is not "AP" ...)
        ("Apple shares fall - Markets", "AP", "https://apnews.com/a"),
        # ... and a host's name under 5 letters only as the whole part
        ("Cnnamon buns sell out | Food", None, "https://www.cnn.com/a"),
        # a Latin name and a dash without spaces are one word
        ("BBC-Chef tritt zurück", "BBC", "https://www.bbc.co.uk/a"),
        ("ADAC-Test: Kindersitze im Herbst", "ADAC", None),
        # a title that is only the site's name stays, and so does the site name
        ("BMJV", "BMJV", "https://www.bmjv.de/"),
        # a huge title is not looked into
        ("x | " * 10_000, "x", None),
    ]
    for title, site, url in kept:
        assert site_free_title(title, site, url) == (title, site), title
    # a URL with no host to read: the site name alone still tells
    assert site_free_title(f"{headline} | Post", "Post", "http://[not-a-host") == (headline, "Post")


def test_a_page_whose_og_title_carries_the_site_name_gives_the_headline(tmp_path: Path) -> None:
    page = PAGE.replace(
        '<meta property="og:title" content="Council closes Mill Road to through traffic">',
        '<meta property="og:title" content="Council closes Mill Road to through traffic | The Harrowfield Post">',
    ).replace('"headline": "Council closes Mill Road to through traffic", ', "")
    assert "| The Harrowfield Post\">" in page
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "page.html").write_text(page, encoding="utf-8")
    (art,) = io.read_records([str(tmp_path / "pages")], ReadOptions())
    assert isinstance(art, Article) and art.title == "Council closes Mill Road to through traffic"
    assert art.site_name == "The Harrowfield Post"
