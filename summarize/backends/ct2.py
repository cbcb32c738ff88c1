"""The CTranslate2 backend (the default on CPU, `--backend ct2`): convert once, cache, translate_batch.

A transformers model (Hub id or folder) is converted to CTranslate2's format the first time it
is used, int8 on CPU by default, and kept under `$SUMMARIZE_CACHE/ct2/<key>` (default
`~/.cache/summarize/ct2/<key>`); the key covers the model id or resolved folder and its files'
modification times, the Hub revision and the quantization, so a changed model is converted
again. A conversion is written to a temporary folder and renamed into place, so a crash never
leaves a half conversion that a later run would trust.

Tokenization, language tokens and decoding are the transformers backend's (`text.py`), so both
backends take the same options and return the same outputs. The tokenizer and config are read
without transformers' config classes where the model's files name their tokenizer class
(`load_source_light`), so a run on a converted model never imports torch. `load_ct2` returns None, with a
warning, when ctranslate2 is missing or cannot convert the model; the pool then uses torch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Collection, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import ModelError, UsageError
from ..options import GenerationOptions
from .base import Output, mean_logprob
from .source import NO_FP16, Source, TextCodec, decoding, input_limit, load_source, load_source_light

log = logging.getLogger(__name__)

COMPUTE_TYPES = ("int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16", "bfloat16", "float32")
"""The compute types `--compute-type` accepts (CTranslate2's, without its `auto`, which may pick float16)."""

MARKER = "summarize-ct2.json"
"""Written last into a conversion; a cache folder without it is not trusted."""

# Preference order when no compute type is asked for, or the one asked for cannot run here.
_CPU_ORDER = ("int8", "int8_float32", "float32")
_CUDA_BF16_ORDER = ("int8_bfloat16", "bfloat16", "int8_float32", "float32")
_CUDA_FP16_ORDER = ("int8_float16", "float16", "int8_float32", "float32")
_CUDA_FP32_ORDER = ("int8_float32", "float32")


def safe_compute_type(family: str, compute_type: str, *, bf16_supported: bool) -> str:
    """`compute_type` with float16 replaced (by bfloat16 where supported, else float32) for T5-like families."""
    if family not in NO_FP16 or "float16" not in compute_type or "bfloat16" in compute_type:
        return compute_type
    return compute_type.replace("float16", "bfloat16" if bf16_supported else "float32")


def choose_compute_type(family: str, device: str, *, supported: Collection[str], requested: str | None = None) -> str:
    """The CTranslate2 compute type for a family on a device, given the types the device supports.

    int8 on CPU; on GPU int8 weights with bfloat16 activations where bf16 is supported, else
    float16 activations, except for T5-like families, which overflow in float16 and get float32.
    A requested type is honoured when the device supports it (float16 still never reaches a
    T5-like model); an unsupported one is a UsageError naming the types that work.
    """
    bf16 = "bfloat16" in supported
    order: tuple[str, ...]
    if requested:
        if requested not in COMPUTE_TYPES:
            raise UsageError(f"--compute-type must be one of {', '.join(COMPUTE_TYPES)}, not {requested!r}")
        chosen = safe_compute_type(family, requested, bf16_supported=bf16)
        if chosen != requested:
            log.warning("%s models overflow in float16; using compute type %s instead of %s", family, chosen, requested)
        if chosen not in supported:
            raise UsageError(f"compute type {chosen} is not supported on {device} here "
                             f"(supported: {', '.join(sorted(supported))})")
        return chosen
    if device != "cuda":
        order = _CPU_ORDER
    elif bf16:
        order = _CUDA_BF16_ORDER
    else:
        order = _CUDA_FP32_ORDER if family in NO_FP16 else _CUDA_FP16_ORDER
    for candidate in order:
        if candidate in supported:
            return candidate
    return "float32"


def resolve_ct2_device(device: str) -> str:
    """`auto` becomes `cuda` when CTranslate2 sees a GPU (its own build decides, not torch's), else `cpu`."""
    import ctranslate2

    gpus = ctranslate2.get_cuda_device_count()
    if device == "auto":
        return "cuda" if gpus > 0 else "cpu"
    if device == "cuda" and gpus == 0:
        raise ModelError("--device cuda was asked for but CTranslate2 sees no CUDA device")
    return device


def cache_root() -> Path:
    """Where conversions live: `$SUMMARIZE_CACHE/ct2`, else `~/.cache/summarize/ct2`."""
    base = os.environ.get("SUMMARIZE_CACHE")
    return (Path(base).expanduser() if base else Path.home() / ".cache" / "summarize") / "ct2"


def _folder_stamp(folder: Path) -> int:
    # A folder's own mtime misses files rewritten in place; the newest file of the folder does not.
    stamps = [folder.stat().st_mtime_ns]
    stamps.extend(p.stat().st_mtime_ns for p in folder.iterdir() if p.is_file())
    return max(stamps)


def cache_key(source: Source, quantization: str) -> str:
    """A folder name for one conversion: readable model name, quantization and a hash of what identifies it.

    A local folder is identified by its resolved path and newest file time, a Hub model by its
    id and revision; the CTranslate2 major version is included because its format follows it.
    """
    import ctranslate2

    if source.local:
        folder = Path(source.path).resolve()
        ident: list[Any] = ["local", str(folder), _folder_stamp(folder)]
        label = folder.name
    else:
        ident = ["hub", source.model, source.revision or "unknown"]
        label = source.model
    ident += [quantization, ctranslate2.__version__.split(".")[0]]
    digest = hashlib.sha256(json.dumps(ident).encode()).hexdigest()[:16]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "--", label).strip("-.")[-60:] or "model"
    return f"{slug}-{quantization}-{digest}"


