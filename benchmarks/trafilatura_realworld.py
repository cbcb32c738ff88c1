"""Build a folder of scored pages for `benchmarks/extract.py --pages` from trafilatura's own tests.

trafilatura 1.0.0's source distribution ships the pages of its real-world tests (`tests/cache/`,
about 110 saved pages: German, English and French news, blogs, shops, institutions) and, in
`tests/realworld_tests.py`, for each page the strings its article must hold (`assert 'X' in result`)
and the strings of boilerplate it must not (`assert 'Y' not in result`). This script reads those
assertions (by parsing the file, never running it) and writes the pages with an `expected.json` of
`with` and `without` strings, the layout `benchmarks/extract.py --pages` scores. Nothing of it is
copied into this repository. Fetch the source distribution with

    pip download --no-deps --no-binary :all: trafilatura==1.0.0

and run, from the repository root:

    python benchmarks/trafilatura_realworld.py trafilatura-1.0.0.tar.gz /tmp/realworld
    taskset -c 1 .venv/bin/python benchmarks/extract.py --pages /tmp/realworld

These are trafilatura's regression tests: its authors tuned it until it passes them, so they favour
trafilatura over any other extractor. They measure well what `summarize extract` keeps of
trafilatura's behaviour and how much the old strip lets through; they do not rank extractors.
"""

from __future__ import annotations

import argparse
import ast
import json
import tarfile
from pathlib import Path, PurePosixPath


def _strings(test: ast.expr) -> tuple[list[str], list[str]]:
    """The `'X' in result` and `'X' not in result` parts of an assertion joined by `and`."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        found: tuple[list[str], list[str]] = ([], [])
        for part in test.values:
            within, without = _strings(part)
            found[0].extend(within)
            found[1].extend(without)
        return found
    if (isinstance(test, ast.Compare) and isinstance(test.left, ast.Constant) and isinstance(test.left.value, str)
            and len(test.ops) == 1 and isinstance(test.comparators[0], ast.Name) and test.comparators[0].id == "result"):
        if isinstance(test.ops[0], ast.In):
            return [test.left.value], []
        if isinstance(test.ops[0], ast.NotIn):
            return [], [test.left.value]
    return [], []  # anything else (an `or`, a length) says nothing about a string


def expectations(source: str) -> dict[str, dict[str, list[str]]]:
    """Each page file's `with` and `without` strings, from the text of realworld_tests.py."""
    tree = ast.parse(source)
    pages: dict[str, str] = {}
    for top in tree.body:
        if isinstance(top, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "MOCK_PAGES" for t in top.targets):
            pages = ast.literal_eval(top.value)
    out: dict[str, dict[str, list[str]]] = {}
    current: str | None = None
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        for stmt in _in_order(node.body):
            if (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)
                    and getattr(stmt.value.func, "id", None) == "load_mock_page"
                    and isinstance(stmt.value.args[0], ast.Constant)):
                current = pages.get(str(stmt.value.args[0].value))
            elif isinstance(stmt, ast.Assert) and current is not None:
                within, without = _strings(stmt.test)
                entry = out.setdefault(current, {"with": [], "without": []})
                for key, strings in (("with", within), ("without", without)):
                    entry[key] += [s for s in dict.fromkeys(strings) if s not in entry[key]]
    return {name: strings for name, strings in out.items() if strings["with"] or strings["without"]}


def _in_order(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements of a function body in order, those inside `if` blocks included."""
    flat: list[ast.stmt] = []
    for stmt in body:
        flat.append(stmt)
        if isinstance(stmt, ast.If):
            flat += _in_order(stmt.body) + _in_order(stmt.orelse)
    return flat


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sdist", type=Path, help="trafilatura-1.0.0.tar.gz")
    parser.add_argument("out", type=Path, help="folder to write the pages and expected.json to")
    args = parser.parse_args(argv)
    with tarfile.open(args.sdist) as tar:
        members = {PurePosixPath(m.name).relative_to(PurePosixPath(m.name).parts[0]).as_posix(): m
                   for m in tar.getmembers() if m.isfile()}
        source = tar.extractfile(members["tests/realworld_tests.py"]).read().decode("utf-8")  # type: ignore[union-attr]
        expected = {name: strings for name, strings in expectations(source).items() if f"tests/cache/{name}" in members}
        args.out.mkdir(parents=True, exist_ok=True)
        for name in expected:
            (args.out / name).write_bytes(tar.extractfile(members[f"tests/cache/{name}"]).read())  # type: ignore[union-attr]
    (args.out / "expected.json").write_text(json.dumps({"source": f"{args.sdist.name}: tests/realworld_tests.py",
                                                        "pages": expected}, indent=1, ensure_ascii=False) + "\n",
                                            encoding="utf-8")
    print(f"{len(expected)} pages, {sum(len(e['with']) for e in expected.values())} article strings, "
          f"{sum(len(e['without']) for e in expected.values())} boilerplate strings in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
