"""Articles per second: the per-article model-card loop vs the batched torch backend vs CTranslate2.

Random-weight models with real sizes stand in for the real checkpoints (nothing here may reach
the Hub): T5-small (6+6 layers, d_model 512, vocabulary 32,128) summarizes, and an opus-mt-sized
Marian model (6+6 layers, d_model 512, vocabulary 58,101) translates sentences. Their
SentencePiece tokenizers are the tiny test models' (`summarize.testing.tiny`), trained on
`samples/`; that corpus supports only about 4,000 pieces, so the embedding matrices are padded
to the real vocabulary sizes (Marian's vocab.json with unused entries), which keeps the compute
of the output projection, the largest matrix, realistic.

The workload is built from the sample articles: windows of consecutive sentences of mixed
length (a sentence to a whole article), each summarized, and its title and first sentences
translated. In one process and on the same inputs it runs

    (a) the model-card loop: tokenize one text, `generate`, decode, next;
    (b) the project's generate stage with the torch backend: `summarize.generate.generate`,
        the function a run calls (deduplicate, sort by length, token-budget batches, retry,
        restore order);
    (c) the same path with the CTranslate2 backend (int8 on CPU).

Every output is forced to the same length (min = max new tokens, greedy, so no early end)
and the per-article work is identical, so the ratios compare engines and batching only. The
three paths take turns on slices of the workload (`--slice`), so a shared machine whose load
changes during the run slows all three alike.
It prints articles per second, the ratios b/a and c/a, peak RSS, and the share of articles
whose outputs in (b) equal (a)'s. Targets on 2 CPU cores: b/a >= 3 with >= 98% equal, c/a >= 6.

Usage: python benchmarks/throughput.py [--quick] [--articles N] [--slice N] [--json FILE] [--no-ct2]
Models are built once under `$SUMMARIZE_CACHE/bench` (default ~/.cache/summarize/bench).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from _common import bench_dir, machine, quiet_logs, say  # noqa: E402

from summarize.backends import Generator, Output  # noqa: E402
from summarize.generate import generate  # noqa: E402
from summarize.options import GenerationOptions  # noqa: E402
from summarize.segment import segment  # noqa: E402

T5_VOCAB = 32_128  # t5-small's embedding rows (32,100 tokens padded to a multiple of 128)
MARIAN_VOCAB = 58_101  # Helsinki-NLP/opus-mt-en-de
TARGET = "de"  # the Marian model is multi-target (>>de<< labels), as opus-mt-en-ROMANCE is
PROMPT = "summarize: "
_BUILD_VERSION = 2


@dataclass(frozen=True)
class Settings:
    """One benchmark configuration.

    Attributes:
        articles: Articles in the workload.
        summary_tokens: Tokens generated per summary (forced: min = max).
        translation_tokens: Tokens generated per translated sentence (forced).
        sentences: Sentences translated per article (its title first).
        batch_size: `GenerationOptions.batch_size` for the batched paths.
        max_batch_tokens: `GenerationOptions.max_batch_tokens` for the batched paths.
    """

    articles: int = 200
    summary_tokens: int = 48
    translation_tokens: int = 24
    sentences: int = 2
    batch_size: int = 16
    max_batch_tokens: int = 8192


QUICK = Settings(articles=24, summary_tokens=32, translation_tokens=16, sentences=2)


@dataclass(frozen=True)
class Workload:
    """Per article: the summarization input and the sentences to translate."""

    summaries: list[str]
    sentences: list[list[str]]


# --------------------------------------------------------------------------------------------------
# Models



def _quiet(model: Any, tokenizer: Any, keep: int) -> None:
    # Random tied embeddings make a model repeat tokens it never should emit (padding, unused
    # rows); shrink those rows as the tiny models do, keeping every shape.
    from summarize.testing.tiny import _quiet_rows

    ids = set(tokenizer.all_special_ids) - {keep}
    ids.update(range(len(tokenizer), model.config.vocab_size))
    _quiet_rows(model, {i for i in ids if 0 <= i < model.config.vocab_size})


def _build_t5(tiny: Path, out: Path) -> None:
    import torch
    from transformers import AutoTokenizer, GenerationConfig, T5Config, T5ForConditionalGeneration

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    tokenizer.save_pretrained(out)
    shutil.copy(tiny / "spiece.model", out / "spiece.model")
    config = T5Config(vocab_size=T5_VOCAB, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_decoder_layers=6,
                      num_heads=8, feed_forward_proj="relu", pad_token_id=0, eos_token_id=1)
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(config)
    _quiet(model, tokenizer, keep=1)
    model.generation_config = GenerationConfig(decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    model.save_pretrained(out)


def _build_marian(tiny: Path, out: Path) -> None:
    import torch
    from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

    vocab: dict[str, int] = json.loads((tiny / "vocab.json").read_text(encoding="utf-8"))
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1]) if t != "<pad>"]
    # Unused entries up to the real size; <pad> last, as Marian checkpoints have it.
    tokens += [f"<unused{i}>" for i in range(MARIAN_VOCAB - 1 - len(tokens))]
    tokens.append("<pad>")
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}, ensure_ascii=False), encoding="utf-8")
    for name in ("source.spm", "target.spm"):
        shutil.copy(tiny / name, out / name)
    tokenizer = MarianTokenizer(source_spm=str(out / "source.spm"), target_spm=str(out / "target.spm"),
                                vocab=str(out / "vocab.json"), source_lang="en", target_lang=TARGET, model_max_length=512)
    tokenizer.save_pretrained(out)
    pad = MARIAN_VOCAB - 1
    config = MarianConfig(
        vocab_size=MARIAN_VOCAB, decoder_vocab_size=MARIAN_VOCAB, d_model=512, encoder_layers=6, decoder_layers=6,
        encoder_attention_heads=8, decoder_attention_heads=8, encoder_ffn_dim=2048, decoder_ffn_dim=2048,
        activation_function="swish", scale_embedding=True, share_encoder_decoder_embeddings=True,
        max_position_embeddings=512, pad_token_id=pad, eos_token_id=0, decoder_start_token_id=pad,
        forced_eos_token_id=0,
    )
    torch.manual_seed(1)
    model = MarianMTModel(config)
    _quiet(model, tokenizer, keep=0)
    model.generation_config = GenerationConfig(decoder_start_token_id=pad, pad_token_id=pad, eos_token_id=0,
                                               forced_eos_token_id=0, bad_words_ids=[[pad]])
    model.save_pretrained(out)


def build_models(root: Path, log: Callable[[str], None]) -> tuple[Path, Path]:
    """Real-size T5-small and Marian-base folders under `root`, built once (marked complete)."""
    from summarize.testing.tiny import build_tiny_models

    t5, marian = root / "t5-small", root / "marian-base"
    marker = json.dumps({"version": _BUILD_VERSION})
    if all((p / ".complete").is_file() and (p / ".complete").read_text() == marker for p in (t5, marian)):
        return t5, marian
    started = time.perf_counter()
    tiny = build_tiny_models(root / "tiny", ["t5", "marian"])
    for build, folder, src in ((_build_t5, t5, tiny["t5"]), (_build_marian, marian, tiny["marian"])):
        shutil.rmtree(folder, ignore_errors=True)
        build(src, folder)
        (folder / ".complete").write_text(marker)
    log(f"built the models in {time.perf_counter() - started:.1f}s under {root}")
    return t5, marian


# --------------------------------------------------------------------------------------------------
# Workload


def build_workload(n: int, sentences: int, seed: int = 0) -> Workload:
    """`n` distinct articles of mixed length: windows of consecutive sentences of the sample articles."""
    rows = [json.loads(line) for line in (ROOT / "samples" / "articles.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    split = [(r.get("title") or "", [s.text for s in segment(r["text"], r["id"].split("-")[0])]) for r in rows]
    rng = random.Random(seed)
    summaries: list[str] = []
    to_translate: list[list[str]] = []
    seen: set[str] = set()
    while len(summaries) < n:
        title, sents = split[len(summaries) % len(split)]
        # Short, medium and long inputs in equal parts: one sentence up to the whole article.
        size = rng.choice([rng.randint(1, 3), rng.randint(4, 10), len(sents)])
        start = rng.randint(0, max(0, len(sents) - size))
        window = sents[start : start + size]
        text = " ".join(window)
        if text in seen:
            continue
        seen.add(text)
        summaries.append(PROMPT + (f"{title}\n\n{text}" if title else text))
        to_translate.append((([title] if title else []) + window)[:sentences])
    return Workload(summaries, to_translate)


# --------------------------------------------------------------------------------------------------
# The three paths


def card_loop(t5: Any, marian: Any, work: Workload, s: Settings) -> tuple[list[list[str]], float]:
    """(a) What a model card shows, one text at a time: tokenizer, `generate`, decode."""
    outputs: list[list[str]] = []
    started = time.perf_counter()
    for text, sents in zip(work.summaries, work.sentences, strict=True):
        enc = t5.tokenizer(text, return_tensors="pt", truncation=True, max_length=512)
        ids = t5.model.generate(**enc, max_new_tokens=s.summary_tokens, min_new_tokens=s.summary_tokens, num_beams=1,
                                do_sample=False)
        row = [t5.tokenizer.decode(ids[0], skip_special_tokens=True).strip()]
        for sent in sents:
            enc = marian.tokenizer(f">>{TARGET}<< {sent}", return_tensors="pt", truncation=True, max_length=512)
            ids = marian.model.generate(**enc, max_new_tokens=s.translation_tokens,
                                        min_new_tokens=s.translation_tokens, num_beams=1, do_sample=False)
            row.append(marian.tokenizer.decode(ids[0], skip_special_tokens=True).strip())
        outputs.append(row)
    return outputs, time.perf_counter() - started


def batched(gen: Generator, texts: Sequence[str], options: GenerationOptions, **langs: Any) -> list[Output]:
    """The generate stage a run uses, with every output forced to `max_new_tokens` tokens."""
    results = generate(gen, texts, options, min_new_tokens=options.max_new_tokens, **langs)
    failed = [r.error for r in results if r.output is None]
    if failed:
        raise RuntimeError(f"no output for {len(failed)} inputs, first: {failed[0]}")
    return [r.output for r in results if r.output is not None]


def project_path(t5: Generator, marian: Generator, work: Workload, s: Settings) -> tuple[list[list[str]], float]:
    """(b)/(c) The project's batched path through a backend."""
    def greedy(tokens: int) -> GenerationOptions:
        return GenerationOptions(max_new_tokens=tokens, num_beams=1, no_repeat_ngram_size=0, repetition_penalty=1.0,
                                 batch_size=s.batch_size, max_batch_tokens=s.max_batch_tokens)

    started = time.perf_counter()
    summaries = batched(t5, work.summaries, greedy(s.summary_tokens))
    flat = [sent for sents in work.sentences for sent in sents]
    translated = batched(marian, flat, greedy(s.translation_tokens), source_lang="en", target_lang=TARGET)
    seconds = time.perf_counter() - started
    outputs: list[list[str]] = []
    k = 0
    for summary, sents in zip(summaries, work.sentences, strict=True):
        outputs.append([summary.text, *(o.text for o in translated[k : k + len(sents)])])
        k += len(sents)
    return outputs, seconds


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)



