"""The documentation keeps up with the CLI: one test per command and one per option, so each gap
fails on its own and names itself."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest
import typer.main

from summarize.cli import app
from tests.conftest import ROOT, invoke


@cache
def _readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def _commands() -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []

    # Typer vendors its own Click, so groups are told apart by shape, not by class.
    def walk(cmd: Any, prefix: str) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, f"{prefix} {name}".strip())
        else:
            found.append((prefix, cmd))

    walk(typer.main.get_command(app), "")
    return found


COMMANDS = _commands()
OPTIONS = [
    pytest.param(name, param, id=f"{name} {param.opts[0]}")
    for name, cmd in COMMANDS
    for param in cmd.params
    if getattr(param, "param_type_name", "") == "option"
]


def test_commands_are_found() -> None:
    # Guards the parametrization below: an empty walk would make every doc test vanish.
    assert {"run", "detect", "schema", "models list", "models plan", "models fetch"} <= {n for n, _ in COMMANDS}
    assert len(OPTIONS) > 60


def test_top_level_help() -> None:
    res = invoke(["--help"])
    assert res.exit_code == 0
    for name, _ in COMMANDS:
        assert name.split()[0] in res.output


@pytest.mark.parametrize(("name", "cmd"), [pytest.param(n, c, id=n) for n, c in COMMANDS])
def test_command_has_help_and_is_in_readme(name: str, cmd: Any) -> None:
    assert getattr(cmd, "help", None), f"`summarize {name}` has no help text"
    assert f"summarize {name}" in _readme(), f"`summarize {name}` is not documented in README.md"
    res = invoke([*name.split(), "--help"])
    assert res.exit_code == 0


@pytest.mark.parametrize(("name", "param"), OPTIONS)
def test_option_has_help_and_is_in_readme(name: str, param: Any) -> None:
    flag = param.opts[0]
    assert getattr(param, "help", None), f"`summarize {name} {flag}` has no help text"
    # A flag is mentioned when it appears as itself, not as the start of a longer flag.
    assert re.search(re.escape(flag) + r"(?![\w-])", _readme()), f"`{flag}` of `summarize {name}` is not in README.md"
    assert re.search(re.escape(flag) + r"(?![\w-])", invoke([*name.split(), "--help"]).output)


def _architecture() -> str:
    text = _readme()
    start = text.index("Architecture:")
    return text[start : text.index("\n## ", start)]


@pytest.mark.parametrize(
    "module",
    sorted(str(p.relative_to(ROOT / "summarize")) for p in (ROOT / "summarize").rglob("*.py")
           if p.name not in ("__init__.py", "__main__.py")),
)
def test_module_is_in_readme_architecture(module: str) -> None:
    # Each module is named in the README's architecture table (`io.py` may be the `io/` package).
    name = module.rsplit("/", 1)[-1]
    names = {f"`{name}`", f"`{name.removesuffix('.py')}/`", f"`{module}`"}
    section = _architecture()
    assert any(n in section for n in names), f"summarize/{module} is not described in the README's architecture section"
