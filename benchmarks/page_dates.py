"""Benchmark the publication date `summarize extract` finds in real web pages, on htmldate's own test pages.

htmldate (which trafilatura, and so `summarize extract`, calls for a page's date) shipped in its
source distributions up to 1.4.0 the saved pages of its tests (`tests/cache/`, 68 pages: German,
English and French news, blogs, institutions, shops, terms of service) and, in
`tests/unit_tests.py`, the date it must find in each (`assert find_date(load_mock_page(URL), ...)
== "YYYY-MM-DD"`, or `is None` for a page with no date). Later source distributions leave the
pages out (1.4.1 to 1.11.0, the version installed here, ship none), so the pages and their
expected dates come from 1.4.0. This script reads those assertions by parsing the test file, never
running it, and keeps one expected date a page: the one asserted with `original_date=True` when
the test asserts one (the publication date, which is what `summarize` asks htmldate for), else
the one asserted with htmldate's defaults (`original_date=False`: the last-updated date when the
page gives both), and of the assertions with `extensive_search=False` and `=True`, the second
(htmldate's default; the first says only what the strict search misses). An assertion made only
when dateparser is installed counts (it is, in this environment). Nothing of the source
distribution is copied into this repository. Fetch it with

    pip download --no-deps --no-binary :all: htmldate==1.4.0

and run, from the repository root:

    taskset -c 1 .venv/bin/python benchmarks/page_dates.py htmldate-1.4.0.tar.gz [--json FILE]

Five ways of dating a page are scored (correct, wrong: a date other than the expected one,
missing: none) and timed:

* `summarize extract FOLDER --out OUT.parquet`, the real command, on the pages saved as .html
  files: the date part of its `published_at` column (`id` is the file name);
* `htmldate.find_date` called as `summarize` has trafilatura call it (`extensive_search=False,
  original_date=True, max_date="2099-12-31"`), on the page as `summarize` decodes it;
* the same with `extensive_search=True`;
* `trafilatura.metadata.extract_metadata(html, date_config=...)` with each of the two settings
  (what `summarize` runs: it also hands htmldate the page's own canonical URL, whose path may
  hold a date).

Time is one core's CPU time per page, htmldate's and trafilatura's caches emptied before each
page (no page is dated twice in a real run); for the command, wall time of the whole run (start-up,
reading, language detection and the Parquet file included) over the pages, and the CPU time of
`extract_page` (the extraction a page goes through, text and metadata) in this process.

Each page where the command's date is not the expected one is listed, with the other methods'
answers beside it, so a person can look at why. A difference of one day is flagged `time zone`
when the page holds an ISO time stamp with an offset whose local date is one of the two dates
and whose UTC date is the other.

These are htmldate's regression tests: its authors tuned it until it passes them (with its
defaults, `extensive_search=True`), so they favour htmldate's default settings over any other;
some expected values are approximations its authors wrote down as such (`test_approximate_date`,
counted apart). No code of this project was tuned on them. Five of the pages are also among
trafilatura 1.0.0's test pages (`benchmarks/trafilatura_realworld.py`), scored there for their
text only.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._common import emit  # noqa: E402
from summarize.io.decode import decode  # noqa: E402

SUMMARIZE_PARAMS = {"extensive_search": False, "original_date": True, "max_date": "2099-12-31",
                    "outputformat": "%Y-%m-%d"}


# --- the expected dates, from the test file --------------------------------------------------------

def _literal(node: ast.expr) -> Any:
    return ast.literal_eval(node)


def _mock_url(call: ast.expr) -> str | None:
    """The URL of a `load_mock_page(URL)` call (its default folder and dictionary), else None."""
    if (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "load_mock_page" and len(call.args) == 1
            and not call.keywords and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str)):
        return call.args[0].value
    return None


def _as_iso(value: str | None, outputformat: str) -> str | None:
    if value is None:
        return None
    return dt.datetime.strptime(value, outputformat).strftime("%Y-%m-%d")


def assertions(source: str) -> tuple[dict[str, str], list[dict[str, Any]], list[dict[str, Any]]]:
    """The test file's URL -> page file table, its `find_date(load_mock_page(URL), ...) == X`
    assertions, and the uses of a saved page that are no such assertion (with why)."""
    tree = ast.parse(source)
    pages: dict[str, str] = {}
    for top in tree.body:
        if isinstance(top, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "MOCK_PAGES" for t in top.targets):
            pages = _literal(top.value)
    context: dict[int, tuple[str, bool]] = {}  # node -> (test function, under `if EXT_PARSER`)

    def visit(node: ast.AST, function: str, dateparser: bool) -> None:
        if isinstance(node, ast.FunctionDef):
            function = node.name
        if isinstance(node, ast.If) and "EXT_PARSER" in ast.unparse(node.test):
            dateparser = True
        context[id(node)] = (function, dateparser)
        for child in ast.iter_child_nodes(node):
            visit(child, function, dateparser)

    visit(tree, "", False)
    found: list[dict[str, Any]] = []
    used: set[int] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq | ast.Is)
                and isinstance(node.left, ast.Call) and getattr(node.left.func, "id", None) == "find_date"
                and node.left.args and (url := _mock_url(node.left.args[0])) is not None):
            continue
        used.add(id(node.left.args[0]))
        function, dateparser = context[id(node)]
        entry: dict[str, Any] = {"url": url, "line": node.lineno, "function": function, "needs_dateparser": dateparser}
        try:
            kwargs = {k.arg: _literal(k.value) for k in node.left.keywords}
            expected = _literal(node.comparators[0])
        except ValueError:
            found.append({**entry, "excluded": "an argument or the expected value is not a literal"})
            continue
        extra = set(kwargs) - {"original_date", "extensive_search", "outputformat"} or len(node.left.args) > 1
        if extra or (expected is not None and not isinstance(expected, str)):
            found.append({**entry, "excluded": f"other arguments: {sorted(kwargs)}"})
            continue
        try:
            iso = _as_iso(expected, kwargs.get("outputformat", "%Y-%m-%d"))
        except ValueError:
            found.append({**entry, "excluded": f"expected value {expected!r} not a date"})
            continue
        found.append({**entry, "expected": iso, "original_date": kwargs.get("original_date"),
                      "extensive_search": kwargs.get("extensive_search")})
    other = [{"url": url, "line": node.lineno, "function": context[id(node)][0],
              "excluded": "the page is used in another call than find_date (e.g. search_page)"}
             for node in ast.walk(tree) if (url := _mock_url(node)) is not None and id(node) not in used]
    return pages, found, other


def expected_dates(pages: dict[str, str], found: list[dict[str, Any]],
                   files: set[str]) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """One expected date (or None: the page has none) a page file, and the assertions left out."""
    excluded = [a for a in found if "excluded" in a]
    by_page: dict[str, list[dict[str, Any]]] = {}
    for a in found:
        if "excluded" in a:
            continue
        name = pages.get(a["url"])
        if name is None or name not in files:
            excluded.append({**a, "excluded": "URL not in MOCK_PAGES" if name is None else f"{name} not in tests/cache"})
            continue
        by_page.setdefault(name, []).append(a)
    chosen: dict[str, dict[str, Any]] = {}
    for name, asserted in by_page.items():
        default_search = [a for a in asserted if a["extensive_search"] in (None, True)] or asserted
        original = [a for a in default_search if a["original_date"] is True]
        picked = original or default_search
        values = {a["expected"] for a in picked}
        if len(values) != 1:
            excluded += [{**a, "excluded": f"{name}: assertions with the same settings disagree"} for a in picked]
            continue
        (value,) = values
        others = {a["expected"] for a in asserted} - values
        kind = ("none" if value is None else "original" if original
                else "updated" if any(a["original_date"] is False for a in picked) else "default")
        chosen[name] = {
            "url": picked[0]["url"], "expected": value, "kind": kind,
            "test_distinguishes": bool(original) and any(a["original_date"] is not True and a["expected"] != value
                                                         for a in default_search),
            "strict_search_finds_none": any(a["extensive_search"] is False and a["expected"] is None for a in asserted)
            and value is not None,
            "approximate": any(a["function"] == "test_approximate_date" for a in picked),
            "needs_dateparser": all(a["needs_dateparser"] for a in picked),
            "other_asserted": sorted(v or "None" for v in others),
            "lines": [a["line"] for a in picked],
        }
    return dict(sorted(chosen.items())), excluded


def read_sdist(path: Path) -> tuple[str, dict[str, bytes], str]:
    """The text of tests/unit_tests.py, the bytes of each tests/cache/ page, and the name of the source."""
    if path.is_dir():
        tests = path / "tests"
        pages = {p.name: p.read_bytes() for p in sorted((tests / "cache").glob("*")) if p.is_file()}
        return (tests / "unit_tests.py").read_text(encoding="utf-8"), pages, path.name
    with tarfile.open(path) as tar:
        members = {PurePosixPath(m.name).relative_to(PurePosixPath(m.name).parts[0]).as_posix(): m
                   for m in tar.getmembers() if m.isfile()}

        def read(name: str) -> bytes:
            handle = tar.extractfile(members[name])
            assert handle is not None
            return handle.read()

        pages = {PurePosixPath(n).name: read(n) for n in sorted(members) if n.startswith("tests/cache/")}
        return read("tests/unit_tests.py").decode("utf-8"), pages, path.name


# --- the methods ------------------------------------------------------------------------------------

def via_cli(folder: Path, out: Path) -> tuple[dict[str, str | None], float]:
    """Each page's date (the UTC date of `published_at`) as the real command writes it, and its wall time."""
    import pyarrow.parquet as pq

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = Path(sys.executable).with_name("summarize")
    start = time.perf_counter()
    subprocess.run([str(command), "extract", str(folder), "--out", str(out), "-q"], env=env, check=True)
    wall = time.perf_counter() - start
    table = pq.read_table(out, columns=["id", "published_at"]).to_pylist()
    dates: dict[str, str | None] = {}
    for row in table:
        stamp = row["published_at"]
        if stamp is not None and stamp.tzinfo is not None:
            stamp = stamp.astimezone(dt.UTC)
        dates[Path(row["id"]).name] = stamp.strftime("%Y-%m-%d") if stamp is not None else None
    return dates, wall


