"""A Parquet dataset's commits: part files under hidden staging names, the create-only markers that
commit them, and where each committed part is now.

A part is written as `.part-<run>-<shard>.parquet.staged` (`staged`), which no `**/*.parquet` glob and
no Parquet reader's folder scan sees; the marker `_summarize/commits/<name>.json` (`commit_parts`)
lists the parts it commits, and `publish` renames them to their listed names. A compaction marker
names the markers it `supersedes`; the live markers (`live_markers`) define the dataset. On an object
store a run holds its committed parts back until its end (`holds_parts`), so readers that start from
the markers find each part under whichever name it has now (`part_files`, `committed_files`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..schema import BOOKKEEPING, TABLES
from . import files
from .files import AnyPath

COMMITS = f"{BOOKKEEPING}/commits"
PART_PREFIX = "part-"
STAGED = ".staged"


def staged(path: AnyPath) -> AnyPath:
    """The hidden name a part is written under until its commit marker exists."""
    return path.with_name(f".{path.name}{STAGED}")


def publish(out_dir: AnyPath, parts: Sequence[dict[str, Any]]) -> None:
    """Rename the committed parts from their staging names to the names their marker lists, the
    articles' last (a glob that finds an article then finds its translations too)."""
    for p in sorted(parts, key=lambda p: p.get("table") == "articles"):
        final = out_dir / p["path"]
        src = staged(final)
        if files.exists(src):
            files.rename(src, final)


def holds_parts(out_dir: AnyPath) -> bool:
    """Whether a run's committed parts stay under their staging names until its end-of-run merge:
    on object stores, where the merge cannot swap a folder's files in one step, so that a glob
    there only ever sees merged files and never a part beside the merged file that replaces it."""
    return files.is_remote(out_dir)


def part_files(out_dir: AnyPath, parts: Iterable[dict[str, Any]]) -> list[tuple[dict[str, Any], AnyPath]]:
    """Each committed part with the file that holds it now: its listed name, or its staging name
    while it is held back (`holds_parts`) or was committed by a writer killed before it published.
    One listing per table folder; a part found under neither name is left out."""
    parts = [p for p in parts if p.get("path")]
    names: set[str] = set()
    for table in sorted({p["path"].split("/", 1)[0] for p in parts}):
        if table in TABLES:  # a marker names nothing else; never list outside the dataset
            names.update(f.relative_to(out_dir).as_posix() for f in files.files_under(out_dir / table))
    found = []
    for p in parts:
        folder, _, name = p["path"].rpartition("/")
        for rel in (p["path"], f"{folder}/{staged(Path(name)).name}"):
            if rel in names:
                found.append((p, out_dir / rel))
                break
    return found


def commit_parts(out_dir: Path, name: str, run_id: str, parts: Sequence[dict[str, Any]],
                 supersedes: Sequence[str] = ()) -> bool:
    """Record parts (dicts with `path` relative to `out_dir`, `table`, `rows`, `bytes`) as
    committed under the marker `name`; False when a marker of that name already exists (a replayed
    commit changes nothing). `supersedes` names markers this one replaces (`summarize compact`)."""
    doc = {"run_id": run_id, "committed_at": dt.datetime.now(dt.UTC).isoformat(), "parts": list(parts),
           **({"supersedes": list(supersedes)} if supersedes else {})}
    return files.create_exclusive(out_dir / COMMITS / f"{name}.json", files.json_bytes(doc))


def commit_and_show(out_dir: Path, name: str, run_id: str, parts: Sequence[dict[str, Any]]) -> None:
    """Commit a writer's parts under the marker `name` and rename them into place, unless this
    store holds them back until the run's end (`holds_parts`), whose merge then shows them."""
    commit_parts(out_dir, name, run_id, parts)
    if not holds_parts(out_dir):
        publish(out_dir, parts)


def markers(out: AnyPath) -> list[dict[str, Any]]:
    """Every commit marker of the folder (`_name`: its file name without `.json`)."""
    return [{**m, "_name": f.stem} for f in files.files_under(out / COMMITS, ".json") if (m := files.read_json(f)) is not None]


def live_markers(out: AnyPath) -> list[dict[str, Any]]:
    """The markers that define the dataset: all but those a compaction marker supersedes."""
    every = markers(out)
    gone = {n for m in every for n in m.get("supersedes", [])}
    return [m for m in every if m["_name"] not in gone]


def committed_files(out: AnyPath, table: str) -> list[AnyPath]:
    """The part files of `table` that the dataset holds now (through the live commit markers),
    each under the name it has now: its staging name while an object-store run holds it back."""
    parts = [p for m in live_markers(out) for p in m.get("parts", []) if p.get("table") == table and p.get("path")]
    return sorted(path for _, path in part_files(out, parts))
