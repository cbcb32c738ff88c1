"""The tiny model builder: every family loads through the Auto classes, generates, and honours its languages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import summarize
from summarize.testing import spm_corpus as corpus_module
from summarize.testing.spm_corpus import corpus_digest
from summarize.testing.tiny import (
    BUILTIN_CORPUS,
    COMPLETE_MARKER,
    FAMILIES,
    INFO_FILE,
    MODEL_MAX_LENGTH,
    PROBE_TEXT,
    build_tiny_models,
    default_corpus_dir,
    load_corpus,
    main,
)

PACKAGE = Path(summarize.__file__).resolve().parent

# family -> (tokenizer class, model class, model_type) as transformers 5 loads them.
EXPECTED: dict[str, tuple[str, str, str]] = {
    "t5": ("T5Tokenizer", "T5ForConditionalGeneration", "t5"),
    "mt5": ("T5Tokenizer", "MT5ForConditionalGeneration", "mt5"),
    "marian": ("MarianTokenizer", "MarianMTModel", "marian"),
    "m2m100": ("M2M100Tokenizer", "M2M100ForConditionalGeneration", "m2m_100"),
    "mbart50": ("MBart50Tokenizer", "MBartForConditionalGeneration", "mbart"),
    "nllb": ("NllbTokenizer", "M2M100ForConditionalGeneration", "m2m_100"),
}

# family -> (source code for tokenizer.src_lang, target language token), German as the target.
FORCED_BOS: dict[str, tuple[str, str]] = {
    "m2m100": ("en", "__de__"),
    "mbart50": ("en_XX", "de_DE"),
    "nllb": ("eng_Latn", "deu_Latn"),
}


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    built = build_tiny_models(out)
    assert list(built) == list(FAMILIES)
    return out


def _load(folder: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    return AutoTokenizer.from_pretrained(folder), AutoModelForSeq2SeqLM.from_pretrained(folder)


def _info(folder: Path) -> dict[str, Any]:
    return json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))


@pytest.mark.parametrize("family", FAMILIES)
def test_family_loads_with_auto_classes_and_generates(tiny_dir: Path, family: str) -> None:
    import torch

    folder = tiny_dir / family
    assert (folder / COMPLETE_MARKER).is_file()
    tokenizer, model = _load(folder)
    tokenizer_class, model_class, model_type = EXPECTED[family]
    assert type(tokenizer).__name__ == tokenizer_class
    assert type(model).__name__ == model_class
    assert model.config.model_type == model_type
    assert tokenizer.model_max_length == MODEL_MAX_LENGTH
    assert len(tokenizer) <= model.config.vocab_size
    # Tiny: a real architecture, but small enough to build and run in well under a second.
    assert model.config.d_model <= 64
    assert sum(p.numel() for p in model.parameters()) < 1_000_000

    info = _info(folder)
    assert info["family"] == family
    assert info["tokenizer_class"] == tokenizer_class
    gen = model.generation_config
    assert gen.eos_token_id == tokenizer.eos_token_id
    assert gen.pad_token_id == tokenizer.pad_token_id
    assert gen.decoder_start_token_id is not None

    src, target = FORCED_BOS.get(family, (None, None))
    kwargs: dict[str, Any] = {}
    if src is not None:
        tokenizer.src_lang = src
        kwargs["forced_bos_token_id"] = tokenizer.convert_tokens_to_ids(target)
    prefix = {"t5": "summarize: ", "marian": ">>de<< "}.get(family, "")
    inputs = tokenizer([prefix + PROBE_TEXT], return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=8, num_beams=1, do_sample=False, **kwargs)
    assert out.shape[0] == 1 and 2 <= out.shape[1] <= 9
    assert int(out[0, 0]) == gen.decoder_start_token_id
    # The builder guarantees the probe decodes to some text rather than only special tokens.
    assert tokenizer.decode(out[0], skip_special_tokens=True).strip()


@pytest.mark.parametrize("family", sorted(FORCED_BOS))
def test_forced_target_language_token_comes_first(tiny_dir: Path, family: str) -> None:
    import torch

    tokenizer, model = _load(tiny_dir / family)
    src, target = FORCED_BOS[family]
    target_id = tokenizer.convert_tokens_to_ids(target)
    assert target_id != tokenizer.unk_token_id
    assert target in tokenizer.all_special_tokens  # so skip_special_tokens drops it from the output
    tokenizer.src_lang = src
    inputs = tokenizer(
        ["Der Stadtrat hat am Montag den Haushalt beschlossen.", "Short."], return_tensors="pt", padding=True
    )
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=5, num_beams=2, forced_bos_token_id=target_id)
    assert out[:, 0].tolist() == [model.generation_config.decoder_start_token_id] * 2
    assert out[:, 1].tolist() == [target_id] * 2
    for text in tokenizer.batch_decode(out, skip_special_tokens=True):
        assert target not in text


@pytest.mark.parametrize("family", sorted(FORCED_BOS))
def test_src_lang_sets_the_source_language_token(tiny_dir: Path, family: str) -> None:
    tokenizer, _ = _load(tiny_dir / family)
    info = _info(tiny_dir / family)
    tokens = info["language_tokens"]
    assert {"en", "de", "fr", "ru", "zh", "ar", "hi"} <= set(info["languages"])
    code = {"m2m100": "ru", "mbart50": "ru_RU", "nllb": "rus_Cyrl"}[family]
    tokenizer.src_lang = code
    ids = tokenizer("Правительство объявило о новом плане.")["input_ids"]
    # transformers 5: m2m100, mbart-50 and nllb (non-legacy) all put the source code first and </s> last.
    assert ids[0] == tokenizer.convert_tokens_to_ids(tokens["ru"])
    assert ids[-1] == tokenizer.eos_token_id
    for token in tokens.values():
        assert tokenizer.convert_tokens_to_ids(token) != tokenizer.unk_token_id


def test_marian_target_tokens_are_in_the_vocab(tiny_dir: Path) -> None:
    tokenizer, _ = _load(tiny_dir / "marian")
    info = _info(tiny_dir / "marian")
    vocab = tokenizer.get_vocab()
    labels = {token for token in vocab if token.startswith(">>") and token.endswith("<<")}
    assert labels == set(info["language_tokens"].values())
    assert {">>en<<", ">>de<<", ">>fr<<", ">>es<<"} <= labels
    ids = tokenizer(">>fr<< Le conseil a voté.")["input_ids"]
    assert ids[0] == vocab[">>fr<<"] and ids[-1] == tokenizer.eos_token_id


@pytest.mark.parametrize("family", FAMILIES)
def test_inputs_up_to_model_max_length_generate(tiny_dir: Path, family: str) -> None:
    import torch

    tokenizer, model = _load(tiny_dir / family)
    long_text = " ".join(BUILTIN_CORPUS) * 4
    inputs = tokenizer([long_text], return_tensors="pt", truncation=True, max_length=tokenizer.model_max_length)
    assert inputs["input_ids"].shape[1] == MODEL_MAX_LENGTH
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=2, num_beams=1)
    assert out.shape[1] >= 2


def test_complete_folders_are_reused_and_builds_reproducible(tiny_dir: Path, tmp_path: Path) -> None:
    weights = tiny_dir / "t5" / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert build_tiny_models(tiny_dir, ["t5"]) == {"t5": tiny_dir / "t5"}
    assert weights.stat().st_mtime_ns == before

    again = build_tiny_models(tmp_path, "t5,nllb")
    assert list(again) == ["t5", "nllb"]
    for family in again:
        for name in ("model.safetensors", "tokenizer.json"):
            assert (again[family] / name).read_bytes() == (tiny_dir / family / name).read_bytes()

    build_tiny_models(tmp_path, ["t5"], force=True)
    assert (tmp_path / "t5" / "model.safetensors").read_bytes() == weights.read_bytes()


def test_builtin_corpus_is_used_without_samples(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert load_corpus(empty) == list(BUILTIN_CORPUS)
    with pytest.raises(FileNotFoundError):
        load_corpus(tmp_path / "missing")

    built = build_tiny_models(tmp_path / "out", ["mt5"], corpus=empty)
    tokenizer, _ = _load(built["mt5"])
    for text in ("Правительство объявило", "الحكومة", "政府", "सरकार", "Regierung"):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert ids and tokenizer.unk_token_id not in ids, text


def test_default_corpus_ships_inside_the_package() -> None:
    folder = default_corpus_dir()
    assert folder.is_relative_to(PACKAGE)
    assert sorted(p.name for p in folder.glob("*.jsonl"))
    # News articles in many languages, not just the built-in sentences.
    assert len(load_corpus()) > 2 * len(BUILTIN_CORPUS)


def test_an_installed_package_trains_on_the_same_corpus(tmp_path: Path) -> None:
    # As from a wheel: the package alone, no samples/ (or any checkout) beside it, run from elsewhere.
    site = tmp_path / "site"
    shutil.copytree(PACKAGE, site / "summarize", ignore=shutil.ignore_patterns("__pycache__"))
    code = (
        "from summarize.testing.spm_corpus import corpus_digest, default_corpus_dir, load_corpus\n"
        "print(default_corpus_dir()); print(corpus_digest(load_corpus()))"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    where, digest = done.stdout.split()
    assert Path(where).is_relative_to(site)
    assert digest == corpus_digest(load_corpus())


def test_a_missing_shipped_corpus_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Training on the built-in sentences alone would silently give other tokenizers than a checkout's.
    monkeypatch.setattr(corpus_module, "default_corpus_dir", lambda: tmp_path / "gone")
    with pytest.raises(FileNotFoundError, match="gone"):
        load_corpus()
    assert main([str(tmp_path / "out"), "--only", "t5"]) == 2


def test_corpus_reads_title_and_text_and_skips_broken_lines(tmp_path: Path) -> None:
    data = tmp_path / "articles.jsonl"
    data.write_text(
        json.dumps({"title": "Headline here", "text": "First line.\n\nSecond   line.", "id": "x"})
        + "\n{not json\n"
        + json.dumps({"title": None, "text": "x" * 2500})
        + "\n",
        encoding="utf-8",
    )
    lines = load_corpus(tmp_path)
    own = lines[: len(lines) - len(BUILTIN_CORPUS)]
    assert own == ["Headline here", "First line.", "Second line.", "x" * 1000, "x" * 1000, "x" * 500]


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path), "--only", "marian", "--vocab-size", "400"]) == 0
    assert (tmp_path / "marian" / COMPLETE_MARKER).is_file()
    assert not (tmp_path / "t5").exists()
    assert "marian" in capsys.readouterr().out
    assert main([str(tmp_path), "--only", "gpt2"]) == 2
    assert "unknown family" in capsys.readouterr().err
