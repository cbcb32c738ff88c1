"""The reuse memory on disk or an object store: `<out>/_summarize/memory/*.memory`.

Each file is Parquet (named `.memory` so that no `**/*.parquet` glob over the dataset mistakes
it for data) with the columns `key`, `kind`, `value` (JSON), `run_id` and `created_at`. A run
adds one file per shard it generated something in, named by the run and the shard, written
atomically (local: temp file and rename; object store: one PUT), so a killed run leaves whole
files or none, and a retried shard (Ray) overwrites its own file. Nothing is ever edited in
place, which is what object stores allow. A shard's entries are stored before its tables are
committed, so every committed output is in the store; a run killed between the two leaves the
entries of a shard that was never committed, which are as good as any, because entries are keyed
by content (`summarize.reuse`): the store cannot disagree with the tables.

File names start with the run id, which sorts in time order: loading reads the newest first, a
key's newest value wins, and at most `max_rows` distinct keys are loaded, so a run's memory use
is bounded however large the store grew. `compact` merges the files into one, keeps each key
once, drops entries older than `max_age_days` and all but the newest `max_rows`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..schema import BOOKKEEPING
from . import files
from .files import AnyPath

log = logging.getLogger(__name__)

MEMORY = "memory"
SUFFIX = ".memory"
# About 300 bytes per entry in memory: a million entries (a few hundred thousand articles'
# summaries and sentences) is a few hundred MB at most.
DEFAULT_MAX_ROWS = 1_000_000
ROWS_VARIABLE = "SUMMARIZE_MEMORY_ROWS"
_COLUMNS = ("key", "kind", "value", "run_id", "created_at")


def folder(out: AnyPath) -> AnyPath:
    """Where a dataset's memory lives."""
    return out / BOOKKEEPING / MEMORY


def max_rows() -> int:
    """`$SUMMARIZE_MEMORY_ROWS`, else `DEFAULT_MAX_ROWS`: most entries a run loads or compact keeps."""
    try:
        return max(0, int(os.environ.get(ROWS_VARIABLE, DEFAULT_MAX_ROWS)))
    except ValueError:
        return DEFAULT_MAX_ROWS


def memory_files(out: AnyPath) -> list[AnyPath]:
    """The store's files, oldest first (a killed write's temporary file is not one)."""
    return [f for f in files.files_under(folder(out), SUFFIX) if not f.name.startswith(".")]


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema([("key", pa.string()), ("kind", pa.string()), ("value", pa.string()), ("run_id", pa.string()),
                      ("created_at", pa.timestamp("us", tz="UTC"))])


def _batches(path: AnyPath) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        src = files.source(path)
        if isinstance(src, bytes):  # an object store's file, read through fsspec
            src = pa.BufferReader(src)
        yield from pq.ParquetFile(src).iter_batches(batch_size=65_536, columns=list(_COLUMNS))
    except (OSError, ValueError) as exc:  # an unreadable file is a miss, never a failed run
        log.warning("reuse memory: skipping unreadable %s: %s", path, exc)


def _key_values(path: AnyPath) -> Iterator[tuple[list[str], list[str]]]:
    """A file's keys and values, batch by batch, in file order (oldest rows first)."""
    for batch in _batches(path):
        yield batch.column("key").to_pylist(), batch.column("value").to_pylist()


def load(out: AnyPath, limit: int | None = None) -> dict[str, str]:
    """The stored entries (key -> JSON value), newest first up to `limit` keys (default `max_rows()`)."""
    limit = max_rows() if limit is None else limit
    found: dict[str, str] = {}
    for path in reversed(memory_files(out)):
        for keys, values in _key_values(path):
            for k, v in zip(reversed(keys), reversed(values), strict=True):  # newest rows last in a file
                if len(found) >= limit:
                    return found
                found.setdefault(k, v)
    return found


def news(out: AnyPath, run_id: str, seen: set[str]) -> dict[str, str]:
    """The entries of run `run_id`'s files whose names are not in `seen` (which then holds them):
    what the run's other writers (Ray actors) stored since the caller last looked."""
    found: dict[str, str] = {}
    for path in memory_files(out):
        if not path.name.startswith(f"{run_id}-") or path.name in seen:
            continue
        seen.add(path.name)
        for keys, values in _key_values(path):
            found.update(zip(keys, values, strict=True))
    return found


def append(out: AnyPath, name: str, entries: Sequence[tuple[str, str, str]], run_id: str) -> int:
    """Store `entries` ((key, kind, value)) as the file `<name>.memory`; its size (0 when nothing to store)."""
    if not entries:
        return 0
    import pyarrow as pa

    from .write import write_parquet

    now = dt.datetime.now(dt.UTC)
    table = pa.table({"key": [e[0] for e in entries], "kind": [e[1] for e in entries],
                      "value": [e[2] for e in entries], "run_id": [run_id] * len(entries),
                      "created_at": [now] * len(entries)}, schema=_schema())
    files.mkdir(folder(out))
    return write_parquet(table, folder(out) / f"{name}{SUFFIX}", {"table": "memory", "run_id": run_id})


@dataclass(frozen=True)
class MemoryCompaction:
    """What `compact_memory` did: entries and files before and after, and bytes after."""

    rows_before: int
    rows_after: int
    files_before: int
    files_after: int


def compact_memory(out: AnyPath, name: str, *, limit: int | None = None,
                   max_age_days: float | None = None) -> MemoryCompaction:
    """Merge the store into one file `<name>.memory`: each key once (newest value), none older than
    `max_age_days`, at most `limit` (default `max_rows()`) of the newest. Runs under the dataset's
    lock (`summarize compact`); the new file is written before the old ones are deleted, so a crash
    leaves duplicates (harmless), never a loss."""
    import pyarrow as pa

    from .write import write_parquet

    limit = max_rows() if limit is None else limit
    old = memory_files(out)
    cutoff = None if max_age_days is None else dt.datetime.now(dt.UTC) - dt.timedelta(days=max_age_days)
    rows_before = 0
    kept: dict[str, tuple[str, str, str, dt.datetime]] = {}
    for path in reversed(old):
        for batch in _batches(path):
            cols = [batch.column(c).to_pylist() for c in _COLUMNS]
            rows_before += batch.num_rows
            for key, kind, value, run, created in reversed(list(zip(*cols, strict=True))):
                if len(kept) >= limit or key in kept or (cutoff is not None and created < cutoff):
                    continue
                kept[key] = (kind, value, run, created)
    if old and (len(old) > 1 or len(kept) < rows_before):
        rows = list(reversed(kept.items()))  # oldest first, as a run's files are
        table = pa.table({"key": [k for k, _ in rows], "kind": [v[0] for _, v in rows],
                          "value": [v[1] for _, v in rows], "run_id": [v[2] for _, v in rows],
                          "created_at": [v[3] for _, v in rows]}, schema=_schema())
        target = folder(out) / f"{name}{SUFFIX}"
        write_parquet(table, target, {"table": "memory", "compaction": name})
        for f in old:
            if files.uri(f) != files.uri(target):
                files.remove(f)
    for f in files.files_under(folder(out)):
        if f.name.startswith(".") and ".tmp-" in f.name:  # a killed write's leftover
            files.remove(f)
    return MemoryCompaction(rows_before, len(kept), len(old), len(memory_files(out)))


__all__ = ["DEFAULT_MAX_ROWS", "MemoryCompaction", "append", "compact_memory", "folder", "load", "max_rows",
           "memory_files", "news"]
