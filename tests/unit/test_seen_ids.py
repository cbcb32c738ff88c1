"""The ids a run has read: exact answers as a dict would give, in a fraction of its memory."""

from __future__ import annotations

import random
import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from summarize.io.seen import SeenIds


def test_first_place_of_every_id_across_sorted_runs_and_merges() -> None:
    seen = SeenIds(buffer=97)  # small: thousands of ids go through many flushes and merges
    ref: dict[str, tuple[str, int]] = {}
    rng = random.Random(7)
    for n in range(5000):
        rid = f"id-{rng.randrange(3500)}"  # about a third are repeats
        source = f"feed-{n % 3}.jsonl"
        got = seen.add(rid, source, n)
        assert got == ref.get(rid)
        ref.setdefault(rid, (source, n))
    assert len(seen) == len(ref)
    for rid, where in ref.items():
        assert seen.first(rid) == where
        assert rid in seen
    assert seen.first("id-never") is None and "id-never" not in seen
    assert len(seen._runs) <= len(ref).bit_length()  # runs merged: O(log n) of them


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=300), st.integers(1, 40))
def test_agrees_with_a_dict_for_any_ids(ids: list[str], buffer: int) -> None:
    seen = SeenIds(buffer=buffer)
    ref: dict[str, int] = {}
    for line, rid in enumerate(ids):  # surrogates, NUL, empty: any str
        got = seen.add(rid, "in.jsonl", line)
        assert got == (("in.jsonl", ref[rid]) if rid in ref else None)
        ref.setdefault(rid, line)


def test_an_id_costs_a_few_dozen_bytes_not_a_dict_entry() -> None:
    n = 200_000
    ids = [f"https://news.example.com/2026/12/07/article-{i:09d}" for i in range(n)]
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        seen = SeenIds()
        for i, rid in enumerate(ids):
            seen.add(rid, "batch.jsonl", i)
        used = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    finally:
        tracemalloc.stop()
    # 24 bytes an id in the sorted runs, plus the newest ids in the dict (at most `buffer` of them).
    assert used / n < 60, used / n
    assert seen.first(ids[0]) == ("batch.jsonl", 0) and seen.first(ids[-1]) == ("batch.jsonl", n - 1)
