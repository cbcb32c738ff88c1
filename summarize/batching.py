"""Planning the work: token-aware chunks on sentence boundaries, and length-sorted batches.

Pure functions over texts and token counts; no model is loaded here. Every work item keeps
its source index so results can be put back in order after the length sort.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

_SPACE = re.compile(r"\s+")


def pack_chunks(counts: Sequence[int], limit: int, *, joiner_tokens: int = 0) -> list[list[int]]:
    """Group consecutive units (sentences) into chunks of at most `limit` tokens.

    Returns lists of unit indices. A unit larger than `limit` gets a chunk of its own; the
    caller splits such units further before packing when it must not be truncated.
    """
    chunks: list[list[int]] = []
    current: list[int] = []
    used = 0
    for i, n in enumerate(counts):
        cost = n if not current else n + joiner_tokens
        if current and used + cost > limit:
            chunks.append(current)
            current, used, cost = [], 0, n
        current.append(i)
        used += cost
    if current:
        chunks.append(current)
    return chunks


def make_batches(counts: Sequence[int], *, batch_size: int, max_batch_tokens: int) -> list[list[int]]:
    """Indices of work items sorted longest first and packed into batches.

    A batch holds at most `batch_size` items and at most `max_batch_tokens` padded tokens
    (its longest item times its size), so long inputs go in small batches and short ones in
    large batches. Sorting by length keeps padding, and so wasted compute, low.
    """
    order = sorted(range(len(counts)), key=lambda i: (-counts[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        n = max(1, counts[i])
        width = max(longest, n)
        if current and (len(current) >= batch_size or width * (len(current) + 1) > max_batch_tokens):
            batches.append(current)
            current, width = [], n
        current.append(i)
        longest = width
    if current:
        batches.append(current)
    return batches


def unique(texts: Sequence[str]) -> tuple[list[str], list[int]]:
    """Distinct texts and, for each input, the index of its distinct text (identical texts run once)."""
    seen: dict[str, int] = {}
    distinct: list[str] = []
    where: list[int] = []
    for t in texts:
        j = seen.get(t)
        if j is None:
            j = seen[t] = len(distinct)
            distinct.append(t)
        where.append(j)
    return distinct, where


def translation_budget(source_tokens: int, cap: int, *, ratio: float = 2.0, slack: int = 10) -> int:
    """New-token limit for translating a text of `source_tokens` tokens: proportional, capped.

    A fixed limit either cuts long sentences or lets a short one that starts to loop run on
    for hundreds of tokens; twice the source (plus room for the language token and a short
    source's expansion) covers real translations between any two languages of a shared
    vocabulary, and the cap (`--translation-max-new-tokens`) bounds the worst case.
    """
    return max(1, min(cap, int(source_tokens * ratio) + slack))


def fit_prefix(text: str, limit: int, count: Callable[[str], int]) -> str:
    """The longest prefix of `text` with `count(prefix) <= limit`, cut at a space.

    Used by `--long-input truncate`, which must drop the end of the text itself rather than let
    the tokenizer cut the model input (that would also cut a prompt's tail). Text written
    without spaces (Chinese, Japanese) is cut between any two characters. `count` is assumed
    to grow with the prefix (a tokenizer's length does); the answer is checked anyway, and
    may be empty when not even the first word fits.
    """
    text = text.strip()
    if count(text) <= limit:
        return text
    cuts = [m.start() for m in _SPACE.finditer(text)]
    if len(cuts) * 20 < len(text):  # few spaces: a script written without them
        cuts = sorted({*cuts, *range(1, len(text))})
    lo, hi = 0, len(cuts) - 1
    best = ""
    while lo <= hi:
        mid = (lo + hi) // 2
        candidate = text[: cuts[mid]].rstrip()
        if count(candidate) <= limit:
            best, lo = candidate, mid + 1
        else:
            hi = mid - 1
    return best
