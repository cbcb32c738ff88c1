"""Model backends: one `Generator` interface, implemented with transformers (and CTranslate2).

The caller (the pipeline) plans and batches the work; a backend only turns a batch of texts
into a batch of outputs. Models are resolved from a Hub id or a local folder and kept in a
small LRU pool so each model is loaded once per run.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..options import GenerationOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Output:
    """One generated text, its length in tokens and the model's confidence in it.

    Attributes:
        text: The generated text.
        tokens: Its tokens, special tokens (start, language, end) left out.
        logprob: Mean log-probability (nats) per token the model chose: the `gen_tokens` tokens
            after any forced prefix (the target-language token), the end token included when the
            model chose to stop (not when it was forced or the length limit stopped it), padding
            never. Both backends report this same quantity; None when nothing was chosen. Left
            out of equality, because the two backends' floats differ in the last digits.
        gen_tokens: How many tokens `logprob` is the mean over: `tokens`, plus one when the
            model chose the end token (plus any special token it generated mid-text).
    """

    text: str
    tokens: int
    logprob: float | None = field(default=None, compare=False)
    gen_tokens: int = 0


def mean_logprob(total: float, count: int) -> float | None:
    """`total / count`, or None for no tokens (the one place both backends turn a sum into a mean)."""
    return total / count if count > 0 else None


class Generator(Protocol):
    """What the pipeline needs from a loaded seq2seq model."""

    name: str
    family: str
    revision: str | None
    max_input_tokens: int

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Input tokens of each text as the model's tokenizer sees it (special tokens included)."""
        ...

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
        """Generate one output per text, in order; languages are ISO 639-1 codes.

        `max_new_tokens` overrides `options.max_new_tokens` for this call; `min_new_tokens`
        keeps the end token away until that many tokens exist (benchmarks use it to force equal
        output lengths). Both count the forced target-language token where a family has one.
        """
        ...


def is_local(model: str) -> bool:
    """A model given as an existing folder (rather than a Hub id)."""
    return Path(model).expanduser().is_dir()


Loader = Callable[[str, str], Generator]


class ModelPool:
    """Loaded models by (backend, model), least recently used dropped past `max_loaded`.

    Loading is the slow part of a run; the pipeline groups work by model so each one is
    loaded once, and the pool keeps it for later shards.
    """

    def __init__(self, *, device: str = "auto", backend: str = "torch", compute_type: str | None = None,
                 max_loaded: int = 2) -> None:
        self.device = device
        self.backend = backend
        self.compute_type = compute_type
        self.max_loaded = max_loaded
        self._loaded: OrderedDict[str, Generator] = OrderedDict()
        self.loads: list[str] = []

    def get(self, model: str, task: str) -> Generator:
        """The loaded model, loading it (and dropping the least recently used) if needed."""
        if model in self._loaded:
            self._loaded.move_to_end(model)
            return self._loaded[model]
        gen = self._load(model, task)
        self._loaded[model] = gen
        self.loads.append(model)
        while len(self._loaded) > self.max_loaded:
            old, _ = self._loaded.popitem(last=False)
            log.info("unloading model %s", old)
        return gen

    def _load(self, model: str, task: str) -> Generator:
        # `load_ct2` returns None (and logs why) when ctranslate2 is missing or cannot convert
        # this architecture; the run goes on with torch rather than failing.
        if self.backend == "ct2":
            from .ct2 import load_ct2

            gen = load_ct2(model, device=self.device, compute_type=self.compute_type)
            if gen is not None:
                return gen
        from .hf import TransformersGenerator

        return TransformersGenerator.load(model, device=self.device)

    def loaded(self) -> list[str]:
        return list(self._loaded)
