"""The generate stage: texts in, one outcome per text out, through one loaded model.

`generate` is the only place that turns a list of model inputs into model calls: identical
texts run once, the rest are sorted by length and packed into batches under `batch_size` and
`max_batch_tokens` (`plan.make_batches`), each batch gets its new-token limit, and the outputs
are put back in input order. The summarizer, the translator and the benchmarks all call it, so
what a benchmark times is what a run does.

Errors: a batch that raises is retried item by item, so one bad input fails only itself (its
outcome carries the error; the caller fails the articles that own it). What is not about one
input is never turned into a per-input error: `MemoryError`, a model that cannot be loaded
(`ModelError`), a bad option (`UsageError`) and an accelerator that runs out of memory on a
single input propagate, and `KeyboardInterrupt` is never caught. A language the model has no
code for (`UnsupportedLanguageError`) is the call's, not one input's: the batch fails without
a retry.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import batching as plan
from .backends import Generator, Output
from .errors import ModelError, UnsupportedLanguageError, UsageError
from .options import GenerationOptions

log = logging.getLogger(__name__)

# Errors about the run rather than one input: they stop the run wherever they happen.
FATAL: tuple[type[BaseException], ...] = (MemoryError, ModelError, UsageError)


@dataclass(frozen=True, slots=True)
class Generated:
    """What the generate stage made of one input.

    Attributes:
        output: The model's output (its text, length in tokens and confidence: `logprob`,
            `gen_tokens`; whatever else a backend's `Output` carries travels with it), or None
            when the input failed.
        error: Why it failed, as `model: ExceptionType: message`; None when it did not.
        seconds: This input's share of the wall time of the batch it ran in.
    """

    output: Output | None
    error: str | None = None
    seconds: float = 0.0

    @property
    def text(self) -> str | None:
        """The generated text, or None when the input failed."""
        return None if self.output is None else self.output.text

    @property
    def logprob(self) -> float | None:
        """The output's mean log-probability per generated token, or None (failed, or unscored)."""
        return None if self.output is None else self.output.logprob

    @property
    def gen_tokens(self) -> int:
        """Tokens `logprob` is the mean over (0 when the input failed)."""
        return 0 if self.output is None else self.output.gen_tokens


def generate(
    gen: Generator,
    texts: Sequence[str],
    options: GenerationOptions,
    *,
    sizes: Sequence[int] | None = None,
    budget: Callable[[int], int] | None = None,
    min_new_tokens: int | None = None,
    source_lang: str | None = None,
    target_lang: str | None = None,
) -> list[Generated]:
    """Generate for every text: deduplicated, length-sorted, batched, restored to input order.

    `sizes` are the texts' token counts when the caller already has them (else the model's
    tokenizer counts them); `budget` turns the longest size in a batch into that batch's
    new-token limit (else `options.max_new_tokens` applies). `min_new_tokens` (else
    `options.min_new_tokens` when set) and the languages go to every `generate_batch` call unchanged. Returns one `Generated` per text,
    in order; texts that failed have `output=None` and an `error` (see the module docstring
    for what raises instead).
    """
    if not texts:
        return []
    distinct, where = plan.unique(texts)
    if sizes is None:
        counts = gen.count_tokens(distinct)
    else:
        counts = [0] * len(distinct)
        for i, j in enumerate(where):
            counts[j] = sizes[i]
    copies = Counter(where)  # inputs that share each distinct text share its cost too
    outputs: list[Output | None] = [None] * len(distinct)
    errors: list[str | None] = [None] * len(distinct)
    shares = [0.0] * len(distinct)
    extra: dict[str, Any] = {"source_lang": source_lang, "target_lang": target_lang}
    if min_new_tokens is None and options.min_new_tokens:
        min_new_tokens = options.min_new_tokens
    if min_new_tokens is not None:
        extra["min_new_tokens"] = min_new_tokens
    for batch in plan.make_batches(counts, batch_size=options.batch_size, max_batch_tokens=options.max_batch_tokens):
        limit = budget(max(counts[i] for i in batch)) if budget else None

        def call(items: list[str], limit: int | None = limit) -> list[Output]:
            return gen.generate_batch(items, options, max_new_tokens=limit, **extra)

        t0 = time.perf_counter()
        outs, errs = _run(call, gen.name, [distinct[i] for i in batch])
        share = (time.perf_counter() - t0) / sum(copies[i] for i in batch)
        for i, out, err in zip(batch, outs, errs, strict=True):
            outputs[i], errors[i], shares[i] = out, err, share
    return [Generated(outputs[j], errors[j], shares[j]) for j in where]


def _run(call: Callable[[list[str]], list[Output]], name: str,
         texts: list[str]) -> tuple[list[Output | None], list[str | None]]:
    """One batch's outputs and errors; a failing batch of several is retried one text at a time."""
    try:
        outs = call(texts)
        if len(outs) != len(texts):
            raise ValueError(f"{len(outs)} outputs for {len(texts)} inputs")
        return list(outs), [None] * len(texts)
    except FATAL:
        raise
    except UnsupportedLanguageError as exc:
        return [None] * len(texts), [describe(name, exc)] * len(texts)
    except Exception as exc:
        if len(texts) == 1:
            if out_of_memory(exc):
                raise  # one input the device cannot hold: no smaller batch exists
            return [None], [describe(name, exc)]
        # A smaller batch may fit where this one ran out of device memory; an input that breaks
        # the model breaks only itself. Either way each text now runs on its own.
        log.warning("%s: batch of %d failed (%s); retrying one by one", name, len(texts), exc)
    outputs: list[Output | None] = []
    errors: list[str | None] = []
    for text in texts:
        [out], [err] = _run(call, name, [text])
        outputs.append(out)
        errors.append(err)
    return outputs, errors


def describe(model: str, exc: BaseException) -> str:
    """The per-article error for an input that failed in `model`."""
    return f"{model}: {type(exc).__name__}: {exc}"


def out_of_memory(exc: BaseException) -> bool:
    """Whether `exc` is an accelerator out of memory (torch's `OutOfMemoryError`, CTranslate2's message).

    Matched by name and message so that this module needs neither torch nor ctranslate2.
    """
    if any(cls.__name__ == "OutOfMemoryError" for cls in type(exc).__mro__):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def template_tokens(gen: Generator, render: Callable[[str], str]) -> int:
    """Tokens a prompt template adds to a text (special tokens are in both counts, so they cancel)."""
    with_template, bare = gen.count_tokens([render(""), ""])
    return max(0, with_template - bare)


def token_counter(gen: Generator) -> Callable[[str], int]:
    """A function that counts one text's tokens with the model's tokenizer."""
    return lambda text: gen.count_tokens([text])[0]


__all__ = ["FATAL", "Generated", "describe", "generate", "out_of_memory", "template_tokens", "token_counter"]
