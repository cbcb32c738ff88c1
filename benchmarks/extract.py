"""Benchmark page extraction: how much of the article and how much page chrome the models read, and how fast.

Scored the way trafilatura's own evaluation scores extractors: every page of
`benchmarks/data/pages/` (real news pages, see `expected.json` for their source) comes with strings
that belong to its article (`with`) and strings of its boilerplate (`without`). A `with` string
found in the output is a true positive, one missing a false negative; a `without` string found is a
false positive, one missing a true negative. Precision, recall, F1 and accuracy are over all pages.

Three ways of reading a page are compared:

* `summarize extract` (`--extract main`, the default), run as the real command;
* trafilatura called directly (`trafilatura.extract`, its defaults);
* today's strip (`summarize extract --extract all`: every visible text, as `--strip-html` did).

Two faster extractors are scored and timed beside them, as the alternatives to weigh: trafilatura's
own `fast=True` (no fallback extractors) and, when it is installed (`pip install resiliparse`; not a
dependency of the project), Resiliparse's `extract_plain_text(main_content=True)`, a C++ extractor.
`--extract main` with trafilatura's `favor_precision=True` (its setting for less chrome at the risk
of less article) is scored too.

Speed: pages per second of one core's CPU time, for the extraction stage alone (`io.extract.
extract_text`, the function every reader calls) and for the language detection that follows it
on the extracted text (the target: extraction is never slower than detection). Run from the
repository root:

    .venv/bin/python benchmarks/extract.py [--pages DIR] [--repeat 5] [--json FILE]

`--pages DIR` reads another folder laid out the same way (pages and an `expected.json` with
`{"pages": {FILE: {"with": [...], "without": [...]}}}`), e.g. trafilatura's whole evaluation set.

`--newspaper SDIST` adds a second set: the news pages that newspaper4k's source distribution ships
for its own tests (`tests/data/html/`, whole pages as saved from CNN, Time, Wired, Fox, Yonhap,
Xinhua, Nikkei, BBC Burmese, Thai, Arabic, Spanish and Latvian outlets, 466 KB each on average: the
size of today's news pages), each with the article text its maintainers expect
(`tests/data/txt/`). Nothing of it is copied here; fetch it with

    pip download --no-deps --no-binary :all: newspaper4k==0.9.6

and pass the `.tar.gz` (or the folder it unpacks to). Those pages are scored by their words: the
share of the output's words that are in the expected text (precision) and of the expected text's
words that are in the output (recall), as multisets, averaged over pages (a character of a script
written without spaces, Chinese, Japanese, Thai, Burmese, counts as a word). The expected texts are
newspaper4k's own notion of the article (it leaves out captions and bylines), so they favour it a
little over the others; they are read by no code of this project's. For 20 of them the tests also
expect metadata (`tests/data/metadata/`); the title, date, site name, URL and authors that
`summarize extract` gives are counted against it. That is newspaper4k's own reading of the page,
not a person's: where the two differ, either may be right.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from summarize.detect.detector import make_detector  # noqa: E402
from summarize.io.decode import decode  # noqa: E402
from summarize.io.extract import extract_text  # noqa: E402
from summarize.io.pages import extract_page  # noqa: E402
from summarize.options import DetectOptions, Extract  # noqa: E402

PAGES = ROOT / "benchmarks" / "data" / "pages"


def score(texts: dict[str, str], expected: dict[str, dict[str, list[str]]]) -> dict[str, float]:
    """Precision, recall, F1 and accuracy over every page's `with` and `without` strings."""
    tp = fn = fp = tn = 0
    for name, exp in expected.items():
        text = " ".join(texts.get(name, "").split())
        for s in exp["with"]:
            found = " ".join(s.split()) in text
            tp, fn = tp + found, fn + (not found)
        for s in exp.get("without", ()):
            found = " ".join(s.split()) in text
            fp, tn = fp + found, tn + (not found)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3),
            "accuracy": round((tp + tn) / max(1, tp + fn + fp + tn), 3), "tp": tp, "fn": fn, "fp": fp, "tn": tn}


