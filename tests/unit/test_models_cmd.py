"""`summarize models list|plan|fetch`: the registry, routing plans without loading models, offline fetch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from summarize.errors import UnsupportedLanguageError
from summarize.models import routing
from summarize.models.registry import Registry
from summarize.options import RunOptions
from tests.conftest import SAMPLES, invoke, sample_articles, write_jsonl

XLSUM = "csebuetnlp/mT5_multilingual_XLSum"
BART = "facebook/bart-large-cnn"
M2M = "facebook/m2m100_418M"
NLLB = "facebook/nllb-200-distilled-600M"


@pytest.fixture(autouse=True)
def _no_model_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    # Planning must never load a model: make any attempt fail loudly.
    from summarize.backends import ModelPool

    def refuse(self: Any, model: str, task: str) -> Any:
        raise AssertionError(f"a model was loaded: {model}")

    monkeypatch.setattr(ModelPool, "_load", refuse)


def _plan(*args: str) -> dict[str, Any]:
    res = invoke(["models", "plan", *args, "--json"])
    assert res.exit_code == 0, res.output
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


def _by_lang(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["source_lang"]: a for a in doc["summaries"]}


def _pairs(doc: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(a["field"], a["source_lang"], a["target_lang"]): a for a in doc["translations"]}


# ------------------------------------------------------------------------------ list


def test_list_shows_the_registry_with_licences() -> None:
    res = invoke(["models", "list", "--task", "summarization"])
    assert res.exit_code == 0, res.output
    assert XLSUM in res.stdout and "43 languages" in res.stdout and "non-commercial" in res.stdout
    assert BART in res.stdout and "english pivot" in res.stdout
    assert "translation" not in res.stdout.split("\n", 1)[1]
    doc = json.loads(invoke(["models", "list", "--json"]).stdout)
    by_id = {m["id"]: m for m in doc["models"]}
    assert by_id[XLSUM]["noncommercial"] and by_id[XLSUM]["allowed_by_default"] and len(by_id[XLSUM]["languages"]) == 43
    assert by_id[NLLB]["noncommercial"] and not by_id[NLLB]["allowed_by_default"]
    assert by_id[M2M]["licence"] == "mit" and by_id[M2M]["family"] == "m2m100"
    assert by_id["Helsinki-NLP/opus-mt-de-en"]["languages"] == ["de"] and by_id["Helsinki-NLP/opus-mt-de-en"]["targets"] == ["en"]
    assert doc["sources"][0].endswith("registry.toml")
    ru = json.loads(invoke(["models", "list", "--json", "--lang", "ru", "--task", "translation"]).stdout)["models"]
    assert ru and all(not m["languages"] or "ru" in m["languages"] for m in ru)
    assert invoke(["models", "list", "--task", "nope"]).exit_code == 2


def test_list_with_a_user_registry(tmp_path: Path) -> None:
    reg = tmp_path / "reg.toml"
    reg.write_text('replace = true\n[[translation]]\nid = "./my-model"\nfamily = "marian"\nlanguages = ["de"]\ntargets = ["en"]\n')
    doc = json.loads(invoke(["models", "list", "--registry", str(reg), "--json"]).stdout)
    assert [m["id"] for m in doc["models"]] == ["./my-model"]
    assert doc["models"][0]["licence"] == "unknown"
    bad = tmp_path / "bad.toml"
    bad.write_text("[[translation]]\nid = 3\n")
    res = invoke(["models", "list", "--registry", str(bad)])
    assert res.exit_code == 2 and "id must be a string" in res.stderr


# ------------------------------------------------------------------------------ plan


def test_plan_routes_every_language_without_loading_a_model(tmp_path: Path) -> None:
    doc = _plan(str(SAMPLES / "articles.jsonl"), "--to", "en,fr", "--translate", "summary,title")
    rows = sample_articles()
    assert doc["articles"] == len(rows) and doc["skipped"] == 0 and doc["rejected"] == 0
    assert doc["languages"]["en"] == sum(1 for r in rows if r["id"].startswith("en-"))
    summ = _by_lang(doc)
    assert summ["en"]["model"] == XLSUM and summ["en"]["articles"] == 3 and not summ["en"]["pivot"]
    # German has no XL-Sum model: translate to English, summarize, translate back.
    assert summ["de"]["pivot"] and summ["de"]["model"] == f"Helsinki-NLP/opus-mt-de-en > {BART} > Helsinki-NLP/opus-mt-en-de"
    assert [s["task"] for s in summ["de"]["steps"]] == ["translation", "summarization", "translation"]
    pairs = _pairs(doc)
    assert pairs[("summary", "de", "en")]["model"] == "Helsinki-NLP/opus-mt-de-en"
    assert pairs[("title", "en", "en")]["model"] == "identity"
    assert pairs[("summary", "pt", "en")]["model"] == "Helsinki-NLP/opus-mt-mul-en"
    assert pairs[("summary", "zh", "fr")]["model"] == M2M and pairs[("summary", "zh", "fr")]["articles"] == 2
    assert doc["unserved"] == []
    models = {m["id"]: m for m in doc["models"]}
    assert models[XLSUM]["licence"] == "cc-by-nc-sa-4.0" and models[XLSUM]["noncommercial"]
    assert models[XLSUM]["articles"] == sum(a["articles"] for a in doc["summaries"] if a["model"] == XLSUM)
    assert models[BART]["tasks"] == ["summarization"] and models[M2M]["tasks"] == ["translation"]
    assert "identity" not in models and all(m["in_registry"] and not m["local"] for m in models.values())


def test_plan_text_output_and_unserved_pairs(tmp_path: Path) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", sample_articles(4))
    res = invoke(["models", "plan", str(inp), "--to", "en,ace"])
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert out.startswith("4 articles (0 skipped, 0 rejected); languages: en 3, de 1")
    for section in ("summaries (", "translations (", "models (", "nothing can serve"):
        assert section in out
    # Acehnese: only NLLB serves it, and its licence needs an opt-in; the plan says so.
    assert "no translation model for en (English) -> ace (Acehnese)" in out and "non-commercial" in out
    doc = _plan(str(inp), "--to", "ace")
    assert {(a["source_lang"], a["target_lang"]) for a in doc["unserved"]} == {("en", "ace"), ("de", "ace")}
    assert all(a["model"] is None and "allow non-commercial" in a["error"] for a in doc["unserved"])
    allowed = _plan(str(inp), "--to", "ace", "--allow-noncommercial")
    assert allowed["unserved"] == [] and _pairs(allowed)[("summary", "en", "ace")]["model"] == NLLB
    assert {m["id"]: m for m in allowed["models"]}[NLLB]["noncommercial"]


def test_plan_forced_models_and_undetermined_languages(tmp_path: Path) -> None:
    rows = [*sample_articles(2), {"id": "short", "text": "Ok."}, {"id": "empty", "text": "  "}]
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    doc = _plan(str(inp), "--to", "de")
    assert doc["languages"] == {"en": 2, "und": 2} and doc["skipped"] == 1
    und = _by_lang(doc)["und"]
    assert und["model"] is None and "not detected" in und["error"] and und["articles"] == 1
    # A failed summary stops the article before translation: nothing is planned for it.
    assert all(a["source_lang"] != "und" for a in doc["translations"])
    forced = _plan(str(inp), "--to", "de", "--summary-model", "./my-t5", "--translation-model", "my/mt")
    summ = _by_lang(forced)
    assert summ["und"]["model"] == "./my-t5" and summ["en"]["model"] == "./my-t5"
    pairs = _pairs(forced)
    assert pairs[("summary", "en", "de")]["model"] == "my/mt"
    assert pairs[("summary", "und", "de")]["error"] == "source language unknown (und); give it with --lang-col"
    models = {m["id"]: m for m in forced["models"]}
    assert models["./my-t5"]["licence"] == "unknown" and not models["./my-t5"]["in_registry"]
    assert models["./my-t5"]["family"] == "auto" and models["my/mt"]["articles"] == 2


def test_plan_reads_like_run(tmp_path: Path) -> None:
    csv_path = tmp_path / "in.csv"
    csv_path.write_text(
        "url;body;language\na;Der Stadtrat hat heute den Haushalt beschlossen.;de\nb;;fr\nc;x;pt-BR\n", encoding="utf-8"
    )
    bad = write_jsonl(tmp_path / "more.jsonl", ["{not json"])
    doc = _plan(str(csv_path), str(bad), "--id-col", "url", "--text-col", "body", "--lang-col", "language", "--to", "en")
    # Given languages are trusted (and normalised); an empty text is skipped; a bad row rejected.
    assert (doc["articles"], doc["skipped"], doc["rejected"]) == (3, 1, 1)
    assert doc["languages"] == {"de": 1, "fr": 1, "pt": 1}
    assert set(_by_lang(doc)) == {"de", "pt"}
    assert _by_lang(doc)["pt"]["model"] == XLSUM
    lines = "\n".join(json.dumps(r, ensure_ascii=False) for r in sample_articles(2))
    res = invoke(["models", "plan", "-", "--json"], input=lines)
    assert res.exit_code == 0 and json.loads(res.stdout)["languages"] == {"en": 2}
    res = invoke(["models", "plan", str(csv_path), "--text-col", "nope"])
    assert res.exit_code == 2 and "no column 'nope'" in res.stderr
    assert invoke(["models", "plan", str(tmp_path / "missing.jsonl")]).exit_code == 2
    assert invoke(["models", "plan", str(csv_path), "--text-col", "body", "--translate", "body"]).exit_code == 2


def test_plan_functions_match_registry() -> None:
    reg = Registry.load()
    opts = RunOptions(to=("en", "de"))
    assert routing.route_name(routing.translation_route("de", "de", opts, reg)) == "identity"
    assert routing.route_name(routing.translation_route("de", "en", opts, reg)) == "Helsinki-NLP/opus-mt-de-en"
    with pytest.raises(UnsupportedLanguageError, match="source language unknown"):
        routing.translation_route("und", "en", RunOptions(translation_model="x"), reg)
    with pytest.raises(UnsupportedLanguageError, match="not detected"):
        routing.summary_route("und", opts, reg)
    assert routing.summary_route("und", RunOptions(summary_model="m"), reg).models[0].id == "m"
    plan = routing.plan_jobs(
        [routing.Job("de", frozenset({"title", "text"})), routing.Job("de"), routing.Job("en", skip="empty text")],
        RunOptions(to=("en",), translate=("summary", "title", "text")), reg,
    )
    assert (plan.articles, plan.skipped, plan.languages) == (3, 1, {"de": 2, "en": 1})
    counts = {(a.field, a.source_lang, a.target_lang): a.articles for a in plan.translations}
    assert counts == {("summary", "de", "en"): 2, ("title", "de", "en"): 1, ("text", "de", "en"): 2}


# ----------------------------------------------------------------------------- fetch

# What a cached snapshot needs for a load to find everything: config, tokenizer, weights.
_COMPLETE = ("config.json", "tokenizer.json", "model.safetensors")


def test_fetch_offline_fails_with_one_line_per_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    inp = write_jsonl(tmp_path / "in.jsonl", sample_articles(1))
    res = invoke(["models", "fetch", str(inp), "--to", "fr", "--model", "some-org/extra"])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 3, res.stderr
    for model, line in zip([XLSUM, "Helsinki-NLP/opus-mt-en-fr", "some-org/extra"], lines, strict=True):
        assert line == (
            f"summarize: error: cannot fetch model '{model}': HF_HUB_OFFLINE is set and it is not in the"
            " Hugging Face cache; fetch it where the Hub is reachable"
        )
    res = invoke(["models", "fetch", "--model", "./models/not-here"])
    assert res.exit_code == 2 and res.stderr.strip() == (
        "summarize: error: cannot fetch model './models/not-here': no such local folder, and not a Hub id"
    )
    assert invoke(["models", "fetch"]).exit_code == 2


def test_fetch_local_folders_and_cached_models_are_no_ops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    local = tmp_path / "my-model"
    local.mkdir()
    inp = write_jsonl(tmp_path / "in.jsonl", sample_articles(1))
    res = invoke(["models", "fetch", str(inp), "--to", "de", "--summary-model", str(local), "--translation-model", str(local)])
    assert res.exit_code == 0, res.output
    assert res.stderr.strip() == f"summarize: {local}: local folder, nothing to fetch"
    # A model already in the Hugging Face cache is found offline.
    cache = tmp_path / "hub"
    repo = cache / "models--org--cached"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    for name in _COMPLETE:
        (repo / "snapshots" / commit / name).write_text("{}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    res = invoke(["models", "fetch", "--model", "org/cached"])
    assert res.exit_code == 0, res.output
    assert f"org/cached: in the cache at {repo / 'snapshots' / commit}" in res.stderr


def test_models_commands_have_help() -> None:
    res = invoke(["models", "--help"])
    assert res.exit_code == 0
    for name in ("list", "plan", "fetch"):
        assert name in res.stdout
        sub = invoke(["models", name, "--help"])
        assert sub.exit_code == 0 and len(sub.stdout) > 200, name
    assert "models" in invoke(["--help"]).stdout


def test_fetch_model_takes_a_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    from summarize.errors import ModelError
    from summarize.models.hub import fetch_model

    repo = tmp_path / "models--org--cached"
    for ref, commit in (("main", "1" * 40), ("v1", "2" * 40)):
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / ref).write_text(commit)
        (repo / "snapshots" / commit).mkdir(parents=True)
        for name in _COMPLETE:
            (repo / "snapshots" / commit / name).write_text("{}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    assert fetch_model("org/cached") == str(repo / "snapshots" / ("1" * 40))
    assert fetch_model("org/cached", revision="v1") == str(repo / "snapshots" / ("2" * 40))
    with pytest.raises(ModelError) as err:
        fetch_model("org/cached", revision="v2")
    assert str(err.value).startswith("cannot fetch model 'org/cached': ") and "\n" not in str(err.value)
    res = invoke(["models", "fetch", "--model", "org/cached", "--revision", "v1"])
    assert res.exit_code == 0, res.output
    assert f"org/cached: in the cache at {repo / 'snapshots' / ('2' * 40)}" in res.stderr


# ------------------------------------------------------------------- sizes and cache status

MUL_EN = "Helsinki-NLP/opus-mt-mul-en"
DEMO = ["--to", "en", "--summary-model", XLSUM, "--translation-model", MUL_EN]


@pytest.fixture
def fake_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache (HF_HUB_CACHE, and huggingface_hub's default pointed there)."""
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def _cache_model(cache: Path, model_id: str, names: tuple[str, ...] = _COMPLETE) -> Path:
    repo = cache / ("models--" + model_id.replace("/", "--"))
    snap = repo / "snapshots" / ("e" * 40)
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("e" * 40)
    for name in names:
        (snap / name).write_text("{}")
    return snap


