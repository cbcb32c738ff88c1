"""Each model family gets its language codes and prompts the way it expects, and routing is per article.

Through the real transformers backend and tiny random-weight models: a spy on `model.generate`
records what reaches the model (input ids) and what it produced, while still running it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from summarize.backends import ModelPool
from summarize.backends.hf import TransformersGenerator
from summarize.models import langcodes
from summarize.options import GenerationOptions, RunOptions
from summarize.pipeline import Pipeline
from summarize.schema import Article
from tests.conftest import invoke, read, sample_articles, write_jsonl

FAST = GenerationOptions(max_new_tokens=6, num_beams=1, no_repeat_ngram_size=0)
FAST_ARGS = ["--max-new-tokens", "8", "--beams", "1", "--translation-beams", "1", "--translation-max-new-tokens", "12", "--quiet"]
TITLE = "Council approves the budget"
TEXT = (
    "The city council approved the new budget for schools and public transport on Monday. "
    "Officials said the plan would cost about two billion dollars. The vote was close."
)


class Spy:
    """Wraps a loaded model's `generate`: records input ids and outputs, then returns the real result."""

    def __init__(self, gen: TransformersGenerator, monkeypatch: pytest.MonkeyPatch) -> None:
        self.inputs: list[list[list[int]]] = []
        self.outputs: list[list[list[int]]] = []
        self.kwargs: list[dict[str, Any]] = []
        real = gen.model.generate

        def generate(*args: Any, **kwargs: Any) -> Any:
            self.inputs.append(kwargs["input_ids"].tolist())
            self.kwargs.append({k: v for k, v in kwargs.items() if k not in ("input_ids", "attention_mask")})
            out = real(*args, **kwargs)
            self.outputs.append(out.sequences.tolist())
            return out

        monkeypatch.setattr(gen.model, "generate", generate)