def via_cli(folder: Path, mode: str) -> dict[str, str]:
    """Each page's text as the real `summarize extract` command writes it (JSONL on stdout)."""
    return {name: row["text"] or "" for name, row in cli_rows(folder, mode).items()}


def cli_rows(folder: Path, mode: str = "main") -> dict[str, dict[str, Any]]:
    """Each file's row as the real `summarize extract FOLDER --extract MODE` writes it (JSONL on stdout),
    run from this checkout whatever the current folder."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "summarize.cli", "extract", str(folder.resolve()), "--out", "-", "-q",
                          "--extract", mode], capture_output=True, text=True, env=env, check=True, cwd=ROOT).stdout
    return {row["id"]: row for row in map(json.loads, out.splitlines())}


def _key(text: Any) -> str:
    """Letters and digits only, case-folded: two titles agree whatever their quotes and spacing."""
    return "".join(ch for ch in str(text or "").casefold() if ch.isalnum())


def _bare_url(url: Any) -> str:
    return re.sub(r"^https?://", "", str(url or "")).rstrip("/")


def metadata_agreement(rows: dict[str, dict[str, Any]], expected: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """How often a page's title, date, site name, URL and authors agree with what newspaper4k's
    tests expect of it (`tests/data/metadata/`: newspaper4k's own reading, not a person's).

    Each field counts the pages where newspaper4k gives a value: `same`, `other` (a different
    value) and `none` (we give none); `extra` counts the pages where only we give one. Titles
    and site names agree when their letters and digits do; dates on the day; URLs without their
    scheme; authors when one name is in both lists.
    """
    def field(ours: Callable[[dict[str, Any]], Any], theirs: Callable[[dict[str, Any]], Any],
              same: Callable[[Any, Any], bool]) -> dict[str, int]:
        counts = Counter({"same": 0, "other": 0, "none": 0, "extra": 0})
        for name, gold in expected.items():
            a, b = ours(rows[name]), theirs(gold)
            counts["extra" if not b and a else "none" if b and not a else "same" if a and same(a, b) else
                   "other" if a else "neither"] += 1
        counts.pop("neither", None)
        return dict(counts)

    def authors(value: Any) -> set[str]:
        names = value if isinstance(value, list) else str(value or "").split(";")
        return {_key(n) for n in names if _key(n)}

    return {
        "pages": len(expected),
        "title": field(lambda r: r["title"], lambda g: g.get("title"), lambda a, b: _key(a) == _key(b)),
        "published": field(lambda r: (r["published_at"] or "")[:10], lambda g: (g.get("publish_date") or "")[:10],
                           lambda a, b: a == b),
        "site_name": field(lambda r: r["site_name"], lambda g: g.get("meta_site_name"), lambda a, b: _key(a) == _key(b)),
        "url": field(lambda r: r["url"], lambda g: g.get("canonical_link"), lambda a, b: _bare_url(a) == _bare_url(b)),
        "author": field(lambda r: authors(r["author"]), lambda g: authors(g.get("authors")), lambda a, b: bool(a & b)),
    }


def trafilatura_direct(pages: dict[str, str]) -> dict[str, str]:
    return {name: trafilatura_default(html) for name, html in pages.items()}


def without_fallbacks(html: str) -> str:
    """The article as `--extract main` would read it with trafilatura's `fast=True`: its own
    extraction alone, never compared with readability's and jusText's (metadata as usual)."""
    return extract_page(html, fast=True).text


def favoring_precision(html: str) -> str:
    """The article as `--extract main` would read it with trafilatura's `favor_precision=True`."""
    return extract_page(html, precise=True).text


def trafilatura_default(html: str) -> str:
    import trafilatura

    return trafilatura.extract(html) or ""


def trafilatura_fast(html: str) -> str:
    import trafilatura

    return trafilatura.extract(html, fast=True, include_comments=False) or ""