def _converter_class() -> Any:
    """CTranslate2's transformers converter with the gaps transformers 5 opened filled in.

    CTranslate2's mBART loader reads `config.normalize_before` and `config.tokenizer_class`,
    which transformers 5 keeps on `MBartConfig` only when config.json spells them out (the
    Hub's mBART-50 files do, locally built ones may not): without them it fails, or converts
    mBART-50 as mBART-25 with no decoder start token. mBART is always pre-norm, and the family
    says which mBART it is. A tokenizer without a bos token gets its cls token (`<s>` in these
    vocabularies), because the converter writes bos into the model config and a null fails to load.
    """
    from ctranslate2.converters import TransformersConverter

    class Converter(TransformersConverter):  # type: ignore[misc]
        def __init__(self, model_name_or_path: str, *, family: str, **kwargs: Any) -> None:
            super().__init__(model_name_or_path, **kwargs)
            self.family = family

        def load_model(self, model_class: Any, model_name_or_path: str, **kwargs: Any) -> Any:
            model = super().load_model(model_class, model_name_or_path, **kwargs)
            config = model.config
            if type(config).__name__ == "MBartConfig":
                if getattr(config, "normalize_before", None) is None:
                    config.normalize_before = True
                if self.family == "mbart50" and not getattr(config, "tokenizer_class", None):
                    config.tokenizer_class = "MBart50Tokenizer"
            return model

        def load_tokenizer(self, tokenizer_class: Any, model_name_or_path: str, **kwargs: Any) -> Any:
            tokenizer = super().load_tokenizer(tokenizer_class, model_name_or_path, **kwargs)
            if tokenizer.bos_token is None and tokenizer.cls_token is not None:
                tokenizer.bos_token = tokenizer.cls_token
            return tokenizer

    return Converter


def convert(source: Source, quantization: str, target: Path) -> None:
    """Convert `source` with `quantization` into the new folder `target` (which must not exist)."""
    from ..models.downloads import hub_reachable

    path, revision = source.path, source.revision
    if not source.local and not hub_reachable():
        from huggingface_hub import snapshot_download

        # Offline: convert the cached snapshot rather than let transformers retry the Hub first.
        path, revision = str(snapshot_download(source.path, revision=revision, local_files_only=True)), None
    converter = _converter_class()(path, family=source.family, revision=revision, low_cpu_mem_usage=True)
    converter.convert(str(target), quantization=quantization)


def converted(source: Source, quantization: str) -> Path:
    """The cached conversion of `source`, converting it first if there is none.

    The conversion goes to a temporary sibling folder and is renamed into place once complete;
    when another process finished the same conversion first, its copy is kept.
    """
    root = cache_root()
    final = root / cache_key(source, quantization)
    if (final / MARKER).is_file():
        log.info("using the CTranslate2 conversion of %s in %s", source.model, final)
        return final
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=root))
    try:
        log.info("converting %s to CTranslate2 (%s) once, into %s", source.model, quantization, final)
        out = scratch / "model"
        convert(source, quantization, out)
        info = {"model": source.model, "path": source.path if source.local else None, "revision": source.revision,
                "family": source.family, "quantization": quantization}
        (out / MARKER).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        if final.exists():  # an incomplete leftover (no marker) from an older layout or a hand edit
            shutil.rmtree(final, ignore_errors=True)
        try:
            os.replace(out, final)
        except OSError:
            if not (final / MARKER).is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return final