def test_plan_shows_sizes_cache_status_and_the_total(fake_cache: Path) -> None:
    from summarize.models.downloads import format_size

    reg = Registry.load()
    xlsum, mul = reg.size_of(XLSUM), reg.size_of(MUL_EN)
    assert xlsum is not None and mul is not None
    _cache_model(fake_cache, XLSUM)
    res = invoke(["models", "plan", str(SAMPLES / "articles.jsonl"), *DEMO])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert "models (id, tasks, articles, family, licence, size, cache)" in lines
    row = {ln.split()[0]: ln.split() for ln in lines if ln.startswith("  ") and ln.split()[0] in (XLSUM, MUL_EN)}
    assert row[XLSUM][-3:] == [*format_size(xlsum.bytes).split(), "cached"]
    assert row[MUL_EN][-3:] == [*format_size(mul.bytes).split(), "download"]
    assert f"downloads: will download 1 model, {format_size(mul.bytes)}; 1 cached" in lines
    date = mul.size_source.rsplit(" ", 1)[-1]
    assert f"sizes: 2 recorded in the registry (read {date}); the Hub was not reached" in lines

    doc = _plan(str(SAMPLES / "articles.jsonl"), *DEMO)
    dl = doc["downloads"]
    assert (dl["to_download"], dl["download_bytes"], dl["cached"], dl["hub_online"]) == (1, mul.bytes, 1, False)
    by = {m["id"]: m for m in dl["models"]}
    assert [m["id"] for m in dl["models"]] == [m["id"] for m in doc["models"]]
    assert (by[XLSUM]["size_bytes"], by[XLSUM]["cached"], by[XLSUM]["status"]) == (xlsum.bytes, True, "cached")
    assert (by[MUL_EN]["size_bytes"], by[MUL_EN]["cached"], by[MUL_EN]["status"]) == (mul.bytes, False, "download")
    assert by[MUL_EN]["size_source"] == "registry" and by[MUL_EN]["source_note"] == mul.size_source
    assert dl["text"] == f"will download 1 model, {format_size(mul.bytes)}; 1 cached"


