"""`summarize compact OUT`: fewer, larger files, with the same rows.

Parquet: within each table and partition folder, every committed part is merged into new parts of
about `target_bytes` and at most `ROWS_PER_FILE` rows (one per folder for small data). The new
parts are staged under hidden names; the switch is one create-only commit marker,
`_summarize/commits/compact-<id>.json`, that lists the new parts and names the markers it
`supersedes`; then the new parts are renamed into place, and the superseded markers and their
parts are deleted. Readers that list files through the markers (`committed_files`) see either the
old parts or the new ones, never both; so does a reader that globs a local folder, which changes in
one step (`merge.py`). On an object store a glob could, for the moment between the new parts'
renames and the old parts' deletion, see both (runs there never replace a visible file: `merge.py`).
A compaction killed before its marker leaves staged parts that the next `--resume` or `compact` deletes; one killed after it
leaves parts to rename and superseded files to delete, which `outdir.settle` finishes. Every run
ends with the same merge over its own batch's parts (`merge_parts`), so a batch writes few files
whatever its shard size.

Delta: each table's `optimize.compact()` (a new version, the same rows), a checkpoint of its log
and the log entries older than the log retention removed (`cleanup_metadata`), then `vacuum()` of
data files no version newer than `vacuum_hours` needs (default 7 days, so time travel to recent
runs keeps working; 0 keeps only the latest version readable). Each of those commits carries the
compaction's `commit_metadata` (run id `compact-<id>`), and a marker `compact-<id>` records the
versions the tables end at, which `delta.consistent_versions` then gives (the versions earlier
markers name may have been vacuumed). Both report files and bytes on disk before and after.

Both: the reuse memory (`_summarize/memory/`, see `memory.py`) is merged into one file, each
key once, pruned by size and age; it survives every compaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import OutputError
from ..schema import TABLES
from . import files
from .delta import commit_metadata, delta_options, versions_marker
from .files import AnyPath, is_delta
from .lock import Lock
from .memory import MemoryCompaction, compact_memory
from .merge import TARGET_BYTES, merge_parts
from .outdir import _ours, book, drop_superseded
from .parts import committed_files

VACUUM_HOURS = 168

__all__ = ["Compaction", "committed_files", "compact", "on_disk"]  # committed_files: for readers (docs/datasets.md)


@dataclass(frozen=True)
class Compaction:
    """Data files and bytes per table before and after (on disk, Delta logs included), and what
    a Delta vacuum removed."""

    before: dict[str, int]
    after: dict[str, int]
    bytes_before: dict[str, int] = field(default_factory=dict)
    bytes_after: dict[str, int] = field(default_factory=dict)
    vacuumed: dict[str, int] = field(default_factory=dict)
    memory: MemoryCompaction | None = None  # the reuse memory's entries and files (`memory.py`)


def on_disk(out: AnyPath) -> tuple[dict[str, int], dict[str, int]]:
    """Data files (`*.parquet`, a Delta log's checkpoints not counted) and bytes (every file, a Delta
    log included) per table folder."""
    count, size = {}, {}
    for t in TABLES:
        found = list(files.files_under(out / t))
        count[t] = sum(1 for f in found if f.name.endswith(".parquet") and "/_delta_log/" not in str(f))
        size[t] = sum(files.size(f) for f in found)
    return count, size


def compact(out: AnyPath, target_bytes: int = TARGET_BYTES, vacuum_hours: float = VACUUM_HOURS, *,
            memory_rows: int | None = None, memory_days: float | None = None) -> Compaction:
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
        before, bytes_before = on_disk(out)
        vacuumed: dict[str, int] = {}
        if ds.get("table_format") == "delta":
            vacuumed = _compact_delta(out, f"compact-{cid}", target_bytes, vacuum_hours)
        else:
            drop_superseded(out)
            merge_parts(out, f"compact-{cid}", f"compact-{cid}", tag=f"compact-{cid[-8:]}", target_bytes=target_bytes)
        after, bytes_after = on_disk(out)
        mem = compact_memory(out, f"{cid}-compact", limit=memory_rows, max_age_days=memory_days)
        return Compaction(before, after, bytes_before, bytes_after, vacuumed, mem if mem.files_before else None)
    finally:
        lock.release()


def _compact_delta(out: AnyPath, name: str, target_bytes: int, vacuum_hours: float) -> dict[str, int]:
    from deltalake import CommitProperties, DeltaTable

    options = delta_options(files.storage_options(), files.uri(out)) if files.is_remote(out) else None
    removed, versions = {}, {}
    for t in TABLES:
        if not is_delta(out / t):
            continue
        props = CommitProperties(custom_metadata=commit_metadata(name, t))
        table = DeltaTable(files.uri(out / t), storage_options=options)
        table.optimize.compact(target_size=target_bytes, commit_properties=props)
        table = DeltaTable(files.uri(out / t), storage_options=options)
        table.create_checkpoint()
        table.cleanup_metadata()
        # Below the table's own minimum retention only on request (the flag says how far back
        # time travel must keep working).
        gone = table.vacuum(retention_hours=int(vacuum_hours), dry_run=False, enforce_retention_duration=False,
                            commit_properties=props)
        removed[t] = len(gone)
        versions[t] = DeltaTable(files.uri(out / t), storage_options=options).version()
    if versions:
        versions_marker(out, name, name, versions)
    return removed