def _reset() -> None:
    from trafilatura.meta import reset_caches

    reset_caches()  # htmldate's too


def htmldate_direct(extensive: bool) -> Callable[[str], str | None]:
    from htmldate import find_date

    params = {**SUMMARIZE_PARAMS, "extensive_search": extensive}
    return lambda html: find_date(html, **params)  # type: ignore[arg-type]


def trafilatura_metadata(extensive: bool) -> Callable[[str], str | None]:
    from trafilatura.metadata import extract_metadata

    params = {**SUMMARIZE_PARAMS, "extensive_search": extensive}
    return lambda html: extract_metadata(html, date_config=params).date


def timed(fn: Callable[[str], Any], pages: dict[str, str]) -> tuple[dict[str, Any], float]:
    """`fn` of each page and the mean CPU seconds per page, caches emptied before each page,
    after one untimed pass (imports and what loads once per process are no cost of a page)."""
    for html in pages.values():
        fn(html)
    results: dict[str, Any] = {}
    spent = 0.0
    for name, html in pages.items():
        _reset()
        start = time.process_time()
        results[name] = fn(html)
        spent += time.process_time() - start
    return results, spent / max(1, len(pages))


def score(dates: dict[str, str | None], expected: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Correct / wrong / missing over the pages with a date; on the pages without, none / a date."""
    counts: Counter[str] = Counter()
    for name, e in expected.items():
        got = dates.get(name)
        if e["expected"] is None:
            counts["no_date_pages_none" if got is None else "no_date_pages_dated"] += 1
        else:
            counts["correct" if got == e["expected"] else "missing" if got is None else "wrong"] += 1
    dated = sum(1 for e in expected.values() if e["expected"] is not None)
    return {"correct": counts["correct"], "wrong": counts["wrong"], "missing": counts["missing"],
            "accuracy": round(counts["correct"] / max(1, dated), 3),
            "no_date_pages_none": counts["no_date_pages_none"], "no_date_pages_dated": counts["no_date_pages_dated"]}


# ISO 8601 time stamps with a zone, as pages write them in meta tags and JSON-LD.
_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})")


def time_zone_pair(html: str, a: str, b: str) -> str | None:
    """A time stamp of the page whose local date is one of `a`, `b` and whose UTC date is the other."""
    for m in _STAMP.finditer(html):
        zone = m.group(4)
        try:
            offset = dt.timedelta(0) if zone == "Z" else (
                (1 if zone[0] == "+" else -1) * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[-2:])))
            local = dt.datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}:{m.group(3)}")
        except ValueError:
            continue
        utc = (local - offset).strftime("%Y-%m-%d")
        if {local.strftime("%Y-%m-%d"), utc} == {a, b}:
            return m.group(0)
    return None


def written_in(html: str, iso: str) -> list[str]:
    """The usual spellings of the date `iso` that the page holds."""
    day = dt.date.fromisoformat(iso)
    forms = {iso, day.strftime("%d.%m.%Y"), f"{day.day}.{day.month}.{day.year}", f"{day.day}.{day.month}.{day:%y}",
             day.strftime("%Y/%m/%d"), day.strftime("%d/%m/%Y"), day.strftime("%m/%d/%Y"), day.strftime("%Y%m%d"),
             f"{day:%B} {day.day}, {day.year}", f"{day.day} {day:%B} {day.year}"}
    return sorted(f for f in forms if f in html)


def disagreements(cli: dict[str, str | None], expected: dict[str, dict[str, Any]], pages: dict[str, str],
                  answers: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for name, e in expected.items():
        got = cli.get(name)
        if got == e["expected"]:
            continue
        notes = [e["kind"]]
        if e["approximate"]:
            notes.append("approximate expected value")
        if e["strict_search_finds_none"]:
            notes.append("htmldate's test: extensive_search=False finds none")
        if e["needs_dateparser"]:
            notes.append("asserted with dateparser only")
        zone = None
        if got and e["expected"] and abs((dt.date.fromisoformat(got) - dt.date.fromisoformat(e["expected"])).days) == 1:
            zone = time_zone_pair(pages[name], got, e["expected"])
            notes.append(f"time zone: {zone}" if zone else "one day apart, no zoned time stamp of those dates")
        rows.append({
            "file": name, "url": e["url"], "expected": e["expected"], "got": got, "notes": notes,
            "time_zone": zone is not None,
            "expected_written_in_page": written_in(pages[name], e["expected"]) if e["expected"] else [],
            "got_written_in_page": written_in(pages[name], got) if got else [],
            "other_methods": {method: dates.get(name) for method, dates in answers.items()},
        })
    return rows


# --- the run ----------------------------------------------------------------------------------------

METHODS: dict[str, Callable[[], Callable[[str], Any]]] = {
    "htmldate find_date, extensive_search=False (summarize's settings)": lambda: htmldate_direct(False),
    "htmldate find_date, extensive_search=True": lambda: htmldate_direct(True),
    "trafilatura extract_metadata, extensive_search=False": lambda: trafilatura_metadata(False),
    "trafilatura extract_metadata, extensive_search=True": lambda: trafilatura_metadata(True),
}
CLI = "summarize extract (published_at)"


def run(args: argparse.Namespace) -> dict[str, Any]:
    import htmldate
    import trafilatura

    from summarize.io.pages import extract_page

    source, files, origin = read_sdist(args.sdist)
    urls, found, other = assertions(source)
    expected, excluded = expected_dates(urls, found, set(files))
    excluded += other
    pages = {name: decode(files[name], name, document=True)[0] for name in expected}
    answers: dict[str, dict[str, Any]] = {}
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "pages"
        folder.mkdir()
        for name in expected:
            (folder / name).write_bytes(files[name])
        cli, wall = via_cli(folder, Path(work) / "out.parquet")
    answers[CLI] = cli
    seconds[CLI] = wall / len(expected)
    _, seconds["extract_page in-process (the command's extraction of a page)"] = timed(extract_page, pages)
    for method, make in METHODS.items():
        answers[method], seconds[method] = timed(make(), pages)
    kinds = Counter(e["kind"] for e in expected.values())
    return {
        "source": f"{origin}: tests/unit_tests.py, tests/cache/",
        "versions": {"htmldate": htmldate.__version__, "trafilatura": trafilatura.__version__},
        "pages_in_cache": len(files),
        "assertions_on_saved_pages": len(found) + len(other),
        "pairs": len(expected),
        "pairs_by_kind": {"original (original_date=True)": kinds["original"],
                          "default (htmldate's defaults: updated date)": kinds["default"],
                          "updated (original_date=False)": kinds["updated"],
                          "none (the page has no date)": kinds["none"]},
        "test_distinguishes_original": sum(e["test_distinguishes"] for e in expected.values()),
        "strict_search_finds_none_in_test": sum(e["strict_search_finds_none"] for e in expected.values()),
        "approximate": sum(e["approximate"] for e in expected.values()),
        "needs_dateparser": sum(e["needs_dateparser"] for e in expected.values()),
        "excluded_assertions": excluded,
        "pages_without_pair": sorted(set(files) - set(expected)),
        "chars_per_page": round(sum(map(len, pages.values())) / len(pages)),
        "scores": {m: score(d, expected) for m, d in answers.items() if m in (CLI, *METHODS)},
        "ms_per_page": {m: round(1000 * s, 2) for m, s in seconds.items()},
        "cli_disagreements": disagreements(cli, expected, pages, {m: answers[m] for m in METHODS}),
        "expected": expected,
        "answers": answers,
    }


def report(result: dict[str, Any]) -> str:
    by_kind = ", ".join(f"{n} {k}" for k, n in result["pairs_by_kind"].items())
    lines = [f"{result['source']}: {result['pairs']} (page, expected date) pairs ({by_kind}); "
             f"{len(result['excluded_assertions'])} assertions excluded; {result['approximate']} approximate "
             f"values; htmldate {result['versions']['htmldate']}, trafilatura {result['versions']['trafilatura']}", "",
             "| method | correct | wrong | missing | accuracy | no-date pages: none / dated | ms per page |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, s in result["scores"].items():
        lines.append(f"| {name} | {s['correct']} | {s['wrong']} | {s['missing']} | {s['accuracy']:.3f} | "
                     f"{s['no_date_pages_none']} / {s['no_date_pages_dated']} | {result['ms_per_page'][name]:,.2f} |")
    extra = {k: v for k, v in result["ms_per_page"].items() if k not in result["scores"]}
    lines += [f"| {name} | | | | | | {ms:,.2f} |" for name, ms in extra.items()]
    lines += ["", f"{CLI}: the command's wall time over the pages (start-up, detection, Parquet included)", "",
              "| file | expected | got | notes |", "|---|---|---|---|"]
    lines += [f"| {d['file']} | {d['expected']} | {d['got']} | {'; '.join(d['notes'])} |"
              for d in result["cli_disagreements"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sdist", type=Path, help="htmldate-1.4.0.tar.gz (or the folder it unpacks to)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    result = run(args)
    return emit(report(result), result, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