def test_fetch_shows_the_plan_then_fetches_and_reports_json(fake_cache: Path) -> None:
    from summarize.models.downloads import format_size

    reg = Registry.load()
    snap = _cache_model(fake_cache, XLSUM)
    _cache_model(fake_cache, MUL_EN, ("config.json",))  # weights and tokenizer missing
    res = invoke(["models", "fetch", str(SAMPLES / "articles.jsonl"), *DEMO])
    assert res.exit_code == 2
    table = res.stdout.splitlines()
    assert table[0].split() == ["model", "size", "cache"]
    assert table[1].split() == [XLSUM, *format_size(reg.size_of(XLSUM).bytes).split(), "cached"]  # type: ignore[union-attr]
    assert table[2].split() == [MUL_EN, *format_size(reg.size_of(MUL_EN).bytes).split(), "download"]  # type: ignore[union-attr]
    assert f"will download 1 model, {format_size(reg.size_of(MUL_EN).bytes)}; 1 cached" in table  # type: ignore[union-attr]
    errors = [ln for ln in res.stderr.splitlines() if "error" in ln]
    assert errors == [f"summarize: error: cannot fetch model '{MUL_EN}': the Hub cannot be reached and it is only "
                      "partly in the Hugging Face cache"]
    assert f"{XLSUM}: in the cache at" in res.stderr

    res = invoke(["models", "fetch", "--model", XLSUM, "--model", MUL_EN, "--json"])
    assert res.exit_code == 2
    doc = json.loads(res.stdout)
    by = {m["id"]: m for m in doc["models"]}
    assert doc["failed"] == 1 and doc["to_download"] == 1 and doc["cached"] == 1
    assert by[XLSUM]["ok"] and by[XLSUM]["path"] == str(snap)
    assert not by[MUL_EN]["ok"] and "only partly in the Hugging Face cache" in by[MUL_EN]["error"]
    assert all({"size_bytes", "size", "size_source", "cached", "status"} <= set(m) for m in doc["models"])
