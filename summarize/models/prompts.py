"""Prompt templates for the model families that are steered by text (T5, Flan-T5, mT0).

Templates are plain text files with `{variable}` fields (`{{` and `}}` for literal braces), one
per family and task, named `FAMILY-summarize.txt` and `FAMILY-translate.txt`. They live in
`prompts/` at the repository root, which the wheel ships as `summarize/_prompts`. A family with
no template (Marian, M2M100, NLLB, the XL-Sum mT5) needs no prompt. See `prompts/README.md`.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from ..errors import PromptError
from . import langcodes

_TASK_VERBS = {
    "summarization": "summarize",
    "summarize": "summarize",
    "translation": "translate",
    "translate": "translate",
}
_SUFFIX = ".txt"


@dataclass(frozen=True)
class Template:
    """A prompt template.

    Attributes:
        name: The template's name (file name without `.txt`).
        text: The template text; trailing newlines of the file are dropped, since a model
            input should not end in one.
        path: The file it was read from, if any.
        variables: The field names it uses, found with `string.Formatter`.
    """

    name: str
    text: str
    path: Path | None = None
    variables: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        names = set()
        try:
            parsed = list(string.Formatter().parse(self.text))
        except ValueError as exc:
            raise PromptError(f"prompt template {self.name!r} is malformed ({exc}); write {{{{ and }}}} for braces") from exc
        for _, field_name, spec, conversion in parsed:
            if field_name is None:
                continue
            # Only plain names: `{0}`, `{}` or `{text.attr}` would reach into Python objects.
            if not field_name.isidentifier() or spec or conversion:
                raise PromptError(
                    f"prompt template {self.name!r}: field {{{field_name}}} must be a plain name such as {{text}}"
                )
            names.add(field_name)
        object.__setattr__(self, "variables", frozenset(names))

    def render(self, **variables: str) -> str:
        """Fill the template; extra variables are ignored. Raises PromptError naming the first
        missing variable (in template order) and the template."""
        missing = sorted(self.variables - variables.keys(), key=lambda v: self.text.find("{" + v + "}"))
        if missing:
            raise PromptError(
                f"prompt template {self.name!r} needs variable {missing[0]!r}"
                f" (given: {', '.join(sorted(variables)) or 'none'})"
            )
        return string.Formatter().vformat(self.text, (), variables)


def prompt_variables(
    text: str, *, lang: str | None = None, source_lang: str | None = None, target_lang: str | None = None
) -> dict[str, str]:
    """The standard variables for a model input: `text`; with `lang`, `lang` and `lang_name`
    (summaries); with `source_lang`/`target_lang`, those codes and `source_name`/`target_name`
    (translation). Names are English (`de` -> `German`)."""
    out = {"text": text}
    for key, code, name_key in (
        ("lang", lang, "lang_name"),
        ("source_lang", source_lang, "source_name"),
        ("target_lang", target_lang, "target_name"),
    ):
        if code is not None:
            out[key] = code
            out[name_key] = langcodes.language_name(code)
    return out


@cache
def templates_dir() -> Path | None:
    """The folder holding the shipped templates: `summarize/_prompts` in an installed wheel,
    `prompts/` at the root of a source checkout; None if neither exists."""
    here = Path(__file__).parent.parent
    for candidate in (here / "_prompts", Path(__file__).resolve().parent.parent.parent / "prompts"):
        if candidate.is_dir():
            return candidate
    return None


def list_templates() -> list[str]:
    """Names of the shipped templates, sorted."""
    folder = templates_dir()
    if folder is None:
        return []
    return sorted(p.stem for p in folder.glob(f"*{_SUFFIX}") if p.is_file())


def load_template(path: Path, name: str | None = None) -> Template:
    """Read a template file. Raises PromptError when it cannot be read or parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptError(f"cannot read prompt template {path}: {exc}") from exc
    return Template(name=name or path.stem, text=text.rstrip("\r\n"), path=path)


def find_template(name_or_file: str | None, *, family: str, task: str) -> Template | None:
    """Find the template for a model input. `name_or_file` None picks the family's default
    (`FAMILY-summarize` / `FAMILY-translate`) and returns None when the family has none, i.e.
    needs no prompt. Otherwise an existing file path is read as the template, and anything else
    is a template NAME (`t5-summarize`, `.txt` optional). `task` is `summarization` or
    `translation`. Raises PromptError for an unknown name, listing the available ones."""
    verb = _TASK_VERBS.get(task)
    if verb is None:
        raise ValueError(f"unknown task {task!r}; use summarization or translation")
    folder = templates_dir()
    available = list_templates()
    if name_or_file is None:
        default = f"{family}-{verb}"
        if folder is None or default not in available:
            return None
        return load_template(folder / f"{default}{_SUFFIX}")
    candidate = Path(name_or_file).expanduser()
    if candidate.is_file():
        return load_template(candidate)
    name = name_or_file.removesuffix(_SUFFIX)
    if folder is not None and name in available:
        return load_template(folder / f"{name}{_SUFFIX}")
    known = ", ".join(available) or "none"
    if "/" in name_or_file or "\\" in name_or_file:
        raise PromptError(f"prompt file {name_or_file} not found (template names: {known})")
    raise PromptError(f"unknown prompt template {name_or_file!r}; available: {known}; or give a file path")