class CT2Generator:
    """A model converted to CTranslate2, run with `Translator.translate_batch`, and its tokenizer."""

    def __init__(self, source: Source, translator: Any, *, device: str, compute_type: str, model_dir: Path) -> None:
        self.name = source.model
        self.family = source.family
        self.revision = source.revision
        self.tokenizer = source.tokenizer
        self.generation = source.generation
        self.translator = translator
        self.device = device
        self.compute_type = compute_type
        self.model_dir = model_dir
        self.max_input_tokens = input_limit(source.tokenizer, source.config)
        self.codec = TextCodec(source.model, source.tokenizer, source.family, self.max_input_tokens)
        self.last_target_prefix: str | None = None

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.codec.count_tokens(texts)

    def generate_batch(
        self,
        texts: Sequence[str],
        options: GenerationOptions,
        *,
        max_new_tokens: int | None = None,
        min_new_tokens: int | None = None,
        source_lang: str | None = None,
        target_lang: str | None = None,
    ) -> list[Output]:
        if not texts:
            return []
        d = decoding(options, self.generation, max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens)
        prep = self.codec.prepare(texts, source_lang=source_lang, target_lang=target_lang)
        tokens = [self.tokenizer.convert_ids_to_tokens(ids) for ids in self.codec.encode(prep.texts)]
        self.last_target_prefix = prep.target_token
        prefix = [[prep.target_token] for _ in tokens] if prep.target_token else None
        # transformers spends the last step of a forced-end model on </s>; stop one token earlier
        # to produce the same text.
        limit = d.max_new_tokens - 1 if d.forced_eos and d.max_new_tokens > 1 else d.max_new_tokens
        results = self.translator.translate_batch(
            tokens,
            target_prefix=prefix,
            beam_size=d.num_beams,
            max_decoding_length=limit,
            min_decoding_length=min(d.min_new_tokens, limit),
            no_repeat_ngram_size=d.no_repeat_ngram_size,
            repetition_penalty=d.repetition_penalty,
            length_penalty=d.length_penalty,
            # The planner already cut inputs at the model's limit, and batches by padded tokens.
            max_input_length=0,
            max_batch_size=0,
            return_scores=True,
            # The end token in the hypothesis tells a stop chosen by the model from the length limit.
            return_end_token=True,
        )
        rows = [self.tokenizer.convert_tokens_to_ids(r.hypotheses[0]) for r in results]
        forced = 1 if prep.target_token else 0
        outs = []
        for out, r in zip(self.codec.outputs(rows), results, strict=True):
            total, count = cumulated(r.hypotheses[0], r.scores[0] if r.scores else None, forced=forced,
                                     length_penalty=d.length_penalty)
            outs.append(replace(out, logprob=mean_logprob(total, count) if r.scores else None, gen_tokens=count))
        return outs


def cumulated(hypothesis: Sequence[str], score: float | None, *, forced: int, length_penalty: float) -> tuple[float, int]:
    """Sum and count of the log-probabilities of the tokens the model chose, from CTranslate2's score.

    CTranslate2 reports (greedy or beam) the sum of the chosen tokens' log-probabilities, the end
    token's included and the target prefix's not, divided by `length ** length_penalty`, where
    length counts the whole hypothesis: the prefix, and the end token when there is one (it is
    in `hypothesis` with `return_end_token=True`). Undoing that division gives the sum that the
    transformers backend adds up step by step; the count leaves the prefix out.
    """
    length = len(hypothesis)
    count = max(0, length - forced)
    if score is None or length == 0:
        return 0.0, count
    return float(score) * length ** length_penalty, count


def load_ct2(model: str, *, device: str = "auto", compute_type: str | None = None) -> CT2Generator | None:
    """Load `model` through CTranslate2, converting it on first use; None (with a warning) to fall back to torch.

    Falls back when ctranslate2 is not installed or cannot convert this model's architecture.
    Errors the torch backend would hit too (a model that cannot be fetched, a bad option) are
    raised, not hidden behind a fallback.
    """
    try:
        import ctranslate2
    except ImportError:
        log.warning("CTranslate2 is not installed (pip install ctranslate2, or the ct2 extra); using torch for %s", model)
        return None
    from .hf import cpu_threads

    # Without torch where the files allow: a CTranslate2 run never needs it once converted.
    source = load_source_light(model) or load_source(model)
    dev = resolve_ct2_device(device)
    supported = set(ctranslate2.get_supported_compute_types(dev))
    ctype = choose_compute_type(source.family, dev, supported=supported, requested=compute_type)
    try:
        folder = converted(source, ctype)
    except Exception as exc:
        # CTranslate2 converts a fixed list of architectures, and its loaders follow
        # transformers releases with a lag; whatever fails here, torch can still run the model.
        reason = str(exc).split(" (supported configurations", 1)[0]  # not the list of forty architectures
        log.warning("CTranslate2 cannot convert %s (%s family): %s: %s; using torch for it",
                    model, source.family, type(exc).__name__, reason)
        return None
    threads = cpu_threads() if dev == "cpu" else 0
    translator = ctranslate2.Translator(str(folder), device=dev, compute_type=ctype, intra_threads=threads,
                                        inter_threads=1)
    log.info("loaded %s (%s) with CTranslate2 on %s as %s", model, source.family, dev, ctype)
    return CT2Generator(source, translator, device=dev, compute_type=ctype, model_dir=folder)