def _load(folder: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[TransformersGenerator, Spy]:
    gen = TransformersGenerator.load(str(folder), device="cpu")
    return gen, Spy(gen, monkeypatch)


def _unpadded(ids: list[int], pad: int | None) -> list[int]:
    return [t for t in ids if t != pad]


# ------------------------------------------------------------------ language tokens per family


@pytest.mark.parametrize("family", ["m2m100", "nllb", "mbart50"])
def test_forced_bos_families_get_source_and_target_tokens(
    family: str, tiny: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    gen, spy = _load(tiny[family], monkeypatch)
    assert gen.family == family
    tok = gen.tokenizer

    def token_id(lang: str) -> int:
        code = langcodes.family_code(family, lang)
        return int(tok.convert_tokens_to_ids(code))

    # Two calls with different pairs: the tokenizer's source language must follow each call.
    for src, tgt in (("fr", "de"), ("de", "ru")):
        outs = gen.generate_batch(["Le conseil a voté le budget.", "Une phrase de plus."], FAST, source_lang=src, target_lang=tgt)
        assert len(outs) == 2
        for row in spy.inputs[-1]:
            # fairseq-style tokenizers put the source language code first (padding is on the right).
            assert row[0] == token_id(src), tok.convert_ids_to_tokens(row[:3])
        for row in spy.outputs[-1]:
            # position 0 is the decoder start token; the forced first generated token is the target language
            assert row[1] == token_id(tgt), tok.convert_ids_to_tokens(row[:3])
        assert gen.last_forced_bos == token_id(tgt) == spy.kwargs[-1]["forced_bos_token_id"]
    assert {token_id("fr"), token_id("de"), token_id("ru")} != {tok.unk_token_id}


def test_marian_multi_target_label_is_the_first_input_token(tiny: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    gen, spy = _load(tiny["marian"], monkeypatch)
    assert gen.family == "marian"
    tok = gen.tokenizer
    for tgt in ("de", "fr"):
        gen.generate_batch(["The council approved the budget.", "Short."], FAST, source_lang="en", target_lang=tgt)
        label = tok.convert_tokens_to_ids(f">>{tgt}<<")
        assert label != tok.unk_token_id
        assert [row[0] for row in spy.inputs[-1]] == [label, label]
        assert "forced_bos_token_id" not in spy.kwargs[-1]
    # A multi-target model asked for a language it has no label for fails as a per-row language error.
    from summarize.errors import UnsupportedLanguageError

    with pytest.raises(UnsupportedLanguageError):
        gen.generate_batch(["Hello."], FAST, source_lang="en", target_lang="sw")


def _pipeline(options: RunOptions, gen: TransformersGenerator) -> Pipeline:
    # The pool hands out the already-loaded (and spied) generator for its folder.
    pool = ModelPool(device="cpu")
    pool._loaded[gen.name] = gen
    return Pipeline(options, pool=pool)


def test_t5_prompt_prefixes_reach_the_model(tiny: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    gen, spy = _load(tiny["t5"], monkeypatch)
    assert gen.family == "t5"
    opts = RunOptions(to=("de",), translate=("title",), summary_model=gen.name, translation_model=gen.name,
                      summary=FAST, translation=FAST)
    [res] = _pipeline(opts, gen).process([Article("a", 0, "-", 1, TEXT, TITLE, lang="en")])
    assert res.status == "ok", res.error
    tok = gen.tokenizer
    summary_in, title_in = spy.inputs[0][0], spy.inputs[-1][0]
    # Exactly the rendered prompt, token for token, and readable back.
    assert _unpadded(summary_in, tok.pad_token_id) == tok(f"summarize: {TITLE}\n\n{TEXT}")["input_ids"]
    assert tok.decode(summary_in, skip_special_tokens=True).startswith("summarize: Council approves")
    assert _unpadded(title_in, tok.pad_token_id) == tok(f"translate English to German: {TITLE}")["input_ids"]
    assert tok.decode(title_in, skip_special_tokens=True) == f"translate English to German: {TITLE}"
    [title_row] = [t for t in res.translations if t.field == "title"]
    assert title_row.status == "ok" and title_row.model == gen.name


def test_mt5_gets_no_prefix(tiny: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    gen, spy = _load(tiny["mt5"], monkeypatch)
    assert gen.family == "mt5"
    opts = RunOptions(to=("en",), summary_model=gen.name, summary=FAST, translation=FAST)
    [res] = _pipeline(opts, gen).process([Article("a", 0, "-", 1, TEXT, TITLE, lang="en")])
    assert res.status == "ok", res.error
    tok = gen.tokenizer
    assert _unpadded(spy.inputs[0][0], tok.pad_token_id) == tok(f"{TITLE}\n\n{TEXT}")["input_ids"]
    assert tok.decode(spy.inputs[0][0], skip_special_tokens=True).startswith(TITLE)


# ------------------------------------------------------------------ routing per article


def _registry(tmp_path: Path, tiny: dict[str, Path]) -> Path:
    """A registry of tiny models only: mT5 summarizes de/fr/zh, T5 English (and pivots for ru);
    Marian translates de->en, M2M100 among en/de/fr/ru; nothing reads Chinese."""
    path = tmp_path / "registry.toml"
    path.write_text(
        f"""
replace = true

[[summarization]]
id = "{tiny["mt5"]}"
family = "mt5"
languages = ["de", "fr", "zh"]
licence = "apache-2.0"

[[summarization]]
id = "{tiny["t5"]}"
family = "t5"
languages = ["en"]
licence = "apache-2.0"
english_pivot = true

[[translation]]
id = "{tiny["marian"]}"
family = "marian"
languages = ["de"]
targets = ["en"]
target_token = "required"
licence = "cc-by-4.0"

[[translation]]
id = "{tiny["m2m100"]}"
family = "m2m100"
languages = ["en", "de", "fr", "ru"]
licence = "mit"
""",
        encoding="utf-8",
    )
    return path


def test_mixed_batch_is_routed_per_article_as_planned(tmp_path: Path, tiny: dict[str, Path]) -> None:
    wanted = ["en-001", "de-001", "fr-001", "ru-001", "zh-001"]
    rows = {r["id"]: r for r in sample_articles()}
    inp = write_jsonl(tmp_path / "in.jsonl", [rows[i] for i in wanted])
    reg = _registry(tmp_path, tiny)
    common = ["--registry", str(reg), "--to", "en,fr", "--translate", "summary,title"]
    t5, mt5, marian, m2m = (str(tiny[f]) for f in ("t5", "mt5", "marian", "m2m100"))

    res = invoke(["models", "plan", str(inp), *common, "--json"])
    assert res.exit_code == 0, res.output
    plan = json.loads(res.stdout)
    summaries = {a["source_lang"]: a["model"] for a in plan["summaries"]}
    assert summaries == {"en": t5, "de": mt5, "fr": mt5, "zh": mt5, "ru": f"{m2m} > {t5} > {m2m}"}
    pairs = {(a["field"], a["source_lang"], a["target_lang"]): a for a in plan["translations"]}
    assert pairs[("summary", "de", "en")]["model"] == marian
    assert pairs[("title", "de", "fr")]["model"] == m2m
    assert pairs[("title", "fr", "fr")]["model"] == "identity"
    unserved = {(a["field"], a["source_lang"], a["target_lang"]) for a in plan["unserved"]}
    assert unserved == {(f, "zh", t) for f in ("summary", "title") for t in ("en", "fr")}
    assert {m["id"] for m in plan["models"]} == {t5, mt5, marian, m2m}

    out = tmp_path / "out"
    res = invoke(["run", str(inp), "--out", str(out), *common, *FAST_ARGS])
    assert res.exit_code == 1, res.output  # the Chinese article fails its translations; the rest is ok
    arts = read(out, "articles")
    status = dict(zip(arts["id"], arts["status"], strict=True))
    assert status == {"en-001": "ok", "de-001": "ok", "fr-001": "ok", "ru-001": "ok", "zh-001": "error"}
    # Summaries: the model each article got is the plan's model for its language.
    for lang, model in zip(arts["lang"], arts["summary_model"], strict=True):
        assert model == summaries[lang], lang
    tr = read(out, "translations")
    seen = set()
    for row in tr.iter_rows(named=True):
        key = (row["field"], row["source_lang"], row["target_lang"])
        planned = pairs[key]
        seen.add(key)
        if planned["error"]:
            assert row["status"] == "error" and row["text"] is None
            assert row["error"] == planned["error"] == f"no translation model for zh (Chinese) -> {row['target_lang']} ({'English' if row['target_lang'] == 'en' else 'French'})"
        else:
            assert row["status"] == "ok" and row["model"] == planned["model"], key
    # Every planned title translation happened (summaries may come out empty from random weights).
    assert {k for k in pairs if k[0] == "title"} <= seen
    errs = tr.filter(pl.col("status") == "error")
    assert set(errs["source_lang"]) == {"zh"}
    # The manifest records exactly the models the plan named, with their licences.
    manifest = json.loads((out / "run.json").read_text())
    assert set(manifest["models"]) == {t5, mt5, marian, m2m}
    assert manifest["models"][m2m]["licence"] == "mit" and manifest["models"][marian]["family"] == "marian"


def test_user_registry_overrides_the_default(tmp_path: Path, tiny: dict[str, Path]) -> None:
    reg = tmp_path / "mine.toml"
    reg.write_text(
        f'[[summarization]]\nid = "{tiny["mt5"]}"\nfamily = "mt5"\nlanguages = ["en"]\nlicence = "apache-2.0"\n\n'
        f'[[translation]]\nid = "{tiny["marian"]}"\nfamily = "marian"\nlanguages = ["de"]\ntargets = ["en"]\n',
        encoding="utf-8",
    )
    rows = {r["id"]: r for r in sample_articles()}
    inp = write_jsonl(tmp_path / "in.jsonl", [rows["en-001"], rows["de-001"], rows["fr-001"]])
    default = json.loads(invoke(["models", "plan", str(inp), "--json"]).stdout)
    mine = json.loads(invoke(["models", "plan", str(inp), "--registry", str(reg), "--json"]).stdout)
    by = {a["source_lang"]: a["model"] for a in default["summaries"]}
    assert by["en"] == "csebuetnlp/mT5_multilingual_XLSum"
    # Merged, not replaced: the user's entries win where they serve, the shipped ones elsewhere.
    assert {a["source_lang"]: a["model"] for a in mine["summaries"]}["en"] == str(tiny["mt5"])
    pairs = {(a["source_lang"], a["target_lang"]): a["model"] for a in mine["translations"]}
    assert pairs[("de", "en")] == str(tiny["marian"])
    assert pairs[("fr", "en")] == "Helsinki-NLP/opus-mt-fr-en"
    [used] = [m for m in mine["models"] if m["id"] == str(tiny["mt5"])]
    assert used["in_registry"] and used["local"] and used["licence"] == "apache-2.0"
    text = invoke(["models", "plan", str(inp), "--registry", str(reg)]).stdout
    assert str(tiny["marian"]) in text
