"""Build tiny random-weight seq2seq models with real architectures and real tokenizers.

Nothing in this project's test or CI environments can reach the Hugging Face Hub, so the test suites
stand in for real checkpoints (t5-small, mt5-small, opus-mt, m2m100, mbart-50, nllb-200) with miniature
copies: the same model classes, the same tokenizer classes and file layouts, the same special-token and
language-code conventions, but about a megabyte of random weights each and SentencePiece models trained
in a fraction of a second on a corpus shipped with the package (``summarize/testing/corpus/``).

Usage::

    python -m summarize.testing.tiny OUT_DIR [--only t5,marian,...] [--vocab-size N] [--corpus PATH] [--force]

Each family gets one folder under ``OUT_DIR`` that loads with ``AutoTokenizer.from_pretrained`` and
``AutoModelForSeq2SeqLM.from_pretrained``, plus a ``tiny.json`` describing it and a ``.complete`` marker
that lets later runs skip the work.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .families import BUILDERS, MARIAN_LANGUAGES, MODEL_MAX_LENGTH, PROBE_TEXT, BuildPlan, Probe
from .spm import Context
from .spm_corpus import BUILTIN_CORPUS, corpus_digest, default_corpus_dir, load_corpus

__all__ = [
    "BUILTIN_CORPUS", "COMPLETE_MARKER", "DEFAULT_VOCAB_SIZE", "FAMILIES", "INFO_FILE", "MARIAN_LANGUAGES",
    "MODEL_MAX_LENGTH", "PROBE_TEXT", "SEED", "build_tiny_models", "default_corpus_dir", "load_corpus", "main",
]  # fmt: skip

FAMILIES: tuple[str, ...] = ("t5", "mt5", "marian", "m2m100", "mbart50", "nllb")
"""Every family this module can build, in build order."""

DEFAULT_VOCAB_SIZE = 4000
"""Target size of the trained SentencePiece vocabulary (language and sentinel tokens come on top).

