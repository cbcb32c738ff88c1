"""Real pages saved as text dumps: what `summarize extract` makes of their header and chrome lines.

A scraper that saves a page as text keeps every visible text: the menu first, then the article,
the "related stories", the footer. This script makes such dumps of a folder of scored pages (the
layout `benchmarks/extract.py --pages` reads, e.g. the folder `benchmarks/trafilatura_realworld.py`
builds from trafilatura's real-world tests): each page's visible text as `summarize extract
--extract all` gives it, saved as a `.txt` file. It then reads the dumps with the real command,
`summarize extract DUMPS --out -`, as a user would (`--extract main`, the default, and `--extract
none`), and reports:

* the article and boilerplate strings found, scored as `extract.py` scores pages (a dump's header
  and chrome handling removes whole known lines only: it is not an extractor, and this says how
  much of the page's chrome is left to the models when pages arrive as text);
* how many dumps got a header (`header_parsed`) and lost chrome lines (`chrome_removed`), and the
  title and date each header gave, for a person to read: on a dump of a whole page a header is
  right only where the page's text starts with its headline.

Run from the repository root:

    python benchmarks/trafilatura_realworld.py trafilatura-1.0.0.tar.gz /tmp/realworld
    .venv/bin/python benchmarks/dumps_realworld.py /tmp/realworld [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._common import emit  # noqa: E402
from benchmarks.extract import cli_rows, score  # noqa: E402


def make_dumps(pages: Path, dumps: Path) -> dict[str, dict[str, list[str]]]:
    """Write each page's visible text to `dumps` as NAME.txt; the expected strings, keyed by dump."""
    expected = json.loads((pages / "expected.json").read_text(encoding="utf-8"))["pages"]
    visible = cli_rows(pages, "all")
    out = {}
    for name, strings in expected.items():
        dump = Path(name).stem + ".txt"
        (dumps / dump).write_text(visible[name]["text"] or "", encoding="utf-8")
        out[dump] = strings
    return out


def run(pages: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as work:
        dumps = Path(work)
        expected = make_dumps(pages, dumps)
        rows = {mode: cli_rows(dumps, mode) for mode in ("main", "none")}
    main = rows["main"]
    return {
        "dumps": len(expected),
        "quality": {f"--extract {mode}": score({n: r["text"] or "" for n, r in got.items()}, expected)
                    for mode, got in rows.items()},
        "header_parsed": sum("header_parsed" in r["flags"] for r in main.values()),
        "chrome_removed": sum("chrome_removed" in r["flags"] for r in main.values()),
        "lines_removed": sum(len(r["removed"]) for r in main.values()),
        "headers": {n: {"title": r["title"], "published": r["published"]}
                    for n, r in sorted(main.items()) if "header_parsed" in r["flags"]},
    }


def report(result: dict[str, Any]) -> str:
    lines = [f"{result['dumps']} dumps; header_parsed {result['header_parsed']}, chrome_removed "
             f"{result['chrome_removed']} ({result['lines_removed']} lines removed)", "",
             "| reading | precision | recall | F1 | boilerplate strings found |", "|---|---:|---:|---:|---:|"]
    for name, s in result["quality"].items():
        lines.append(f"| {name} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['fp']} of {s['fp'] + s['tn']} |")
    lines += ["", "Headers found (title | published):"]
    lines += [f"  {n}: {h['title']!r} | {h['published']!r}" for n, h in result["headers"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", type=Path, help="folder of pages with an expected.json")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    result = run(args.pages)
    return emit(report(result), result, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
