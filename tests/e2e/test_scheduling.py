"""Model scheduling across shards: each model loaded once per run while the models fit the memory budget.

A multilingual stream touches every route's model in every shard; these runs use tiny real models,
shards of 2 articles whose languages alternate, and a user registry that gives each language
pair its own model, so a pool that dropped models between shards would load them again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from summarize.backends import ModelPool, weights_bytes
from summarize.options import GenerationOptions, RunOptions
from tests.conftest import invoke, read, sample_articles, write_jsonl

ROOT = Path(__file__).resolve().parents[2]
LANGS = ("en", "de", "fr", "es")


def _registry(tmp_path: Path, tiny: dict[str, Path]) -> Path:
    reg = tmp_path / "registry.toml"
    reg.write_text(
        f'[[summarization]]\nid = "{tiny["t5"]}"\nfamily = "t5"\nlanguages = {list(LANGS)!r}\nlicence = "apache-2.0"\n\n'
        f'[[translation]]\nid = "{tiny["marian"]}"\nfamily = "marian"\nlanguages = ["de"]\ntargets = ["en"]\nlicence = "cc-by-4.0"\n\n'
        f'[[translation]]\nid = "{tiny["m2m100"]}"\nfamily = "m2m100"\nlanguages = ["fr"]\ntargets = ["en"]\nlicence = "mit"\n\n'
        f'[[translation]]\nid = "{tiny["mbart50"]}"\nfamily = "mbart50"\nlanguages = ["es"]\ntargets = ["en"]\nlicence = "mit"\n',
        encoding="utf-8",
    )
    return reg


def _stream(tmp_path: Path) -> Path:
    """8 articles, languages interleaved (en, de, fr, es, en, ...) so consecutive shards of 2 need different models."""
    by_lang = {lang: [r for r in sample_articles() if r["id"].startswith(lang + "-")] for lang in LANGS}
    rows = [{**by_lang[lang][i], "lang": lang} for i in range(2) for lang in LANGS]
    return write_jsonl(tmp_path / "stream.jsonl", rows)


def _run(tmp_path: Path, tiny: dict[str, Path], name: str, *extra: str) -> dict[str, Any]:
    inp = _stream(tmp_path)
    out = tmp_path / name
    res = invoke(["run", str(inp), "--out", str(out), "--registry", str(_registry(tmp_path, tiny)), "--lang-col", "lang",
                  "--to", "en", "--shard-size", "2", "--backend", "torch", "--max-new-tokens", "6", "--beams", "1",
                  "--translation-beams", "1", "--translation-max-new-tokens", "8", "--quiet", *extra])
    assert res.exit_code == 0, res.output
    ids = read(out, "articles").sort("row_index")["id"].to_list()
    # Output order and exactly-once output do not depend on how models are scheduled.
    assert ids == [json.loads(line)["id"] for line in inp.read_text(encoding="utf-8").splitlines()]
    doc: dict[str, Any] = json.loads((out / "run.json").read_text(encoding="utf-8"))
    return doc


def test_each_model_is_loaded_once_across_shards(tmp_path: Path, tiny: dict[str, Path]) -> None:
    doc = _run(tmp_path, tiny, "once")
    models = doc["models"]
    assert set(models) == {str(tiny[k]) for k in ("t5", "marian", "m2m100", "mbart50")}
    assert {m: v["loads"] for m, v in models.items()} == dict.fromkeys(models, 1)
    assert all(v["backend"] == "torch" and v["load_seconds"] > 0 for v in models.values())
    assert doc["load_seconds"] == pytest.approx(sum(v["load_seconds"] for v in models.values()), abs=0.01)
    assert 0 < doc["first_shard_seconds"] <= doc["seconds"]


def test_a_budget_too_small_for_all_models_reloads_them(tmp_path: Path, tiny: dict[str, Path]) -> None:
    # The same stream with room for two models at a time: the LRU pool must drop and reload, which
    # is what every multilingual run did before models were kept by memory rather than by count.
    by_count = _run(tmp_path, tiny, "count", "--max-loaded-models", "2")["models"]
    assert max(v["loads"] for v in by_count.values()) > 1
    smallest = min(weights_bytes(str(tiny[k])) for k in ("t5", "marian", "m2m100", "mbart50"))
    assert smallest > 0
    by_memory = _run(tmp_path, tiny, "memory", "--model-memory", str(1.5 * smallest / 1024**3))["models"]
    assert max(v["loads"] for v in by_memory.values()) > 1


def test_pool_drops_least_recently_used_past_its_budget(tiny: dict[str, Path]) -> None:
    t5, marian, m2m = (str(tiny[k]) for k in ("t5", "marian", "m2m100"))
    room = (weights_bytes(t5) + weights_bytes(marian) + weights_bytes(m2m) // 2) / 1024**3
    pool = ModelPool(device="cpu", backend="torch", memory_gib=room)
    pool.get(t5, "summarization")
    pool.get(marian, "translation")
    pool.get(t5, "summarization")  # t5 is now the most recently used
    pool.get(m2m, "translation")
    assert pool.loaded() == [t5, m2m]
    assert pool.stats[t5].loads == pool.stats[marian].loads == 1 and pool.loads == [t5, marian, m2m]


def test_default_backend_is_ct2_on_cpu_and_recorded_per_model(tmp_path: Path, tiny: dict[str, Path],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ctranslate2")
    monkeypatch.setenv("SUMMARIZE_CACHE", str(tmp_path / "cache"))
    assert RunOptions().backend == "auto"
    pool = ModelPool(device="cpu")
    pool.get(str(tiny["t5"]), "summarization")
    assert pool.stats[str(tiny["t5"])].backend == "ct2"
    monkeypatch.setitem(sys.modules, "ctranslate2", None)  # not installed: torch, recorded as such
    pool = ModelPool(device="cpu")
    pool.get(str(tiny["marian"]), "translation")
    assert pool.stats[str(tiny["marian"])].backend == "torch"


def test_min_new_tokens_is_part_of_the_output_hash_only_when_set() -> None:
    base = RunOptions()
    assert RunOptions(summary=GenerationOptions(min_new_tokens=0)).output_hash() == base.output_hash()
    assert RunOptions(summary=GenerationOptions(min_new_tokens=5)).output_hash() != base.output_hash()


@pytest.mark.parametrize("args", [["--help"], ["schema"], ["models", "list"]])
def test_quick_commands_import_no_heavy_module(args: list[str]) -> None:
    # These answer in well under a second because they never import a model or table library;
    # the check is on what is imported, which does not depend on how busy the machine is.
    heavy = ("torch", "transformers", "polars", "pyarrow", "ctranslate2", "huggingface_hub", "ray", "langdetect")
    code = (
        "import sys, runpy; sys.argv = ['summarize', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('summarize.cli', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        f"print('HEAVY=' + ','.join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, env=env,
                         timeout=60)
    assert res.stdout.strip(), res.stderr
    assert res.stderr.strip().splitlines()[-1] == "HEAVY=", res.stderr
