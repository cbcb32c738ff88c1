"""`summarize compact OUT`: fewer, larger files, with the same rows.

Parquet: within each table and partition folder, every committed part is merged into new parts of
about `target_bytes` (one per folder for small data). The switch is one create-only commit marker,
`_summarize/commits/compact-<id>.json`, that lists the new parts and names the markers it
`supersedes`; a superseded marker and the parts it lists are no longer part of the dataset, and
are deleted right after. Readers that list files through the markers (`committed_files`) see either
the old parts or the new ones, never both. A reader that globs the folder could, for the moment
between the new parts' renames and the old parts' deletion, see both: globbing readers must not
run during a compaction (it holds the dataset's lock, like a run). A compaction killed before its
marker leaves unlisted parts that the next `--resume` or `compact` deletes; one killed after it
leaves superseded files that are deleted the same way.

Both: the reuse memory (`_summarize/memory/`, see `memory.py`) is merged into one file, each
key once, pruned by size and age; it survives every compaction.

Delta: each table's `optimize.compact()` (a new version, the same rows) and `vacuum()` with the
default retention (7 days), so time travel to recent runs keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import OutputError
from ..schema import TABLES
from . import files
from .delta import delta_options
from .files import AnyPath, is_delta
from .lock import Lock
from .memory import MemoryCompaction, compact_memory
from .outdir import _ours, book, live_markers, markers
from .write import COMMITS, PART_PREFIX, commit_parts, file_metadata, write_parquet

TARGET_BYTES = 128 * 2**20


@dataclass(frozen=True)
class Compaction:
    """File counts per table before and after (Parquet: files on disk; Delta: the table's active files)."""

    before: dict[str, int]
    after: dict[str, int]
    memory: MemoryCompaction | None = None  # the reuse memory's entries and files (`memory.py`)


def committed_files(out: AnyPath, table: str) -> list[AnyPath]:
    """The part files of `table` that the dataset holds now (through the live commit markers)."""
    return sorted(out / p["path"] for m in live_markers(out) for p in m.get("parts", [])
                  if p.get("table") == table and p.get("path"))


def _parquet_count(out: AnyPath) -> dict[str, int]:
    return {t: sum(1 for _ in files.files_under(out / t, ".parquet")) for t in TABLES}


def compact(out: AnyPath, target_bytes: int = TARGET_BYTES, *, memory_rows: int | None = None,
            memory_days: float | None = None) -> Compaction:
    """Compact the dataset in `out` (a folder or an object-store prefix, see `files.as_path`)
    under its lock; OutputError when it is not a summarize dataset. The reuse memory is merged
    into one file too, keeping at most `memory_rows` entries none older than `memory_days`
    (`memory.compact_memory`)."""
    ds = _ours(out) if files.exists(out) else None
    if ds is None or ds.get("legacy"):
        raise OutputError(f"{out} is not a dataset written by this version of summarize (no {book(out).name}/dataset.json)")
    cid = files.new_run_id()
    lock = Lock.acquire(book(out), f"compact-{cid}", str(out))
    try:
        if ds.get("table_format") == "delta":
            done = _compact_delta(out, target_bytes)
        else:
            done = _compact_parquet(out, cid, target_bytes)
        mem = compact_memory(out, f"{cid}-compact", limit=memory_rows, max_age_days=memory_days)
        return Compaction(done.before, done.after, mem if mem.files_before else None)
    finally:
        lock.release()


def _compact_delta(out: AnyPath, target_bytes: int) -> Compaction:
    from deltalake import DeltaTable

    options = delta_options(files.storage_options(), files.uri(out)) if files.is_remote(out) else None
    before, after = {}, {}
    for t in TABLES:
        if not is_delta(out / t):
            continue
        table = DeltaTable(files.uri(out / t), storage_options=options)
        before[t] = len(table.file_uris())
        table.optimize.compact(target_size=target_bytes)
        table = DeltaTable(files.uri(out / t), storage_options=options)
        table.vacuum(dry_run=False)  # default retention: recent versions stay readable
        after[t] = len(table.file_uris())
    return Compaction(before, after)


def _compact_parquet(out: AnyPath, cid: str, target_bytes: int) -> Compaction:
    import pyarrow as pa
    import pyarrow.parquet as pq

    _drop_superseded(out)
    before = _parquet_count(out)
    live = live_markers(out)
    groups: dict[tuple[str, AnyPath], list[dict[str, Any]]] = {}
    for m in live:
        for p in m.get("parts", []):
            groups.setdefault((p["table"], (out / p["path"]).parent), []).append(p)
    new_parts: list[dict[str, Any]] = []
    merged: set[str] = set()
    for (table, folder), parts in sorted(groups.items(), key=lambda g: (g[0][0], str(g[0][1]))):
        if len(parts) < 2:
            continue
        data = pa.concat_tables([pq.read_table(_source(out / p["path"])) for p in parts], promote_options="default")
        chunks = max(1, -(-sum(p.get("bytes", 0) for p in parts) // target_bytes))
        step = -(-data.num_rows // chunks) or 1
        for n, start in enumerate(range(0, max(data.num_rows, 1), step)):
            path = folder / f"{PART_PREFIX}compact-{cid[-8:]}-{n:05d}.parquet"
            size = write_parquet(data.slice(start, step), path, file_metadata(f"compact-{cid}", table))
            new_parts.append({"path": path.relative_to(out).as_posix(), "table": table,
                              "rows": min(step, data.num_rows - start), "bytes": size})
        merged.update(p["path"] for p in parts)
    if not new_parts:
        return Compaction(before, before)
    # The compaction marker supersedes every live marker and lists the new parts plus the parts
    # left as they were (a folder with one part), so it alone defines the dataset afterwards.
    superseded = live
    new_parts += [p for m in live for p in m.get("parts", []) if p["path"] not in merged]
    # The switch: one create-only marker naming both the new parts and the markers it replaces.
    if not commit_parts(out, f"compact-{cid}", f"compact-{cid}", new_parts,
                        supersedes=[m["_name"] for m in superseded]):
        raise OutputError(f"compact: marker compact-{cid} exists already")
    _drop_superseded(out)
    return Compaction(before, _parquet_count(out))


def _source(path: AnyPath) -> Any:
    import pyarrow as pa

    return pa.BufferReader(path.read_bytes()) if files.is_remote(path) else path


def _drop_superseded(out: AnyPath) -> None:
    """Delete superseded markers' part files (unless a live marker lists them) and the markers."""
    every = markers(out)
    live = {m["_name"] for m in live_markers(out)}
    listed = {p["path"] for m in every if m["_name"] in live for p in m.get("parts", [])}
    for m in every:
        if m["_name"] in live:
            continue
        for p in m.get("parts", []):
            if p["path"] not in listed:
                files.remove(out / p["path"])
        files.remove(out / COMMITS / f"{m['_name']}.json")
