"""The ids a run has read so far, with where each was first seen, in under 30 bytes an id.

A keyed run rejects a record whose id an earlier record of the batch carried, naming where that
one was (`records.Builder`). A dict of id -> (source, line) costs some 160 bytes an id in Python
objects, which made the driver's memory grow with the input. Here each id is a 128-bit BLAKE2b
digest, and the ids live in sorted numpy runs of (digest high, digest low, position): the newest
few thousand in a small dict, the rest in runs merged as a log-structured merge does (a run is
merged into the one before it while that one is not larger), so a lookup searches O(log n) sorted
runs, each behind a Bloom filter of one to two bytes an id that answers most lookups of a new id.
Two different ids share a 128-bit digest with a chance of about n^2 / 2^129, nil for any batch.
"""

from __future__ import annotations

import hashlib

import numpy as np

_LINE_BITS = 40  # a position packs (source index, line): up to 2^40 lines a source, 2^24 sources


def _digest(rid: str) -> tuple[int, int]:
    d = hashlib.blake2b(rid.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    return int.from_bytes(d[:8], "little"), int.from_bytes(d[8:], "little")


class SeenIds:
    """Ids with the (source, line) of their first record; `first(id)` answers, `add` records.

    Attributes:
        buffer: How many of the newest ids are kept in a dict before they are sorted into a run.
    """

    def __init__(self, buffer: int = 1 << 16) -> None:
        self.buffer = buffer
        self._sources: list[str] = []
        self._source_index: dict[str, int] = {}
        self._recent: dict[tuple[int, int], int] = {}
        self._runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (hi, lo, position), sorted by (hi, lo)
        self._filters: list[tuple[bytes, int]] = []  # per run: a two-hash Bloom filter of 8 bits an id, its mask
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, rid: str) -> bool:
        return self.first(rid) is not None

    def first(self, rid: str) -> tuple[str, int] | None:
        """Where `rid` was first seen, or None if it was not."""
        pos = self._find(_digest(rid))
        return None if pos is None else self._where(pos)

    def add(self, rid: str, source: str, line: int) -> tuple[str, int] | None:
        """Record `rid` at (source, line) and return None; if it was seen before, record nothing
        and return where it was first seen (one digest and one lookup either way)."""
        key = _digest(rid)
        pos = self._find(key)
        if pos is not None:
            return self._where(pos)
        index = self._source_index.get(source)
        if index is None:
            index = self._source_index[source] = len(self._sources)
            self._sources.append(source)
        self._recent[key] = (index << _LINE_BITS) | min(max(line, 0), (1 << _LINE_BITS) - 1)
        self._count += 1
        if len(self._recent) >= self.buffer:
            self._flush()
        return None

    def _find(self, key: tuple[int, int]) -> int | None:
        pos = self._recent.get(key)
        return self._in_runs(*key) if pos is None else pos

    def _where(self, pos: int) -> tuple[str, int]:
        return self._sources[pos >> _LINE_BITS], pos & ((1 << _LINE_BITS) - 1)

    def _in_runs(self, hi: int, lo: int) -> int | None:
        h = None
        for (his, los, pos), (bits, mask) in zip(self._runs, self._filters, strict=True):
            # Most ids are new: the run's filter rules it out (about 95% of the time) without a search.
            a, b = lo & mask, hi & mask
            if not (bits[a >> 3] >> (a & 7)) & 1 or not (bits[b >> 3] >> (b & 7)) & 1:
                continue
            if h is None:
                h = np.uint64(hi)
            i = int(np.searchsorted(his, h))
            while i < len(his) and int(his[i]) == hi:
                if int(los[i]) == lo:
                    return int(pos[i])
                i += 1
        return None

    def _flush(self) -> None:
        keys = np.array(list(self._recent), dtype=np.uint64).reshape(-1, 2)
        run = (keys[:, 0].copy(), keys[:, 1].copy(), np.fromiter(self._recent.values(), dtype=np.uint64, count=len(keys)))
        self._recent = {}
        self._runs.append(_sorted(*run))
        self._filters.append(_filter(self._runs[-1]))
        while len(self._runs) > 1 and len(self._runs[-2][0]) <= len(self._runs[-1][0]):
            b = self._runs.pop()
            a = self._runs.pop()
            del self._filters[-2:]
            self._runs.append(_sorted(*(np.concatenate((x, y)) for x, y in zip(a, b, strict=True))))
            self._filters.append(_filter(self._runs[-1]))


def _sorted(hi: np.ndarray, lo: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.lexsort((lo, hi))
    return hi[order], lo[order], pos[order]


def _filter(run: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[bytes, int]:
    """A Bloom filter of a run: the low bits of each half of the digest set one bit each, in a
    bit array of at least 8 bits an id (a false "maybe" about 5% of the time, then searched)."""
    size = 1 << max(6, (8 * len(run[0]) - 1).bit_length())
    mask = size - 1
    on = np.zeros(size, dtype=bool)
    on[(run[1] & np.uint64(mask)).astype(np.int64)] = True
    on[(run[0] & np.uint64(mask)).astype(np.int64)] = True
    return np.packbits(on, bitorder="little").tobytes(), mask
