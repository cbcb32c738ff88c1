from __future__ import annotations

from pathlib import Path

import pytest

from summarize.errors import PromptError
from summarize.models.prompts import Template, find_template, list_templates, prompt_variables, templates_dir

EXPECTED = {
    "t5-summarize",
    "t5-translate",
    "flan-t5-summarize",
    "flan-t5-translate",
    "mt0-summarize",
    "mt0-translate",
}


def test_templates_are_found_in_the_checkout() -> None:
    folder = templates_dir()
    assert folder is not None and folder.name in ("prompts", "_prompts")
    assert set(list_templates()) >= EXPECTED
    assert (folder / "README.md").is_file()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_templates_render_with_the_standard_variables(name: str) -> None:
    template = find_template(name, family="ignored", task="summarization")
    assert template is not None
    task_vars = prompt_variables("Der Text.", lang="de", source_lang="de", target_lang="en")
    out = template.render(**task_vars)
    assert out.endswith("Der Text.") and not out.endswith("\n")
    assert "{" not in out


def test_default_template_per_family() -> None:
    t5 = find_template(None, family="t5", task="summarization")
    assert t5 is not None and t5.name == "t5-summarize"
    assert t5.render(text="Hello.") == "summarize: Hello."
    tr = find_template(None, family="t5", task="translate")
    assert tr is not None
    assert tr.render(**prompt_variables("Hello.", source_lang="en", target_lang="de")) == (
        "translate English to German: Hello."
    )
    mt0 = find_template(None, family="mt0", task="summarization")
    assert mt0 is not None and {"lang_name", "text"} <= mt0.variables
    assert "Swahili" in mt0.render(**prompt_variables("Habari.", lang="sw"))


@pytest.mark.parametrize("family", ["marian", "m2m100", "nllb", "mt5", "bart", "auto"])
def test_families_without_prompts(family: str) -> None:
    assert find_template(None, family=family, task="summarization") is None
    assert find_template(None, family=family, task="translation") is None


def test_find_by_name_with_suffix() -> None:
    template = find_template("t5-summarize.txt", family="mt5", task="summarization")
    assert template is not None and template.name == "t5-summarize"


def test_find_by_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.txt"
    path.write_text("Headline for {lang_name} readers ({{short}}): {text}\n\n", encoding="utf-8")
    template = find_template(str(path), family="t5", task="summarization")
    assert template is not None
    assert (template.name, template.path) == ("mine", path)
    assert template.variables == {"lang_name", "text"}
    assert template.render(text="T", lang_name="French", unused="x") == "Headline for French readers ({short}): T"


def test_unknown_name_lists_available() -> None:
    with pytest.raises(PromptError, match=r"unknown prompt template 'nope'.*t5-summarize"):
        find_template("nope", family="t5", task="summarization")
    with pytest.raises(PromptError, match="not found"):
        find_template("some/dir/missing.txt", family="t5", task="summarization")


def test_missing_variable_names_it_and_the_template() -> None:
    template = Template(name="custom", text="Translate {text} into {target_name}.")
    with pytest.raises(PromptError, match=r"'custom' needs variable 'target_name'"):
        template.render(text="x")
    with pytest.raises(PromptError, match=r"needs variable 'text'"):
        template.render()


@pytest.mark.parametrize("text", ["{0}", "{}", "{text.upper}", "{text!r}", "{text:>9}", "{text[0]}"])
def test_only_plain_names(text: str) -> None:
    with pytest.raises(PromptError, match="plain name"):
        Template(name="bad", text=text)


@pytest.mark.parametrize("text", ["summarize: {text", "oops }", "{text}}"])
def test_malformed(text: str) -> None:
    with pytest.raises(PromptError, match="malformed"):
        Template(name="bad", text=text)


def test_unknown_task() -> None:
    with pytest.raises(ValueError):
        find_template(None, family="t5", task="paraphrase")


def test_prompt_variables() -> None:
    assert prompt_variables("x") == {"text": "x"}
    assert prompt_variables("x", lang="pt-BR") == {"text": "x", "lang": "pt-BR", "lang_name": "Portuguese"}
    v = prompt_variables("x", source_lang="zh", target_lang="en")
    assert (v["source_name"], v["target_name"], v["source_lang"]) == ("Chinese", "English", "zh")