The shipped corpus is only ~50k characters in 14 languages, so small vocabularies split words far
more than real checkpoints do: at 1,500 pieces the first English article (240 words) is 584 tokens and every
article overflows 512, at 4,000 it is 429 (t5-small: about 300) and most articles fit, which
keeps the long-input (chunking/truncation) paths as rare as they are with real models.  It also
leaves room for every CJK character of the corpus instead of mapping the rare ones to <unk>.
"""

SEED = 1234
"""Base torch seed; a family that greedily generates only special tokens is re-drawn with SEED + 1, ..."""

COMPLETE_MARKER = ".complete"
INFO_FILE = "tiny.json"

# Bump when the output of a build changes, so that folders from an older builder get rebuilt.
_BUILDER_VERSION = 1

_MAX_SEED_TRIES = 8


def _build_family(family: str, folder: Path, ctx: Context) -> dict[str, Any]:
    """Write tokenizer, model and tiny.json for one family into ``folder`` and return the tiny.json data."""
    import torch
    import transformers
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, GenerationConfig

    plan = BUILDERS[family](folder, ctx)
    # Reload through the Auto class so the model is sized and probed with exactly what users will get.
    tokenizer = AutoTokenizer.from_pretrained(folder)
    # Keep the first seed whose greedy output is some text; if none is, the last one is used anyway.
    seed = SEED
    for attempt in range(_MAX_SEED_TRIES):
        seed = SEED + attempt
        # fork_rng: seeding must not disturb the random state of the test process that calls us.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = plan.make_model()
        _quiet_rows(model, _quiet_ids(model, tokenizer, plan))
        model.generation_config = GenerationConfig(**plan.generation)
        model.eval()
        if _probe_generates_text(model, tokenizer, plan.probe):
            break
    model.save_pretrained(folder)
    model = AutoModelForSeq2SeqLM.from_pretrained(folder)
    # What users load must generate without error (text or not: the seed search above decided that).
    _probe_generates_text(model, tokenizer, plan.probe)

    codes = plan.languages
    info: dict[str, Any] = {
        "family": family,
        "architecture": type(model).__name__,
        "model_type": model.config.model_type,
        "tokenizer_class": type(tokenizer).__name__,
        "languages": sorted(codes),
        "language_tokens": dict(sorted(codes.items())),
        "vocab_size": model.config.vocab_size,
        "tokenizer_length": len(tokenizer),
        "model_max_length": tokenizer.model_max_length,
        "seed": seed,
        "corpus_sha256": ctx.digest,
        "transformers_version": transformers.__version__,
    }
    (folder / INFO_FILE).write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return info


# Scale for the embedding rows of tokens a trained model (almost) never emits; see _quiet_rows.
_QUIET_SCALE = 0.05


def _quiet_ids(model: Any, tokenizer: Any, plan: BuildPlan) -> set[int]:
    """Return the ids whose embedding rows to shrink.

    Those are the special tokens except </s>, the language tokens and the embedding rows past the
    tokenizer's length: ids that trained checkpoints never (or only when forced) generate.
    """
    ids = set(tokenizer.all_special_ids) | set(tokenizer.convert_tokens_to_ids(list(plan.languages.values())))
    ids.discard(tokenizer.eos_token_id)
    ids.update(range(len(tokenizer), model.config.vocab_size))
    return {i for i in ids if isinstance(i, int) and 0 <= i < model.config.vocab_size}


def _quiet_rows(model: Any, ids: Iterable[int]) -> None:
    """Shrink the given rows of the (tied) input/output embeddings.

    With random tied embeddings the residual stream carries the input token straight to the logits, so
    a random model greedily repeats its decoder-start or forced language token (<pad> for T5, de_DE for
    mBART-50) and decodes to an empty string.  Small rows for the tokens real models never produce keep
    those tokens out of the argmax while leaving the architecture and every shape untouched.
    """
    import torch

    rows = torch.tensor(sorted(ids), dtype=torch.long)
    if rows.numel() == 0:
        return
    weights = {}
    for module in (model.get_input_embeddings(), model.get_output_embeddings()):
        if module is not None:
            weights[module.weight.data_ptr()] = module.weight
    with torch.no_grad():
        for weight in weights.values():
            weight[rows] *= _QUIET_SCALE


def _probe_generates_text(model: Any, tokenizer: Any, probe: Probe) -> bool:
    """Run a greedy 8-token generation and report whether it decodes to any non-special text."""
    import torch

    if probe.src_lang is not None:
        tokenizer.src_lang = probe.src_lang
    kwargs: dict[str, Any] = {"max_new_tokens": 8, "num_beams": 1, "do_sample": False}
    if probe.forced_bos_token is not None:
        kwargs["forced_bos_token_id"] = tokenizer.convert_tokens_to_ids(probe.forced_bos_token)
    inputs = tokenizer([probe.text], return_tensors="pt")
    with torch.no_grad():
        output = model.generate(**inputs, **kwargs)
    return bool(tokenizer.decode(output[0], skip_special_tokens=True).strip())




# --------------------------------------------------------------------------------------------------
# Public entry points


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' progress bars and warnings (and the sacremoses hint) while building."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    progress = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if progress:
            hf_logging.enable_progress_bar()


def _fingerprint(family: str, ctx: Context) -> dict[str, Any]:
    import transformers

    return {
        "builder": _BUILDER_VERSION,
        "family": family,
        "vocab_size": ctx.vocab_size,
        "seed": SEED,
        "corpus_sha256": ctx.digest,
        "transformers_version": transformers.__version__,
    }


def _is_complete(folder: Path, fingerprint: dict[str, Any]) -> bool:
    marker = folder / COMPLETE_MARKER
    try:
        return bool(json.loads(marker.read_text(encoding="utf-8")) == fingerprint)
    except (OSError, ValueError):
        return False


def _parse_families(families: Iterable[str] | None) -> list[str]:
    if families is None:
        return list(FAMILIES)
    if isinstance(families, str):  # "t5,marian" as on the command line, not a sequence of letters
        families = families.split(",")
    chosen = list(dict.fromkeys(f.strip() for f in families if f.strip()))
    unknown = [f for f in chosen if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown famil{'ies' if len(unknown) > 1 else 'y'} {unknown}; choose from {list(FAMILIES)}")
    return chosen


def build_tiny_models(
    out_dir: Path,
    families: Iterable[str] | None = None,
    *,
    vocab_size: int = DEFAULT_VOCAB_SIZE,
    corpus: Path | None = None,
    force: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Build tiny models of ``families`` (default: all of ``FAMILIES``) and return ``{family: folder}``.

    Each family goes to ``out_dir/<family>``, with tokenizers trained on ``load_corpus(corpus)`` to
    about ``vocab_size`` pieces.  A folder whose ``.complete`` marker matches this builder version,
    vocab size, corpus digest and transformers version is reused unless ``force``; anything else is
    rebuilt in a temporary sibling folder and renamed into place, so a crash or a concurrent build
    never leaves a half-written folder marked complete.  ``log`` receives one line per family.
    """
    chosen = _parse_families(families)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = load_corpus(corpus)
    ctx = Context(lines=lines, vocab_size=vocab_size, digest=corpus_digest(lines))
    built: dict[str, Path] = {}
    for family in chosen:
        folder = out_dir / family
        fingerprint = _fingerprint(family, ctx)
        if not force and _is_complete(folder, fingerprint):
            built[family] = folder
            if log:
                log(f"{family}: up to date in {folder}")
            continue
        started = time.perf_counter()
        scratch = Path(tempfile.mkdtemp(prefix=f".{family}.", dir=out_dir))
        try:
            with _quiet_transformers():
                _build_family(family, scratch, ctx)
            (scratch / COMPLETE_MARKER).write_text(json.dumps(fingerprint, indent=2) + "\n", encoding="utf-8")
            # mkdtemp (and safetensors) create owner-only modes; a shared cache folder must be readable.
            scratch.chmod(0o755)
            for path in scratch.iterdir():
                path.chmod(0o644)
            if folder.exists():
                shutil.rmtree(folder)
            try:
                os.replace(scratch, folder)
            except OSError:
                # Another process (a parallel test session) put its finished copy there first; keep it.
                if not _is_complete(folder, fingerprint):
                    raise
        finally:
            if scratch.exists():
                shutil.rmtree(scratch, ignore_errors=True)
        built[family] = folder
        if log:
            log(f"{family}: built in {time.perf_counter() - started:.1f}s -> {folder}")
    return built


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line: parse ``argv`` (default ``sys.argv[1:]``), build, return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m summarize.testing.tiny",
        description="Build tiny random-weight seq2seq models (real architectures and tokenizers) for tests.",
    )
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="folder that receives one subfolder per family")
    parser.add_argument(
        "--only",
        type=lambda value: [part for part in value.split(",") if part.strip()],
        default=None,
        metavar="FAMILIES",
        help=f"comma-separated subset of {','.join(FAMILIES)} (default: all)",
    )
    parser.add_argument(
        "--vocab-size",
        type=int,
        default=DEFAULT_VOCAB_SIZE,
        metavar="N",
        help=f"target SentencePiece vocabulary size before language/sentinel tokens (default {DEFAULT_VOCAB_SIZE})",
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help="folder of *.jsonl files (title/text fields) or a single file to train tokenizers on (default: the corpus shipped in the package)",
    )
    parser.add_argument("--force", action="store_true", help="rebuild even when a folder is marked complete")
    args = parser.parse_args(argv)
    if args.vocab_size < 100:
        parser.error("--vocab-size must be at least 100")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    try:
        build_tiny_models(
            args.out_dir,
            args.only,
            vocab_size=args.vocab_size,
            corpus=args.corpus,
            force=args.force,
            log=lambda message: print(message, flush=True),
        )
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done in {time.perf_counter() - started:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
