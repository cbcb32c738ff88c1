"""Backends: batching keeps order, CTranslate2 matches transformers, conversions are cached,
unconvertible models fall back to torch, forced language tokens reach the model, no fp16 for T5.

The CTranslate2 tests need the `ct2` extra and skip cleanly without it; the dtype and compute
type choices are pure functions and always run.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from summarize import batching as plan
from summarize.backends import ModelPool, Output
from summarize.backends.ct2 import COMPUTE_TYPES, choose_compute_type
from summarize.backends.hf import NO_FP16, TransformersGenerator, choose_dtype
from summarize.errors import UsageError
from summarize.models.langcodes import FAMILIES, family_code
from summarize.options import GenerationOptions

GREEDY = GenerationOptions(max_new_tokens=10, num_beams=1, no_repeat_ngram_size=0)
TEXTS = [
    "The city council approved the new budget for schools and public transport on Monday.",
    "Short.",
    "Heavy rain caused flooding in several towns, forcing hundreds of families to leave their homes "
    "after the river burst its banks during the night.",
    "Officials said the plan would cost about two billion dollars.",
    "The vote was close.",
    "Scientists reported that the glacier has lost nearly a third of its volume since 1990, "
    "a faster retreat than any model had predicted.",
    "Markets rose.",
]
# family -> (source, target) for the models that take languages.
PAIRS: dict[str, tuple[str | None, str | None]] = {
    "t5": (None, None),
    "mt5": (None, None),
    "marian": ("en", "de"),
    "m2m100": ("en", "de"),
    "mbart50": ("en", "de"),
    "nllb": ("en", "de"),
}
FORCED = ("m2m100", "nllb", "mbart50")

CPU_TYPES = frozenset({"int8", "int8_float32", "float32"})
CUDA_BF16_TYPES = frozenset(COMPUTE_TYPES)
CUDA_NO_BF16_TYPES = frozenset(t for t in COMPUTE_TYPES if "bfloat16" not in t)


@pytest.fixture(scope="module")
def hf_models(tiny: dict[str, Path]) -> dict[str, TransformersGenerator]:
    return {family: TransformersGenerator.load(str(folder), device="cpu") for family, folder in tiny.items()}


@pytest.fixture(scope="module")
def ct2_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ct2-cache")


@pytest.fixture
def cache_env(ct2_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SUMMARIZE_CACHE", str(ct2_cache))
    return ct2_cache


def _langs(family: str) -> dict[str, Any]:
    src, tgt = PAIRS[family]
    return {"source_lang": src, "target_lang": tgt}


# ------------------------------------------------------------------ dtype and compute type


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("bf16", [True, False])
def test_torch_dtype_never_fp16_for_t5_families(family: str, device: str, bf16: bool) -> None:
    dtype = choose_dtype(family, device, bf16_supported=bf16)
    if device == "cpu":
        assert dtype == "float32"
    elif bf16:
        assert dtype == "bfloat16"
    else:
        assert dtype == ("float32" if family in NO_FP16 else "float16")


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize(
    ("device", "supported"), [("cpu", CPU_TYPES), ("cuda", CUDA_BF16_TYPES), ("cuda", CUDA_NO_BF16_TYPES)]
)
def test_ct2_compute_type_never_fp16_for_t5_families(family: str, device: str, supported: frozenset[str]) -> None:
    chosen = choose_compute_type(family, device, supported=supported)
    assert chosen in supported
    if device == "cpu":
        assert chosen == "int8"
    elif "bfloat16" in supported:
        assert chosen == "int8_bfloat16"
    else:
        assert chosen == ("int8_float32" if family in NO_FP16 else "int8_float16")
    # Asking for float16 explicitly still never runs a T5-like model in it.
    for requested in ("float16", "int8_float16"):
        safe = requested
        if family in NO_FP16:
            safe = requested.replace("float16", "bfloat16" if "bfloat16" in supported else "float32")
        if safe not in supported:
            with pytest.raises(UsageError, match="not supported"):
                choose_compute_type(family, device, supported=supported, requested=requested)
            continue
        got = choose_compute_type(family, device, supported=supported, requested=requested)
        assert got == safe
        assert family not in NO_FP16 or "float16" not in got.replace("bfloat16", "")


def test_ct2_compute_type_rejects_unknown_types() -> None:
    with pytest.raises(UsageError, match="must be one of"):
        choose_compute_type("marian", "cpu", supported=CPU_TYPES, requested="fp8")
    assert choose_compute_type("marian", "cpu", supported=CPU_TYPES, requested="float32") == "float32"


# ------------------------------------------------------------------ batching keeps order


def test_batch_outputs_equal_one_at_a_time_outputs(hf_models: dict[str, TransformersGenerator]) -> None:
    gen = hf_models["t5"]
    batched = gen.generate_batch(TEXTS, GREEDY)
    alone = [gen.generate_batch([t], GREEDY)[0] for t in TEXTS]
    assert batched == alone
    assert all(isinstance(o, Output) and o.tokens > 0 for o in batched)


@pytest.mark.parametrize("family", ["t5", "marian"])
def test_length_sorted_batches_restore_input_order(hf_models: dict[str, TransformersGenerator], family: str) -> None:
    gen = hf_models[family]
    counts = gen.count_tokens(TEXTS)
    batches = plan.make_batches(counts, batch_size=3, max_batch_tokens=10_000)
    order = [i for b in batches for i in b]
    assert sorted(order) == list(range(len(TEXTS))) and order != list(range(len(TEXTS)))
    assert [counts[i] for i in order] == sorted(counts, reverse=True)
    results: list[Output | None] = [None] * len(TEXTS)
    for batch in batches:
        for i, out in zip(batch, gen.generate_batch([TEXTS[i] for i in batch], GREEDY, **_langs(family)), strict=True):
            results[i] = out
    alone = [gen.generate_batch([t], GREEDY, **_langs(family))[0] for t in TEXTS]
    assert results == alone


def test_min_new_tokens_forces_the_output_length(hf_models: dict[str, TransformersGenerator]) -> None:
    gen = hf_models["t5"]
    outs = gen.generate_batch(TEXTS[:3], GREEDY, max_new_tokens=7, min_new_tokens=7)
    assert [o.tokens for o in outs] == [7, 7, 7]


# ------------------------------------------------------------------ forced language tokens (torch)


class GenerateSpy:
    """Wraps a transformers model's `generate`: records keyword arguments, inputs and outputs."""

    def __init__(self, gen: TransformersGenerator, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[dict[str, Any]] = []
        real = gen.model.generate

        def generate(*args: Any, **kwargs: Any) -> Any:
            out = real(*args, **kwargs)
            self.calls.append({**kwargs, "input_ids": kwargs["input_ids"].tolist(), "output": out.sequences.tolist()})
            return out

        monkeypatch.setattr(gen.model, "generate", generate)


@pytest.mark.parametrize("family", FORCED)
def test_torch_forces_the_target_language_token(
    hf_models: dict[str, TransformersGenerator], family: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    gen = hf_models[family]
    spy = GenerateSpy(gen, monkeypatch)
    gen.generate_batch(TEXTS[:2], GREEDY, source_lang="fr", target_lang="ru")
    call = spy.calls[-1]
    target = gen.tokenizer.convert_tokens_to_ids(family_code(family, "ru"))
    source = gen.tokenizer.convert_tokens_to_ids(family_code(family, "fr"))
    assert call["forced_bos_token_id"] == target == gen.last_forced_bos
    assert all(row[1] == target for row in call["output"])
    assert all(row[0] == source for row in call["input_ids"])


# ------------------------------------------------------------------ CTranslate2


@pytest.fixture(scope="module")
def ct2_models(tiny: dict[str, Path], ct2_cache: Path) -> Iterator[dict[str, Any]]:
    pytest.importorskip("ctranslate2")
    from summarize.backends.ct2 import load_ct2

    old = os.environ.get("SUMMARIZE_CACHE")
    os.environ["SUMMARIZE_CACHE"] = str(ct2_cache)
    try:
        # float32: the comparison with transformers is about the backend, not int8 rounding.
        models = {family: load_ct2(str(folder), device="cpu", compute_type="float32") for family, folder in tiny.items()}
    finally:
        if old is None:
            os.environ.pop("SUMMARIZE_CACHE", None)
        else:
            os.environ["SUMMARIZE_CACHE"] = old
    yield models


@pytest.mark.ct2
@pytest.mark.parametrize("family", list(PAIRS))
def test_ct2_and_torch_agree_under_greedy_decoding(
    family: str, hf_models: dict[str, TransformersGenerator], ct2_models: dict[str, Any]
) -> None:
    ct2 = ct2_models[family]
    assert ct2 is not None, f"{family} did not convert"
    assert ct2.family == family and ct2.max_input_tokens == hf_models[family].max_input_tokens
    assert ct2.count_tokens(TEXTS) == hf_models[family].count_tokens(TEXTS)
    for limit in (None, 6):
        torch_out = hf_models[family].generate_batch(TEXTS, GREEDY, max_new_tokens=limit, **_langs(family))
        ct2_out = ct2.generate_batch(TEXTS, GREEDY, max_new_tokens=limit, **_langs(family))
        assert ct2_out == torch_out


class TranslatorSpy:
    """Stands in for a `ctranslate2.Translator`: records what `translate_batch` gets and returns."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: list[dict[str, Any]] = []

    def translate_batch(self, source: list[list[str]], **kwargs: Any) -> Any:
        results = self.real.translate_batch(source, **kwargs)
        self.calls.append({"source": source, **kwargs, "hypotheses": [r.hypotheses[0] for r in results]})
        return results


@pytest.mark.ct2
@pytest.mark.parametrize("family", FORCED)
def test_ct2_forces_the_target_language_token(
    family: str, ct2_models: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    gen = ct2_models[family]
    spy = TranslatorSpy(gen.translator)
    monkeypatch.setattr(gen, "translator", spy)
    for src, tgt in (("fr", "ru"), ("de", "en")):
        gen.generate_batch(TEXTS[:2], GREEDY, source_lang=src, target_lang=tgt)
        call = spy.calls[-1]
        target = family_code(family, tgt)
        source = family_code(family, src)
        assert call["target_prefix"] == [[target], [target]] == [[gen.last_target_prefix]] * 2
        assert all(h[0] == target for h in call["hypotheses"])
        assert all(row[0] == source for row in call["source"])


@pytest.mark.ct2
def test_ct2_marian_label_goes_in_front_of_the_input(ct2_models: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    gen = ct2_models["marian"]
    spy = TranslatorSpy(gen.translator)
    monkeypatch.setattr(gen, "translator", spy)
    gen.generate_batch(TEXTS[:2], GREEDY, source_lang="en", target_lang="fr")
    assert [row[0] for row in spy.calls[-1]["source"]] == [">>fr<<", ">>fr<<"]
    assert spy.calls[-1]["target_prefix"] is None


@pytest.mark.ct2
def test_ct2_through_the_pool_and_the_planner_keeps_order(tiny: dict[str, Path], cache_env: Path) -> None:
    pytest.importorskip("ctranslate2")
    from summarize.backends.ct2 import CT2Generator

    pool = ModelPool(device="cpu", backend="ct2")
    gen = pool.get(str(tiny["t5"]), "summarization")
    assert isinstance(gen, CT2Generator) and gen.compute_type == "int8"
    assert pool.get(str(tiny["t5"]), "summarization") is gen and pool.loads == [str(tiny["t5"])]
    counts = gen.count_tokens(TEXTS)
    results: list[Output | None] = [None] * len(TEXTS)
    for batch in plan.make_batches(counts, batch_size=2, max_batch_tokens=10_000):
        for i, out in zip(batch, gen.generate_batch([TEXTS[i] for i in batch], GREEDY), strict=True):
            results[i] = out
    assert results == [gen.generate_batch([t], GREEDY)[0] for t in TEXTS]


@pytest.mark.ct2
def test_conversion_is_cached_and_keyed_by_the_files(
    tiny: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("ctranslate2")
    from summarize.backends import ct2

    monkeypatch.setenv("SUMMARIZE_CACHE", str(tmp_path / "cache"))
    model = tmp_path / "t5"
    shutil.copytree(tiny["t5"], model)
    conversions: list[str] = []
    real = ct2.convert

    def counting(source: Any, quantization: str, target: Path) -> None:
        conversions.append(quantization)
        real(source, quantization, target)

    monkeypatch.setattr(ct2, "convert", counting)
    first = ct2.load_ct2(str(model), device="cpu")
    assert first is not None and conversions == ["int8"]
    with caplog.at_level(logging.INFO, logger="summarize.backends.ct2"):
        second = ct2.load_ct2(str(model), device="cpu")
    assert second is not None and second.model_dir == first.model_dir and conversions == ["int8"]
    assert "using the CTranslate2 conversion" in caplog.text
    # Only finished conversions in the cache: no temporary folders left behind.
    assert [p.name for p in (tmp_path / "cache" / "ct2").iterdir()] == [first.model_dir.name]
    # Another quantization is another conversion; changed files are too.
    ct2.load_ct2(str(model), device="cpu", compute_type="float32")
    assert conversions == ["int8", "float32"]
    stamp = (model / "config.json").stat().st_mtime + 10
    os.utime(model / "config.json", (stamp, stamp))
    third = ct2.load_ct2(str(model), device="cpu")
    assert third is not None and third.model_dir != first.model_dir and conversions == ["int8", "float32", "int8"]


@pytest.mark.ct2
def test_a_crashed_conversion_leaves_nothing_and_falls_back(
    tiny: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("ctranslate2")
    from summarize.backends import ct2

    monkeypatch.setenv("SUMMARIZE_CACHE", str(tmp_path / "cache"))

    def crash(source: Any, quantization: str, target: Path) -> None:
        target.mkdir()
        (target / "model.bin").write_bytes(b"half")
        raise RuntimeError("killed mid-conversion")

    monkeypatch.setattr(ct2, "convert", crash)
    with caplog.at_level(logging.WARNING):
        gen = ModelPool(device="cpu", backend="ct2").get(str(tiny["t5"]), "summarization")
    assert isinstance(gen, TransformersGenerator)
    assert "killed mid-conversion" in caplog.text and "using torch" in caplog.text
    assert list((tmp_path / "cache" / "ct2").iterdir()) == []


def _tiny_longt5(tiny: dict[str, Path], folder: Path) -> Path:
    """A tiny LongT5 model (an architecture CTranslate2 cannot convert) with the tiny T5 tokenizer."""
    from transformers import AutoTokenizer, GenerationConfig, LongT5Config, LongT5ForConditionalGeneration

    tokenizer = AutoTokenizer.from_pretrained(tiny["t5"])
    tokenizer.save_pretrained(folder)
    config = LongT5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=1, num_decoder_layers=1,
                          num_heads=4, pad_token_id=0, eos_token_id=1)
    model = LongT5ForConditionalGeneration(config)
    model.generation_config = GenerationConfig(decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    model.save_pretrained(folder)
    return folder


@pytest.mark.ct2
def test_unconvertible_family_falls_back_to_torch_with_a_warning(
    tiny: dict[str, Path], tmp_path: Path, cache_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("ctranslate2")
    model = str(_tiny_longt5(tiny, tmp_path / "longt5-tiny"))
    with caplog.at_level(logging.WARNING):
        gen = ModelPool(device="cpu", backend="ct2").get(model, "summarization")
    assert isinstance(gen, TransformersGenerator)
    assert "CTranslate2 cannot convert" in caplog.text and "using torch" in caplog.text
    assert len(gen.generate_batch(["A short text."], GREEDY)) == 1


def test_missing_ctranslate2_falls_back_to_torch_with_a_warning(
    tiny: dict[str, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "ctranslate2", None)  # import ctranslate2 -> ImportError
    with caplog.at_level(logging.WARNING):
        gen = ModelPool(device="cpu", backend="ct2").get(str(tiny["t5"]), "summarization")
    assert isinstance(gen, TransformersGenerator)
    assert "ct2 extra" in caplog.text


@pytest.mark.parametrize("family", sorted(PAIRS))
def test_light_source_reads_what_transformers_auto_classes_read(tiny: dict[str, Path], family: str) -> None:
    from summarize.backends.source import load_source, load_source_light

    light, full = load_source_light(str(tiny[family])), load_source(str(tiny[family]))
    assert light is not None
    assert type(light.tokenizer) is type(full.tokenizer)
    assert (light.family, light.local, light.path, light.revision) == (full.family, full.local, full.path, full.revision)
    assert light.tokenizer.model_max_length == full.tokenizer.model_max_length
    assert light.tokenizer(TEXTS).input_ids == full.tokenizer(TEXTS).input_ids
    assert light.generation.to_dict() == full.generation.to_dict()
    assert light.config.model_type == full.config.model_type


def _unnamed_tokenizer(model: Path, folder: Path) -> Path:
    """A copy of `model` whose tokenizer_config.json does not name its tokenizer class."""
    shutil.copytree(model, folder)
    doc = (folder / "tokenizer_config.json").read_text(encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(doc.replace('"tokenizer_class"', '"x_tokenizer_class"'),
                                                  encoding="utf-8")
    return folder


def test_light_source_leaves_unnamed_tokenizers_to_the_auto_classes(tiny: dict[str, Path], tmp_path: Path) -> None:
    from summarize.backends.source import load_source, load_source_light

    folder = _unnamed_tokenizer(tiny["mbart50"], tmp_path / "mbart50")
    assert load_source_light(str(folder)) is None  # mbart names no default: AutoTokenizer decides
    for name in ("AutoModel", "AutoTokenizer", "pipeline"):  # only a tokenizer class is loaded directly
        (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": name}), encoding="utf-8")
        assert load_source_light(str(folder)) is None
    assert load_source_light(str(tmp_path / "missing")) is None
    # An older opus-mt upload names no class either; its model type does.
    marian = _unnamed_tokenizer(tiny["marian"], tmp_path / "marian")
    light, full = load_source_light(str(marian)), load_source(str(marian))
    assert light is not None and type(light.tokenizer) is type(full.tokenizer)
    assert light.tokenizer(TEXTS).input_ids == full.tokenizer(TEXTS).input_ids


@pytest.mark.ct2
def test_a_ct2_run_on_a_converted_model_never_imports_torch(tiny: dict[str, Path], cache_env: Path) -> None:
    import subprocess

    pytest.importorskip("ctranslate2")
    from summarize.backends.ct2 import load_ct2

    assert load_ct2(str(tiny["marian"]), device="cpu") is not None  # converts (which needs torch) once
    code = ("import sys; from summarize.backends.ct2 import load_ct2; "
            f"g = load_ct2({str(tiny['marian'])!r}, device='cpu'); "
            "from summarize.options import GenerationOptions; "
            "out = g.generate_batch(['A short text.'], GenerationOptions(max_new_tokens=4, num_beams=1)); "
            "print(len(out), 'torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.stdout.split() == ["1", "False"], proc.stderr[-2000:]


def test_light_source_reads_a_cached_hub_snapshot_offline(
    tiny: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    from summarize.backends.source import load_source, load_source_light

    commit = "c" * 40
    repo = tmp_path / "hub" / "models--org--tiny-marian"
    shutil.copytree(tiny["marian"], repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    light, full = load_source_light("org/tiny-marian"), load_source("org/tiny-marian")
    assert light is not None
    assert (light.path, light.local, light.revision, light.family) == ("org/tiny-marian", False, commit, "marian")
    assert (light.path, light.local, light.revision, light.family) == (full.path, full.local, full.revision, full.family)
    assert load_source_light("org/not-cached") is None
