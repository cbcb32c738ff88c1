"""The backend interface: one `Generator` protocol and the `Output` it returns.

The caller (the pipeline) plans and batches the work; a backend only turns a batch of texts
into a batch of outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..options import GenerationOptions


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
