"""The transformers backend: tokenizer -> AutoModelForSeq2SeqLM.generate -> decode.

transformers v5 has no summarization or translation pipeline, so this is the whole path.
Language handling per family lives here because it is about the model's vocabulary:
M2M100, NLLB and mBART-50 force the target language as the first decoder token; multi-target
Marian and MADLAD models take a target token in front of the input.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import langcodes
from ..errors import ModelError, UnsupportedLanguageError
from ..options import GenerationOptions
from . import Output, is_local

log = logging.getLogger(__name__)

# Families whose target language is the forced first decoder token.
FORCED_BOS = ("m2m100", "nllb", "mbart50")
# Families that must never run in float16 (activations overflow); bf16 is fine.
NO_FP16 = ("t5", "mt5", "flan-t5", "mt0", "madlad")
_THREADS_SET = False


def fetch_error(model: str, exc: BaseException) -> ModelError:
    """The one-sentence error for a model that can be neither found locally nor fetched."""
    return ModelError(
        f"Could not fetch model '{model}' from the Hugging Face Hub ({type(exc).__name__}); "
        f"download it where the Hub is reachable (summarize models fetch) or point the tool at a local "
        f"model folder with --summary-model PATH / --translation-model PATH."
    )


def resolve_device(device: str) -> str:
    """`auto` becomes `cuda` when a GPU is usable, else `cpu`."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelError("--device cuda was asked for but no CUDA device is available")
    return device


def choose_dtype(family: str, device: str, *, bf16_supported: bool) -> str:
    """`float32` on CPU; on GPU `bfloat16` where supported, else float16 except for T5-like families."""
    if device != "cuda":
        return "float32"
    if bf16_supported:
        return "bfloat16"
    return "float32" if family in NO_FP16 else "float16"


def _set_threads() -> None:
    # Use every core the process may run on; torch defaults to physical cores only on some builds.
    global _THREADS_SET
    if _THREADS_SET:
        return
    import torch

    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    torch.set_num_threads(max(1, n))
    _THREADS_SET = True