def _slices(work: Workload, size: int) -> list[Workload]:
    return [Workload(work.summaries[i : i + size], work.sentences[i : i + size])
            for i in range(0, len(work.summaries), size)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK.articles} articles, shorter outputs (< 2 min)")
    parser.add_argument("--articles", type=int, default=None, help="articles in the workload (default 200)")
    parser.add_argument("--batch-size", type=int, default=None, help="GenerationOptions.batch_size (default 16)")
    parser.add_argument("--max-batch-tokens", type=int, default=None, help="GenerationOptions.max_batch_tokens")
    parser.add_argument("--slice", type=int, default=50,
                        help="articles per round of (a), (b), (c): interleaving keeps a shared machine's "
                             "changing load from favouring one path (default 50)")
    parser.add_argument("--no-ct2", action="store_true", help="skip the CTranslate2 path")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    args = parser.parse_args(argv)
    s = QUICK if args.quick else Settings()
    for key in ("articles", "batch_size", "max_batch_tokens"):
        if getattr(args, key):
            s = Settings(**{**asdict(s), key: getattr(args, key)})

    import logging

    quiet_logs(logging.WARNING)
    from summarize.backends.hf import TransformersGenerator

    figures: dict[str, Any] = {"settings": asdict(s), "machine": machine()}
    t5_path, marian_path = build_models(bench_dir(), say)
    work = build_workload(s.articles, s.sentences)
    n = len(work.summaries)

    t0 = time.perf_counter()
    t5 = TransformersGenerator.load(str(t5_path), device="cpu")
    marian = TransformersGenerator.load(str(marian_path), device="cpu")
    figures["load_seconds_torch"] = round(time.perf_counter() - t0, 2)
    figures["peak_rss_mb_after_torch_load"] = _peak_rss_mb()
    counts = t5.count_tokens(work.summaries)
    figures["workload"] = {
        "articles": n, "sentences": sum(len(x) for x in work.sentences),
        "summary_input_tokens": {"min": min(counts), "mean": round(sum(counts) / n), "max": max(counts)},
    }
    say(f"workload: {n} articles, summary inputs {min(counts)}-{max(counts)} tokens (mean {sum(counts) // n}), "
        f"{figures['workload']['sentences']} sentences; machine: {figures['machine']}")
    c_t5 = c_marian = None
    if not args.no_ct2:
        from summarize.backends.ct2 import load_ct2

        t0 = time.perf_counter()
        c_t5 = load_ct2(str(t5_path), device="cpu")
        c_marian = load_ct2(str(marian_path), device="cpu")
        figures["load_seconds_ct2"] = round(time.perf_counter() - t0, 2)
        if c_t5 is None or c_marian is None:
            say("(c) CTranslate2 unavailable (see the warning above); skipped")
            c_t5 = c_marian = None
        else:
            figures["compute_type_ct2"] = c_t5.compute_type
    # Warm every path (first-call allocations, lazy initialisation) outside the timings.
    first = Workload(work.summaries[:1], work.sentences[:1])
    card_loop(t5, marian, first, s)
    project_path(t5, marian, first, s)
    if c_t5 is not None and c_marian is not None:
        project_path(c_t5, c_marian, first, s)

    seconds = {"loop": 0.0, "torch": 0.0, "ct2": 0.0}
    outputs: dict[str, list[list[str]]] = {"loop": [], "torch": [], "ct2": []}
    paths: list[tuple[str, Any, Any]] = [("loop", t5, marian), ("torch", t5, marian)]
    if c_t5 is not None and c_marian is not None:
        paths.append(("ct2", c_t5, c_marian))
    for k, part in enumerate(_slices(work, max(1, args.slice))):
        for name, summarizer, translator in paths:
            run = card_loop if name == "loop" else project_path
            out, spent = run(summarizer, translator, part, s)
            outputs[name] += out
            seconds[name] += spent
        say(f"round {k + 1}: {len(outputs['loop'])}/{n} articles; seconds so far "
            + ", ".join(f"{name} {seconds[name]:.1f}" for name, _, _ in paths) + f"; load {os.getloadavg()[0]:.2f}")

    def rate(name: str) -> float:
        return round(n / seconds[name], 3)

    def equal(name: str) -> float:
        return round(sum(a == b for a, b in zip(outputs["loop"], outputs[name], strict=True)) / n, 4)

    has_ct2 = bool(outputs["ct2"])
    figures.update(
        seconds={k: round(v, 2) for k, v in seconds.items()},
        articles_per_s_loop=rate("loop"), articles_per_s_torch=rate("torch"),
        articles_per_s_ct2=rate("ct2") if has_ct2 else None,
        ratio_torch=round(seconds["loop"] / seconds["torch"], 2),
        ratio_ct2=round(seconds["loop"] / seconds["ct2"], 2) if has_ct2 else None,
        equal_share=equal("torch"), equal_share_ct2=equal("ct2") if has_ct2 else None,
        peak_rss_mb=_peak_rss_mb(),
    )
    figures["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"articles/s: (a) loop {figures['articles_per_s_loop']}, (b) torch {figures['articles_per_s_torch']}, "
          f"(c) ct2 {figures['articles_per_s_ct2']}")
    print(f"ratio b/a {figures['ratio_torch']} (target >= 3), c/a {figures['ratio_ct2']} (target >= 6); "
          f"(b) outputs equal to (a)'s for {figures['equal_share']:.1%} of articles (target >= 98%)"
          + (f", (c) for {figures['equal_share_ct2']:.1%} (int8)" if has_ct2 else ""))
    print(f"peak RSS {figures['peak_rss_mb']} MB, all three in one process (torch models loaded: "
          f"{figures['peak_rss_mb_after_torch_load']} MB); {figures['machine']['cores']} cores, "
          f"{figures['machine']['cpu']}, load average {figures['machine']['loadavg_start'][0]} -> "
          f"{figures['machine']['loadavg_end'][0]}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
