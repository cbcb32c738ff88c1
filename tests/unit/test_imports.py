"""The package's modules import each other in one direction only: no import cycle in `summarize/`.

The graph is read from the source with `ast`, so it sees every import, at the top of a module
or inside a function, whether or not a test happens to run that code path. Imports under
`if TYPE_CHECKING:` never run and are left out. Importing `a.b.c` also runs the `__init__` of
`a.b`, so that is an edge too, except for the packages that hold the importing module itself:
Python has initialised those before the module starts, so importing them loads nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def module_names(package_dir: Path) -> dict[str, Path]:
    """Every module of the package under `package_dir`, by dotted name."""
    base = package_dir.parent
    names: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(base).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Import statements anywhere in the module (functions included), except TYPE_CHECKING blocks."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """Module -> the package's modules that importing it runs (directly)."""
    modules = module_names(package_dir)
    root = package_dir.name
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        package = name if is_package else name.rpartition(".")[0]
        targets: list[str] = []
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets += [alias.name for alias in node.names]
                continue
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            # `from pkg import sub` imports the submodule `pkg.sub`; `from mod import name` only `mod`.
            targets.append(source)
            targets += [f"{source}.{alias.name}" for alias in node.names if f"{source}.{alias.name}" in modules]
        for target in targets:
            if target != root and not target.startswith(root + "."):
                continue
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                step = ".".join(parts[:i])
                holds_importer = name == step or name.startswith(step + ".")
                if step in modules and not holds_importer:
                    graph[name].add(step)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that starts and ends with the same module, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_no_import_cycle_in_summarize() -> None:
    graph = import_graph(ROOT / "summarize")
    assert "summarize.io.read" in graph["summarize.io"]  # the graph sees the package's own imports
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    pkg = tmp_path / "pkg"
    for rel, source in files.items():
        path = pkg / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return pkg


@pytest.mark.parametrize(
    ("files", "cycle"),
    [
        # Top-level imports both ways.
        ({"__init__.py": "", "a.py": "from . import b\n", "b.py": "from .a import x\n"}, ["pkg.a", "pkg.b", "pkg.a"]),
        # A function-level import closes the loop (the cli <-> cli_models kind).
        ({"__init__.py": "", "a.py": "from .b import y\n", "b.py": "def f():\n    from .a import x\n"},
         ["pkg.a", "pkg.b", "pkg.a"]),
        # Importing a submodule runs its package's __init__, which imports the importer.
        ({"__init__.py": "", "a.py": "import pkg.sub.c\n", "sub/__init__.py": "from ..a import x\n", "sub/c.py": ""},
         ["pkg.a", "pkg.sub", "pkg.a"]),
    ],
)
def test_cycles_are_found_and_reported(tmp_path: Path, files: dict[str, str], cycle: list[str]) -> None:
    assert find_cycle(import_graph(_package(tmp_path, files))) == cycle


def test_what_is_not_a_cycle(tmp_path: Path) -> None:
    pkg = _package(tmp_path, {
        # A package that imports its modules lazily, and a module that reads the package's version.
        "__init__.py": "from .version import __version__\ndef run():\n    from .api import run\n",
        "api.py": "from .version import __version__\nfrom .io import read\nfrom .text import clean\n",
        "io/__init__.py": "from .read import read\nfrom .write import write\n",
        "io/read.py": "from ..text import clean\n",
        "io/write.py": "from .read import STDIN\nimport json\n",
        "version.py": "__version__ = '1'\n",
        "text.py": "import re\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .api import run\n",
    })  # fmt: skip
    graph = import_graph(pkg)
    assert graph["pkg.api"] == {"pkg.io", "pkg.io.read", "pkg.text", "pkg.version"}
    assert graph["pkg.io.write"] == {"pkg.io.read"}
    assert graph["pkg.text"] == set()
    assert find_cycle(graph) is None


def test_cli_imports_nothing_heavy() -> None:
    # `summarize --help` must answer at once: no model, table or Hub library behind the CLI's imports.
    import subprocess
    import sys

    code = (
        "import sys, summarize.cli; "
        "print(','.join(sorted(m for m in ('torch', 'transformers', 'polars', 'pyarrow', 'huggingface_hub', "
        "'ctranslate2', 'ray', 'langdetect', 'sentencex', 'tqdm') if m in sys.modules)))"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert res.stdout.strip() == ""


def own_package_imports(package_dir: Path) -> list[str]:
    """`from <own package> import NAME` where NAME is not a submodule: a module reading a name that its
    own package's (or an enclosing package's) `__init__` defines or re-exports. Such an import runs
    against a half-initialised package when the `__init__` imports the module, and hides where the
    name lives; import it from the module that defines it instead."""
    modules = module_names(package_dir)
    found: list[str] = []
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        package = name if is_package else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, ast.ImportFrom) or not node.level or node.module:
                continue
            parts = package.split(".")
            source = ".".join(parts[: len(parts) - node.level + 1])
            if is_package and source == name:
                continue  # a package's __init__ re-exporting its own modules
            names = [a.name for a in node.names if f"{source}.{a.name}" not in modules]
            if names:
                found.append(f"{name}: from {'.' * node.level} import {', '.join(names)}")
    return found


def test_no_module_imports_its_own_package_init() -> None:
    assert own_package_imports(ROOT / "summarize") == []


def test_own_package_imports_are_found(tmp_path: Path) -> None:
    pkg = _package(tmp_path, {
        "__init__.py": "VERSION = '1'\nfrom .a import f\n",
        "a.py": "from . import VERSION\nfrom . import b\n",
        "b.py": "",
        "sub/__init__.py": "from .c import g\n",
        "sub/c.py": "from .. import VERSION\nfrom . import d\n",
        "sub/d.py": "",
    })  # fmt: skip
    assert own_package_imports(pkg) == ["pkg.a: from . import VERSION", "pkg.sub.c: from .. import VERSION"]