def resiliparse_main(html: str) -> str | None:
    """Resiliparse's main-content text, or None when it is not installed."""
    try:
        from resiliparse.extract.html2text import extract_plain_text
        from resiliparse.parse.html import HTMLTree
    except ImportError:
        return None
    return str(extract_plain_text(HTMLTree.parse(html), main_content=True))


def per_core_rate(fn: Callable[[str], Any], items: list[str], repeat: int) -> float:
    """Items per second of this process's CPU time (one core: the work is single-threaded), after
    one untimed pass: what loads once per process (imports, jusText's stop lists, the detection
    models of each language met) is not a cost of each page."""
    for item in items:
        fn(item)
    start = time.process_time()
    for _ in range(repeat):
        for item in items:
            fn(item)
    return round(repeat * len(items) / max(1e-9, time.process_time() - start), 1)


# A word: a run of letters and digits, or one character of a script written without spaces.
_WORD = re.compile(r"[\u0E00-\u0E7F\u1000-\u109F\u3040-\u30FF\u3400-\u9FFF\uF900-\uFAFF]|\w+")


def word_score(texts: dict[str, str], gold: dict[str, str]) -> dict[str, float]:
    """Precision and recall of the output's words against the expected text's, averaged over pages."""
    precision = recall = 0.0
    for name, want in gold.items():
        g = Counter(w.casefold() for w in _WORD.findall(want))
        o = Counter(w.casefold() for w in _WORD.findall(texts.get(name) or ""))
        both = sum((g & o).values())
        precision += both / sum(o.values()) if o else 0.0
        recall += both / sum(g.values()) if g else 0.0
    p, r = precision / len(gold), recall / len(gold)
    return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(2 * p * r / (p + r) if p + r else 0.0, 3)}


def newspaper_set(path: Path, work: Path) -> tuple[Path, dict[str, str]]:
    """The folder of newspaper4k's test pages and, for each page that has one, its expected text."""
    if path.is_file():
        with tarfile.open(path) as tar:
            tar.extractall(work, filter="data")
        path = next(work.glob("newspaper4k-*"))
    data = path / "tests" / "data"
    gold = {f"{t.stem}.html": t.read_text(encoding="utf-8") for t in sorted((data / "txt").glob("*.txt"))
            if (data / "html" / f"{t.stem}.html").exists()}
    return data / "html", gold


def speeds(htmls: list[str], repeat: int, resiliparse: bool) -> dict[str, float]:
    """Pages/s per core of each way of reading a page, and of the detection that follows."""
    texts = [extract_text(h, Extract.main, page=True).text for h in htmls]
    detector = make_detector(DetectOptions())
    speed = {
        "extract main, pages/s per core": per_core_rate(lambda h: extract_text(h, Extract.main, page=True), htmls, repeat),
        "extract all, pages/s per core": per_core_rate(lambda h: extract_text(h, Extract.all, page=True), htmls, repeat),
        "detection of the extracted text, pages/s per core": per_core_rate(detector.detect, texts, repeat),
        "extract main without the fallback comparison (fast=True), pages/s per core":
            per_core_rate(without_fallbacks, htmls, repeat),
        "trafilatura fast=True, pages/s per core": per_core_rate(trafilatura_fast, htmls, repeat),
        "trafilatura, its defaults, pages/s per core": per_core_rate(trafilatura_default, htmls, repeat),
    }
    if resiliparse:
        speed["resiliparse main_content, pages/s per core"] = per_core_rate(resiliparse_main, htmls, repeat)
    return speed


