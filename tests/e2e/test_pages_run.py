"""`run` reads pages and text dumps through the same stage as `summarize extract` (tiny models)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from summarize.text import content_hash

from ..conftest import invoke, read

DUMP = ("Politik\nBundestag beschließt neues Klimagesetz\n6. Dezember 2025\nVon Anna Schmidt\n\n"
        "Der Bundestag hat am Freitag ein neues Klimagesetz beschlossen. Die Koalition stimmte geschlossen dafür, "
        "die Opposition kündigte eine Klage vor dem Bundesverfassungsgericht an.\n\nAnzeige\n\n"
        "Das Gesetz soll im kommenden Jahr in Kraft treten und die Emissionen bis 2030 deutlich senken.\n\nTeilen\n")
PAGE = ("<!DOCTYPE html><html><head><title>Mill Road closes | Harrowfield Post</title>"
        '<meta property="og:site_name" content="Harrowfield Post"></head><body>'
        "<nav><a href='/'>Home</a> <a href='/sport'>Sport</a> <a href='/login'>Directory of sites Login</a></nav>"
        "<article><h1>Council closes Mill Road</h1><p>The city council voted on Tuesday to close Mill Road to through "
        "traffic from next spring, ending a dispute that has divided residents for more than three years.</p>"
        "<p>Buses, bicycles and emergency vehicles will still be allowed through a new gate near the railway bridge, "
        "while delivery vans will have access before ten in the morning.</p></article>"
        "<footer>© 2025 Harrowfield Post. All rights reserved.</footer></body></html>")


def test_run_writes_what_extract_reads(tmp_path: Path, fast_args: list[str]) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "dump.txt").write_text(DUMP, encoding="utf-8")
    (folder / "page.html").write_text(PAGE, encoding="utf-8")
    # A page named as an input on its own, whose og:title carries the outlet's name.
    single = tmp_path / "single.html"
    single.write_text(PAGE.replace("<title>Mill Road closes | Harrowfield Post</title>",
                                   '<meta property="og:title" content="Mill Road to close | Harrowfield Post">'),
                      encoding="utf-8")
    res = invoke(["extract", str(folder), str(single), "--out", "-", "-q"])
    assert res.exit_code == 0, res.output
    extracted = {r["id"]: r for r in map(json.loads, res.stdout.splitlines())}
    out = tmp_path / "out"
    res = invoke(["run", str(folder), str(single), "--out", str(out), "--to", "en", "--translate", "title", *fast_args])
    assert res.exit_code == 0, res.output
    arts = {r["id"]: r for r in read(out, "articles").to_dicts()}
    dump, page = arts["dump.txt"], arts["page.html"]
    assert dump["title"] == "Bundestag beschließt neues Klimagesetz" and dump["author"] == "Anna Schmidt"
    assert dump["published_at"] == dt.datetime(2025, 12, 6, tzinfo=dt.UTC)
    assert dump["removed"] == ["Politik", "Bundestag beschließt neues Klimagesetz", "6. Dezember 2025",
                               "Von Anna Schmidt", "Anzeige", "Teilen"]
    assert {"header_parsed", "chrome_removed"} <= set(dump["flags"]) and dump["lang"] == "de"
    assert page["site_name"] == "Harrowfield Post" and "html_extracted" in page["flags"]
    assert page["title"] == "Council closes Mill Road" and page["lang"] == "en"
    assert arts["single.html"]["source"] == str(single) and arts["single.html"]["site_name"] == "Harrowfield Post"
    assert arts["single.html"]["title"] == "Mill Road to close"
    for name in ("dump.txt", "page.html", "single.html"):
        for col in ("title", "author", "site_name", "url", "removed", "lang", "published_at"):
            got = arts[name][col].isoformat() if col == "published_at" and arts[name][col] else arts[name][col]
            assert got == extracted[name][col], (name, col)
        # The run adds quality flags (low_confidence, ...) to what reading flagged.
        assert set(extracted[name]["flags"]) <= set(arts[name]["flags"]), name
        # The models read exactly the text `extract` shows: the run hashed the same title and text.
        assert arts[name]["content_hash"] == content_hash(extracted[name]["title"], extracted[name]["text"])