class TransformersGenerator:
    """A loaded transformers seq2seq model and its tokenizer."""

    def __init__(self, name: str, tokenizer: Any, model: Any, family: str, device: str, revision: str | None) -> None:
        self.name = name
        self.tokenizer = tokenizer
        self.model = model
        self.family = family
        self.device = device
        self.revision = revision
        self.max_input_tokens = self._input_limit()
        vocab = tokenizer.get_vocab()
        self._target_tokens = [t for t in vocab if t.startswith(">>") and t.endswith("<<")]
        self.last_forced_bos: int | None = None

    @classmethod
    def load(cls, model: str, *, device: str = "auto") -> TransformersGenerator:
        """Load a model from a local folder or a Hub id (cached by huggingface_hub)."""
        import torch
        from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer

        _set_threads()
        local = is_local(model)
        path = str(Path(model).expanduser()) if local else model
        try:
            config = AutoConfig.from_pretrained(path, local_files_only=local)
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local)
        except (OSError, ValueError) as exc:
            if local:
                raise ModelError(f"Could not load model folder '{model}': {exc}") from exc
            raise fetch_error(model, exc) from exc
        family = langcodes.family_of(getattr(config, "model_type", ""), model)
        # The architecture alone cannot tell NLLB from M2M100 or mBART-50 from mBART; the tokenizer can.
        tok_class = type(tokenizer).__name__
        if tok_class.startswith("Nllb"):
            family = "nllb"
        elif tok_class.startswith("MBart50"):
            family = "mbart50"
        dev = resolve_device(device)
        bf16 = dev == "cuda" and torch.cuda.is_bf16_supported()
        dtype = getattr(torch, choose_dtype(family, dev, bf16_supported=bf16))
        try:
            net = AutoModelForSeq2SeqLM.from_pretrained(path, local_files_only=local, dtype=dtype)
        except (OSError, ValueError) as exc:
            if local:
                raise ModelError(f"Could not load model folder '{model}': {exc}") from exc
            raise fetch_error(model, exc) from exc
        net.to(dev)
        net.eval()
        revision = None if local else getattr(config, "_commit_hash", None)
        log.info("loaded %s (%s) on %s as %s", model, family, dev, dtype)
        return cls(model, tokenizer, net, family, dev, revision)

    def _input_limit(self) -> int:
        limit = getattr(self.tokenizer, "model_max_length", None)
        if not isinstance(limit, int) or limit > 100_000:
            limit = getattr(self.model.config, "max_position_embeddings", None) or 512
        return int(limit)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        enc = self.tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
        return [len(ids) for ids in enc]

    def _target_prefix(self, target_lang: str | None) -> str:
        if target_lang is None:
            return ""
        if self.family == "marian" and self._target_tokens:
            token = langcodes.marian_target_token(target_lang, self._target_tokens)
            if token is None:
                raise UnsupportedLanguageError(f"model {self.name} has no target token for language '{target_lang}'")
            return token + " "
        if self.family == "madlad":
            return langcodes.family_code("madlad", target_lang) + " "
        return ""

    def _lang_token_id(self, lang: str) -> int:
        code = langcodes.family_code(self.family, lang)
        token = code
        if self.family == "m2m100" and not code.startswith("__"):
            token = f"__{code}__"
        tid = self.tokenizer.convert_tokens_to_ids(token)
        if tid is None or tid == self.tokenizer.unk_token_id:
            raise UnsupportedLanguageError(f"model {self.name} has no language token {token!r} for '{lang}'")
        return int(tid)

    def _set_source(self, source_lang: str | None) -> None:
        if self.family not in FORCED_BOS or not source_lang or source_lang == "und":
            return
        code = langcodes.family_code(self.family, source_lang)
        if self.family == "m2m100":
            code = code.strip("_")
        if self.family != "m2m100" and self.tokenizer.convert_tokens_to_ids(code) == self.tokenizer.unk_token_id:
            # mBART-50 and NLLB tokenizers accept an unknown code silently and prefix <unk>.
            raise UnsupportedLanguageError(f"model {self.name} has no source language token {code!r} for '{source_lang}'")
        try:
            self.tokenizer.src_lang = code
        except (KeyError, ValueError) as exc:
            raise UnsupportedLanguageError(f"model {self.name} does not support source language '{source_lang}'") from exc

    def generate_batch(
        self,
        texts: Sequence[str],
        options: GenerationOptions,
        *,
        max_new_tokens: int | None = None,
        source_lang: str | None = None,
        target_lang: str | None = None,
    ) -> list[Output]:
        import torch

        if not texts:
            return []
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_new_tokens or options.max_new_tokens,
            "num_beams": options.num_beams,
            "no_repeat_ngram_size": options.no_repeat_ngram_size,
            "repetition_penalty": options.repetition_penalty,
            "length_penalty": options.length_penalty,
            "do_sample": False,
        }
        if options.num_beams > 1:
            kwargs["early_stopping"] = True
        self.last_forced_bos = None
        if self.family in FORCED_BOS and target_lang:
            self.last_forced_bos = kwargs["forced_bos_token_id"] = self._lang_token_id(target_lang)
        self._set_source(source_lang)
        prefix = self._target_prefix(target_lang)
        inputs = [prefix + t for t in texts] if prefix else list(texts)
        enc = self.tokenizer(
            inputs, return_tensors="pt", padding=True, truncation=True, max_length=self.max_input_tokens
        ).to(self.device)
        with torch.inference_mode():
            out = self.model.generate(**enc, **kwargs)
        decoded = self.tokenizer.batch_decode(out, skip_special_tokens=True)
        pad = self.tokenizer.pad_token_id
        special = set(self.tokenizer.all_special_ids)
        results = []
        for row, text in zip(out.tolist(), decoded, strict=True):
            n = sum(1 for t in row if t != pad and t not in special)
            results.append(Output(text.strip(), n))
        return results