def score_all(folder: Path, pages: dict[str, str],
              scorer: Callable[[dict[str, str]], dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each way of reading the pages of `folder` (`pages`: their decoded HTML), scored by `scorer`."""
    results = {
        "summarize extract (main)": scorer(via_cli(folder, "main")),
        "trafilatura.extract": scorer(trafilatura_direct(pages)),
        "today's strip (--extract all)": scorer(via_cli(folder, "all")),
        "trafilatura.extract, fast=True": scorer({n: trafilatura_fast(h) for n, h in pages.items()}),
        "--extract main, fast=True (no fallback comparison)": scorer({n: without_fallbacks(h) for n, h in pages.items()}),
        "--extract main, favor_precision=True": scorer({n: favoring_precision(h) for n, h in pages.items()}),
    }
    fast = {n: resiliparse_main(h) for n, h in pages.items()}
    if all(t is not None for t in fast.values()):
        results["resiliparse, main_content=True"] = scorer({n: t or "" for n, t in fast.items()})
    return results


def run_newspaper(path: Path, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as work:
        folder, gold = newspaper_set(path, Path(work))
        pages = {name: decode((folder / name).read_bytes(), name)[0] for name in gold}
        results = score_all(folder, pages, lambda texts: word_score(texts, gold))
        htmls = list(pages.values())
        meta = folder.parent / "metadata"
        expected = {f"{m.stem}.html": json.loads(m.read_text(encoding="utf-8")) for m in sorted(meta.glob("*.json"))
                    if (folder / f"{m.stem}.html").exists()}
        return {"pages": len(pages), "chars_per_page": round(sum(map(len, htmls)) / len(htmls)),
                "quality": results, "metadata": metadata_agreement(cli_rows(folder), expected),
                "speed": speeds(htmls, repeat, "resiliparse, main_content=True" in results)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    folder: Path = args.pages
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))["pages"]
    pages = {name: decode((folder / name).read_bytes(), name)[0] for name in expected}
    results = score_all(folder, pages, lambda texts: score(texts, expected))
    htmls = list(pages.values())
    result = {"pages": len(pages), "chars_per_page": round(sum(map(len, htmls)) / len(htmls)),
              "with_strings": sum(len(e["with"]) for e in expected.values()),
              "without_strings": sum(len(e.get("without", ())) for e in expected.values()),
              "quality": results, "speed": speeds(htmls, args.repeat, "resiliparse, main_content=True" in results)}
    if args.newspaper:
        result["newspaper4k"] = run_newspaper(args.newspaper, args.repeat)
    return result


def report(result: dict[str, Any]) -> str:
    lines = [f"{result['pages']} pages ({result['chars_per_page']:,} characters each on average), "
             f"{result['with_strings']} article strings, {result['without_strings']} boilerplate strings", "",
             "| method | precision | recall | F1 | accuracy |", "|---|---:|---:|---:|---:|"]
    for name, s in result["quality"].items():
        lines.append(f"| {name} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['accuracy']:.3f} |")
    lines += ["", "| stage | pages/s per core |", "|---|---:|"]
    lines += [f"| {name} | {rate:,.1f} |" for name, rate in result["speed"].items()]
    if "newspaper4k" in result:
        news = result["newspaper4k"]
        lines += ["", f"newspaper4k's test pages: {news['pages']} pages ({news['chars_per_page']:,} characters each "
                  "on average), scored by their words", "", "| method | precision | recall | F1 |", "|---|---:|---:|---:|"]
        lines += [f"| {name} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} |" for name, s in news["quality"].items()]
        meta = news["metadata"]
        lines += ["", f"Metadata of `summarize extract` against newspaper4k's expected metadata ({meta['pages']} pages)",
                  "", "| field | same | other | only newspaper4k | only summarize |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {name} | {c['same']} | {c['other']} | {c['none']} | {c['extra']} |"
                  for name, c in meta.items() if name != "pages"]
        lines += ["", "| stage | pages/s per core |", "|---|---:|"]
        lines += [f"| {name} | {rate:,.1f} |" for name, rate in news["speed"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=Path, default=PAGES, help="folder of pages with an expected.json")
    parser.add_argument("--repeat", type=int, default=5, help="passes over the pages for the speed figures")
    parser.add_argument("--newspaper", type=Path, help="newspaper4k's source distribution (.tar.gz or its folder): "
                        "score and time its test pages too")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    result = run(args)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
