"""The documentation keeps up with the code: one test per command and one per option, so each gap
fails on its own and names itself; the generated pages (CLI reference, schema) match what the code
generates now; the README stays short and points into docs/."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest
from typer.testing import CliRunner

from summarize.cli import app
from summarize.docs import WIDTH, command_help, commands, render_pages
from tests.conftest import ROOT, invoke

DOCS = ROOT / "docs"
GENERATED = {"cli.md", "schema.md"}


@cache
def _page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


@cache
def _written_docs() -> str:
    """Every page a person wrote (not the generated ones), as one text."""
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md")) if p.name not in GENERATED)


@cache
def _cli_section(name: str) -> str:
    """The section of docs/cli.md for `summarize NAME`, from its heading to the next one."""
    text = _page("cli.md")
    heading = f"## `{f'summarize {name}'.strip()}`\n"
    assert heading in text, f"`summarize {name}` has no section in docs/cli.md: run python -m summarize.docs"
    start = text.index(heading)
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


COMMANDS = [(n, c) for n, c in commands() if n and not getattr(c, "commands", None)]
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
def test_command_has_help_and_is_in_the_cli_reference(name: str, cmd: Any) -> None:
    assert getattr(cmd, "help", None), f"`summarize {name}` has no help text"
    assert invoke([*name.split(), "--help"]).exit_code == 0
    assert command_help(name) in _cli_section(name)
    assert f"summarize {name}" in _written_docs(), f"`summarize {name}` is not described in any page of docs/"


@pytest.mark.parametrize(("name", "param"), OPTIONS)
def test_option_has_help_and_is_documented(name: str, param: Any) -> None:
    flag = param.opts[0]
    assert getattr(param, "help", None), f"`summarize {name} {flag}` has no help text"
    # A flag is mentioned when it appears as itself, not as the start of a longer flag.
    mentioned = re.compile(re.escape(flag) + r"(?![\w-])")
    assert mentioned.search(_cli_section(name)), f"`{flag}` of `summarize {name}` is not in docs/cli.md"
    assert mentioned.search(_written_docs()), f"`{flag}` of `summarize {name}` is not described in any page of docs/"


@pytest.mark.parametrize("name", [pytest.param(n, id=n or "summarize") for n, _ in commands()])
def test_generated_help_is_what_the_command_prints(name: str) -> None:
    # The page shows what a user sees: `--help` through the real CLI, at the page's width.
    res = CliRunner().invoke(app, [*name.split(), "--help"], terminal_width=WIDTH, max_content_width=WIDTH)
    assert res.exit_code == 0
    printed = "\n".join(line.rstrip() for line in res.output.splitlines()).strip() + "\n"
    assert command_help(name) == printed


@pytest.mark.parametrize("path", sorted(render_pages()))
def test_generated_pages_are_current(path: str) -> None:
    committed = (ROOT / path).read_text(encoding="utf-8")
    assert committed == render_pages()[path], f"{path} is stale: run python -m summarize.docs"


def test_schema_page_is_what_summarize_schema_prints() -> None:
    res = invoke(["schema"])
    assert res.exit_code == 0
    assert _page("schema.md").endswith(res.output.rstrip("\n") + "\n")


def test_readme_is_short_and_links_into_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    # The command CI runs (.ci/run) is the one the README tells a newcomer to run.
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test$", ci, re.M) and "make test" in readme
    links = re.findall(r"\]\((docs/[^)#]+)(?:#[^)]*)?\)", readme)
    assert len(links) >= 10
    for link in links:
        assert (ROOT / link).is_file(), f"README links to {link}, which does not exist"


def test_every_page_is_in_the_site_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in sorted(DOCS.glob("*.md")):
        assert re.search(rf":\s+{re.escape(page.name)}$", nav, re.M), f"docs/{page.name} is not in mkdocs.yml's nav"


# What a page must not say: how a figure used to be, which issue or round changed it.
HISTORY = [r"\(was [\d.,]+", r"\bwas \d[\d.,]*%", r"\bissue #?\d+", r"\bround \d", r"\bprevious (round|default|measurement)"]


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_docs_state_what_is_measured_now(page: str) -> None:
    text = _page(page)
    for pattern in HISTORY:
        found = re.search(pattern, text, re.I)
        assert not found, f"docs/{page} tells history ({found.group(0)!r}): say what is measured now and how"


@pytest.mark.parametrize(
    "module",
    sorted(str(p.relative_to(ROOT / "summarize")) for p in (ROOT / "summarize").rglob("*.py")
           if p.name not in ("__init__.py", "__main__.py")),
)
def test_module_is_in_the_architecture_page(module: str) -> None:
    # Each module is named on docs/architecture.md by its file name or its path.
    name = module.rsplit("/", 1)[-1]
    page = _page("architecture.md")
    assert f"`{name}`" in page or f"`{module}`" in page, f"summarize/{module} is not described in docs/architecture.md"
