"""The merge that ends every Parquet run (and that `summarize compact` makes over a whole dataset).

A run writes one part per shard, table and partition folder; at its end the batch's committed parts
are merged, folder by folder, into files of at most `ROWS_PER_FILE` rows (and about `TARGET_BYTES`),
so a batch writes few files however small its shards. It streams: parts are read one at a time into
row groups of at most `ROW_GROUP_ROWS` rows, so its memory is one file's compressed bytes and one row
group, whatever the batch's size. The merge is one compaction commit: the new
parts are staged under hidden names, one create-only marker lists them and names the markers it
supersedes, then the new parts are put in place and the superseded parts deleted. A kill
before the marker leaves the shard parts, as valid as before.

On a local disk each merged folder then changes in one step, so a reader that globs the table never
sees a folder's rows twice (the merged file beside the parts it replaces) or not at all: the folder's
next contents (hard links to the files that stay and to the new parts, under their final names) are
built in `OUT/_summarize/swap/`, and the two folders are exchanged by one renameat2(RENAME_EXCHANGE);
the old contents, now under `swap/`, are deleted. Where the platform or file system cannot exchange,
the new parts are renamed into place one by one before the old ones are deleted, and a glob in that
moment can see both. A kill in the middle leaves either the old folder (the staged parts are still
there for `outdir.settle` to publish) or the new one, and `settle` deletes what is left under `swap/`.

Object stores have no folders to exchange, so there a run holds its committed parts back under their
staging names (`parts.holds_parts`), and its end-of-run merge takes only the parts still held (its own,
and those of a run killed before its end), whatever their run: the merged files it renames into place,
articles last, replace only files no reader has seen. `summarize compact`, which merges visible files,
is the one place a glob on an object store can see a folder's rows twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import OutputError
from . import files
from .files import AnyPath
from .outdir import SWAP, batch_runs, book, drop_superseded
from .parts import commit_parts, holds_parts, live_markers, part_files, publish, staged
from .write import file_metadata

log = logging.getLogger(__name__)

TARGET_BYTES = 128 * 2**20
ROWS_PER_FILE = 100_000
ROW_GROUP_ROWS = 10_000


def merge_batch(out: AnyPath, run_id: str, runs: Iterable[str], metadata: dict[str, str]) -> bool:
    """Merge the parts of a batch (`runs`: the run and the earlier runs of a resumed batch)."""
    return merge_parts(out, f"{run_id}-final", run_id, tag=f"{run_id[-8:]}-final", runs=runs, metadata=metadata)


def show_held(out: AnyPath, run_id: str, ident: dict[str, Any], metadata: dict[str, str]) -> None:
    """End an interrupted or failed run on an object store, which holds a run's committed parts
    back until its end (`holds_parts`): its batch's held parts are merged and shown, so every
    reader sees the same rows. A failure here (the store itself, likely the run's own failure)
    leaves them held, for `--resume` or `summarize compact`, with a warning."""
    if not holds_parts(out):
        return
    try:
        merge_batch(out, run_id, batch_runs(out, ident) | {run_id}, metadata)
    except Exception as exc:  # the run's own outcome is what the user must see
        log.warning("the committed shards stay held back under their staging names until `--resume` or "
                    "`summarize compact`: %s", exc)


def merge_parts(out: AnyPath, name: str, run_id: str, *, tag: str, runs: Iterable[str] | None = None,
                metadata: dict[str, str] | None = None, target_bytes: int = TARGET_BYTES,
                rows_per_file: int = ROWS_PER_FILE) -> bool:
    """Merge the parts of the live markers (of `runs` only, when given) folder by folder, as one
    compaction commit named `name` (new parts `part-<tag>-<n>.parquet`, with `metadata`);
    False when no folder had two parts to merge."""
    wanted = None if runs is None else set(runs)
    live = live_markers(out)
    chosen = sorted((m for m in live if wanted is None or m.get("run_id") in wanted), key=lambda m: m["_name"])
    held: set[str] | None = None
    if holds_parts(out) and runs is not None:
        # A run's end on an object store: merge only the parts still held back (this batch's and
        # those of a run killed before its end), never a file a reader may already see, so a glob
        # never finds a folder's rows twice.
        every = [p for m in live for p in m.get("parts", [])]
        held = {p["path"] for p, path in part_files(out, every) if path != out / p["path"]}
        chosen = sorted((m for m in live if any(p["path"] in held for p in m.get("parts", []))), key=lambda m: m["_name"])
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for m in chosen:
        for p in m.get("parts", []):
            if held is None or p["path"] in held:
                groups.setdefault((p["table"], p["path"].rsplit("/", 1)[0]), []).append(p)
    new_parts: list[dict[str, Any]] = []
    merged: set[str] = set()
    for (table, _), parts in sorted(groups.items()):
        if len(parts) < 2:
            continue
        meta = {**(metadata or file_metadata(run_id, table)), "table": table}
        new_parts += _merge_folder(out, table, parts, tag, meta, target_bytes, rows_per_file)
        merged.update(p["path"] for p in parts)
    if not new_parts:
        if runs is not None or holds_parts(out):  # parts held back, each alone in its folder: shown as they are
            publish(out, [p for m in chosen for p in m.get("parts", [])])
        return False
    # The marker lists the new parts plus the chosen markers' parts left as they were (a folder
    # with one part), so it alone stands for the markers it supersedes.
    new_parts += [p for m in chosen for p in m.get("parts", []) if p["path"] not in merged]
    if not commit_parts(out, name, run_id, new_parts, supersedes=[m["_name"] for m in chosen]):
        raise OutputError(f"compact: marker {name} exists already")
    if not files.is_remote(out):
        _switch_folders(out, tag, new_parts, merged)
    publish(out, new_parts)
    drop_superseded(out)
    return True


def _merge_folder(out: AnyPath, table: str, parts: list[dict[str, Any]], tag: str, meta: dict[str, str],
                  target_bytes: int, rows_per_file: int) -> list[dict[str, Any]]:
    """Merge one folder's parts, in order, into files of at most `rows_per_file` rows and about
    `target_bytes` (by the parts' sizes on disk); the new parts, staged. Parts are read one at a
    time and streamed to the file as row groups, so memory does not grow with the folder."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.unify_schemas([pq.read_schema(_source(out / p["path"])) for p in parts], promote_options="default")
    schema = schema.with_metadata({**(schema.metadata or {}), **{k.encode(): v.encode() for k, v in meta.items()}})
    folder = (out / parts[0]["path"]).parent
    new: list[dict[str, Any]] = []
    for n, group in enumerate(_files(parts, target_bytes, rows_per_file)):
        path = folder / f"part-{tag}-{n:05d}.parquet"
        rows = buffered = 0
        pending = []
        with files.atomic_writer(staged(path)) as fh:
            writer = pq.ParquetWriter(fh, schema, compression="zstd")
            for p in group:
                pending.append(_conform(pq.read_table(_source(out / p["path"])), schema))
                rows += pending[-1].num_rows
                buffered += pending[-1].num_rows
                if buffered >= ROW_GROUP_ROWS:
                    writer.write_table(pa.concat_tables(pending))
                    pending.clear()
                    buffered = 0
            if pending or rows == 0:
                writer.write_table(pa.concat_tables(pending) if pending else schema.empty_table())
            writer.close()
            size = fh.tell()
        new.append({"path": path.relative_to(out).as_posix(), "table": table, "rows": rows, "bytes": size})
    return new


def _switch_folders(out: Path, tag: str, new_parts: list[dict[str, Any]], merged: set[str]) -> None:
    """Give each folder with merged parts its new contents in one step (see the module's docstring);
    a folder that cannot be switched is left for `publish` and `drop_superseded`."""
    by_folder: dict[Path, set[str]] = {}
    for p in new_parts:
        by_folder.setdefault((out / p["path"]).parent, set()).add(p["path"].rsplit("/", 1)[-1])
    gone: dict[Path, set[str]] = {}
    for path in merged:
        gone.setdefault((out / path).parent, set()).add(path.rsplit("/", 1)[-1])
    for n, folder in enumerate(sorted(gone)):
        spare = book(out) / SWAP / f"{tag}-{n:05d}"
        try:
            why = "" if _switch(folder, spare, by_folder.get(folder, set()), gone[folder]) else "no exchange here"
        except OSError as e:  # e.g. a file system without hard links
            why = str(e)
        files.remove_tree(spare)
        if why:
            log.debug("merge: %s not exchanged in one step (%s); its parts are renamed in place", folder, why)
    with contextlib.suppress(OSError):
        (book(out) / SWAP).rmdir()  # left only while a switch is under way


def _switch(folder: Path, spare: Path, new: set[str], gone: set[str]) -> bool:
    """Build `folder`'s next contents in `spare` (every file but the `gone` parts, and the staged
    `new` parts under their final names, all hard links) and exchange the two folders."""
    entries = list(os.scandir(folder))
    if any(e.is_dir(follow_symlinks=False) for e in entries):
        return False  # a folder with folders inside: partitions below it, never one of ours
    hidden = {staged(folder / name).name for name in new}
    spare.mkdir(parents=True)
    spare.chmod(stat.S_IMODE(folder.stat().st_mode))
    for e in entries:
        if e.name not in gone and e.name not in hidden:
            os.link(e.path, spare / e.name, follow_symlinks=False)
    for name in new:
        os.link(staged(folder / name), spare / name)
    files.fsync_dir(spare)
    return files.exchange(folder, spare)


def _files(parts: list[dict[str, Any]], target_bytes: int, rows_per_file: int) -> list[list[dict[str, Any]]]:
    """Consecutive parts grouped into files: a file takes whole parts while it stays within
    `rows_per_file` rows and `target_bytes` (a part larger than either gets a file of its own)."""
    groups: list[list[dict[str, Any]]] = []
    rows = size = 0
    for p in parts:
        r, b = int(p.get("rows", 0)), int(p.get("bytes", 0))
        if not groups or rows + r > rows_per_file or size + b > target_bytes:
            groups.append([])
            rows = size = 0
        groups[-1].append(p)
        rows, size = rows + r, size + b
    return groups


def _conform(data: Any, schema: Any) -> Any:
    """`data` with the columns of `schema`, in its order and types (nulls for a column it lacks)."""
    import pyarrow as pa

    cols = [data.column(f.name) if f.name in data.column_names else pa.nulls(data.num_rows, f.type) for f in schema]
    return pa.Table.from_arrays(cols, names=schema.names).cast(schema)


def _source(path: AnyPath) -> Any:
    import pyarrow as pa

    if not files.exists(path):
        path = staged(path)  # a part committed but not yet renamed
    return pa.BufferReader(path.read_bytes()) if files.is_remote(path) else path
