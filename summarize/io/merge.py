"""The merge that ends every Parquet run (and that `summarize compact` makes over a whole dataset).

A run writes one part per shard, table and partition folder; at its end the batch's committed parts
are merged, folder by folder, into files of at most `ROWS_PER_FILE` rows (and about `TARGET_BYTES`),
so a batch writes few files however small its shards. The merge is one compaction commit: the new
parts are staged under hidden names, one create-only marker lists them and names the markers it
supersedes, then the new parts are renamed into place and the superseded parts deleted. A kill
before the marker leaves the shard parts, as valid as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import OutputError
from . import files
from .files import AnyPath
from .outdir import drop_superseded, live_markers
from .write import commit_parts, file_metadata, publish, staged, write_parquet

TARGET_BYTES = 128 * 2**20
ROWS_PER_FILE = 100_000


def merge_batch(out: AnyPath, run_id: str, runs: Iterable[str], metadata: dict[str, str]) -> bool:
    """Merge the parts of a batch (`runs`: the run and the earlier runs of a resumed batch)."""
    return merge_parts(out, f"{run_id}-final", run_id, tag=f"{run_id[-8:]}-final", runs=runs, metadata=metadata)


def merge_parts(out: AnyPath, name: str, run_id: str, *, tag: str, runs: Iterable[str] | None = None,
                metadata: dict[str, str] | None = None, target_bytes: int = TARGET_BYTES,
                rows_per_file: int = ROWS_PER_FILE) -> bool:
    """Merge the parts of the live markers (of `runs` only, when given) folder by folder, as one
    compaction commit named `name` (new parts `part-<tag>-<n>.parquet`, with `metadata`);
    False when no folder had two parts to merge."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    wanted = None if runs is None else set(runs)
    chosen = sorted((m for m in live_markers(out) if wanted is None or m.get("run_id") in wanted),
                    key=lambda m: m["_name"])
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for m in chosen:
        for p in m.get("parts", []):
            groups.setdefault((p["table"], p["path"].rsplit("/", 1)[0]), []).append(p)
    new_parts: list[dict[str, Any]] = []
    merged: set[str] = set()
    for (table, _), parts in sorted(groups.items()):
        if len(parts) < 2:
            continue
        folder = (out / parts[0]["path"]).parent
        data = pa.concat_tables([pq.read_table(_source(out / p["path"])) for p in parts], promote_options="default")
        chunks = max(1, -(-sum(p.get("bytes", 0) for p in parts) // target_bytes), -(-data.num_rows // rows_per_file))
        step = -(-data.num_rows // chunks) or 1
        for n, start in enumerate(range(0, max(data.num_rows, 1), step)):
            path = folder / f"part-{tag}-{n:05d}.parquet"
            meta = {**(metadata or file_metadata(run_id, table)), "table": table}
            size = write_parquet(data.slice(start, step), staged(path), meta)
            new_parts.append({"path": path.relative_to(out).as_posix(), "table": table,
                              "rows": min(step, data.num_rows - start), "bytes": size})
        merged.update(p["path"] for p in parts)
    if not new_parts:
        return False
    # The marker lists the new parts plus the chosen markers' parts left as they were (a folder
    # with one part), so it alone stands for the markers it supersedes.
    new_parts += [p for m in chosen for p in m.get("parts", []) if p["path"] not in merged]
    if not commit_parts(out, name, run_id, new_parts, supersedes=[m["_name"] for m in chosen]):
        raise OutputError(f"compact: marker {name} exists already")
    publish(out, new_parts)
    drop_superseded(out)
    return True


def _source(path: AnyPath) -> Any:
    import pyarrow as pa

    if not files.exists(path):
        path = staged(path)  # a part committed but not yet renamed
    return pa.BufferReader(path.read_bytes()) if files.is_remote(path) else path
