"""The output folder as a dataset: what it holds, who may write it, and its bookkeeping.

Bookkeeping lives in `OUT/_summarize/` (no file there is named `*.parquet` but for `swap/`):

    lock                 the writer's pid, host, start time and run id (see `lock.py`)
    dataset.json         tool, schema version, the declared schema (kept columns with their
                         types), partition_by, the first run and the run identity
    runs/<run_id>.json   each run's manifest (`OUT/run.json` is a copy of the latest)
    commits/<name>.json  one marker per committed shard, listing its part files
    swap/                for the moment of a merge's folder switch only (see `merge.py`): a table
                         folder's next or previous contents, the one place Parquet files appear here

`check_out` decides, reading only, whether a command may use the folder (so a refused command
changes nothing); `Dataset.open` then takes the lock, re-checks under it, and prepares the folder
(replace for `--overwrite`, drop uncommitted parts for `--resume`). `Dataset.rollback` undoes
a run that failed before its first commit, so the folder is runnable again without `--overwrite`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import OutputError
from ..options import TableFormat
from ..schema import BOOKKEEPING, SCHEMA_VERSION, TABLES
from . import files
from .identity import identity_diff
from .lock import LOCK, Lock, holder_of, is_stale, lock_age, refusal
from .memory import folder as memory_folder
from .memory import memory_files
from .parts import (
    COMMITS,
    PART_PREFIX,
    STAGED,
    holds_parts,
    live_markers,
    markers,
    part_files,
    publish,
    staged,
)

log = logging.getLogger(__name__)

DATASET = "dataset.json"
RUNS = "runs"
SWAP = "swap"
LEGACY_COMMITS = "_commits"  # the layout before schema 2.0: recognised for --overwrite only


def book(out: Path) -> Path:
    """The bookkeeping folder of an output folder."""
    return out / BOOKKEEPING


# ------------------------------------------------------------------------------------ the folder


@dataclass
class Existing:
    """What an output folder already holds, for `--resume`.

    Attributes:
        articles: (id, content_hash) of every committed article, with a count.
        rejects: (source, line) of every committed reject.
        options_hashes: The `options_hash` values found.
        removed: Uncommitted part files deleted (a killed run's half shard).
        aliases: Input names now -> as the first run spelled them (same content).
    """

    articles: dict[tuple[str, str], int]
    rejects: set[tuple[str, int]]
    options_hashes: set[str]
    removed: list[str]
    aliases: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OutputPlan:
    """What `check_out` found and what the run will do: `new`, `resume` or `replace`."""

    out: Path
    action: str
    existed: bool
    dataset: dict[str, Any] | None


def _ours(out: Path) -> dict[str, Any] | None:
    """The folder's dataset.json, or a stand-in for a legacy folder (run.json by summarize)."""
    doc = files.read_json(book(out) / DATASET)
    if doc is not None and doc.get("tool") == "summarize":
        return doc
    legacy = files.read_json(out / "run.json")
    if legacy is not None and legacy.get("tool") == "summarize":
        return {"tool": "summarize", "schema_version": legacy.get("schema_version"), "legacy": True}
    return None


def _only_lock(out: Path) -> bool:
    # A folder holding nothing but a lock (ours, just taken) is as good as empty.
    if files.is_remote(out):
        rest = [f for f in files.files_under(out) if f != book(out) / "lock"]
        return not rest
    entries = list(out.iterdir())
    return not entries or (entries == [book(out)] and {p.name for p in book(out).iterdir()} <= {"lock"})


def check_out(out: Path, *, overwrite: bool, resume: bool, ident: dict[str, Any], me: str | None = None,
              append: bool = False, allow_duplicate: bool = False, declared: dict[str, Any] | None = None,
              table_format: str = "parquet") -> OutputPlan:
    """Decide, reading only, whether this run may use `out` and how; raise OutputError (exit 2) if not.

    `me` is the run id of a caller that already holds the lock. With `append`, an existing dataset
    takes a new run (`append`) when its declared schema fits and it does not already hold the inputs.
    """
    if not files.is_remote(out) and out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} exists and is not a folder")
    if not files.exists(out) or _only_lock(out):
        return OutputPlan(out, "new", files.exists(out), None)
    ds = _ours(out)
    holder = holder_of(book(out))
    if holder is not None and holder.get("run_id") != me and not is_stale(holder, lock_age(book(out))):
        raise OutputError(refusal(holder, book(out) / LOCK, str(out), lock_age(book(out))))
    if ds is None:
        what = "is not empty and was not written by summarize"
        if overwrite:
            raise OutputError(f"--out {out} {what} (no {BOOKKEEPING}/{DATASET}): --overwrite replaces only a summarize "
                              "output; nothing was deleted, choose another folder")
        raise OutputError(f"--out {out} {what}; choose an empty or new folder")
    if overwrite:
        return OutputPlan(out, "replace", True, ds)
    if not ds.get("legacy") and not markers(out):
        return OutputPlan(out, "replace", True, ds)  # only the bookkeeping of a run that committed nothing
    # `--append --resume`: continue this batch if it is the one the dataset was last given, else append it.
    if append and (not resume or identity_diff(ds.get("identity", {}), ident)):
        check_append(out, ds, ident, declared or {}, table_format, allow_duplicate=allow_duplicate, me=me)
        return OutputPlan(out, "append", True, ds)
    if not resume:
        raise OutputError(f"--out {out} is not empty; use --resume to continue the run there, --append to add a run to it, or --overwrite to replace it")
    if ds.get("legacy") or ds.get("schema_version") != SCHEMA_VERSION:
        raise OutputError(f"--out {out} was written by another version of summarize (schema "
                          f"{ds.get('schema_version')}, now {SCHEMA_VERSION}) and cannot be resumed; use --overwrite")
    if ds.get("table_format", "parquet") != table_format:
        raise OutputError(f"--out {out} holds {ds.get('table_format', 'parquet')} tables; resume it with "
                          f"--table-format {ds.get('table_format', 'parquet')}")
    diffs = identity_diff(ds.get("identity", {}), ident)
    if diffs:
        opts = any(d.startswith("option ") for d in diffs)
        raise OutputError(
            f"--out {out} holds a run made with {'different options' if opts else 'different inputs'}: {'; '.join(diffs)}; "
            "rerun with the same inputs and options, or use --overwrite to replace it"
        )
    return OutputPlan(out, "resume", True, ds)


def _runs(out: Path) -> list[dict[str, Any]]:
    """Every run manifest of the dataset, oldest first."""
    docs = [d for f in files.files_under(book(out) / RUNS, ".json") if (d := files.read_json(f)) is not None]
    return sorted(docs, key=lambda d: str(d.get("run_id", "")))


def check_append(out: Path, ds: dict[str, Any], ident: dict[str, Any], declared: dict[str, Any], table_format: str,
                 *, allow_duplicate: bool, me: str | None = None) -> None:
    """Refuse (OutputError) an `--append` whose schema, layout or input does not fit the dataset."""
    if ds.get("legacy") or ds.get("schema_version") != SCHEMA_VERSION:
        raise OutputError(f"--out {out} was written by another version of summarize (schema "
                          f"{ds.get('schema_version')}, now {SCHEMA_VERSION}); --append needs the same schema version")
    if ds.get("table_format", "parquet") != table_format:
        raise OutputError(f"--out {out} holds {ds.get('table_format', 'parquet')} tables; this run asks for "
                          f"--table-format {table_format}")
    if list(ds.get("partition_by", [])) != list(declared.get("partition_by", [])):
        raise OutputError(f"--out {out} is partitioned by {ds.get('partition_by') or 'nothing'}; this run by "
                          f"{declared.get('partition_by') or 'nothing'}: --append needs the same --partition-by")
    old = {k["name"]: k["type"] for k in ds.get("kept", [])}
    new = {k["name"]: k["type"] for k in declared.get("kept", [])}
    for name, typ in new.items():
        if name in old and old[name] != typ:
            raise OutputError(f"--out {out}: kept column {name} is {old[name]} in the dataset, {typ} "
                              "in this run; give it the same type (--keep-col NAME:TYPE)")
    if table_format == "parquet" and set(old) != set(new):
        # Parquet files carry their own schema, and readers disagree on files whose columns
        # differ (pyarrow takes the first file's, Polars refuses the others): one schema per
        # dataset. A Delta log records a schema change, so every Delta reader sees the same.
        added, dropped = sorted(set(new) - set(old)), sorted(set(old) - set(new))
        what = "; ".join(s for s in (f"adds {', '.join(added)}" if added else "",
                                     f"drops {', '.join(dropped)}" if dropped else "") if s)
        raise OutputError(f"--out {out}: this run's kept columns differ from the dataset's ({what}); a Parquet "
                          f"dataset keeps one schema: give --keep-col {' '.join(old) or '(none)'} as before, or "
                          "write to a Delta dataset (--table-format delta), whose log records schema changes")
    if allow_duplicate:
        return
    held = {(i["size"], i["blake2b"]): (r.get("run_id"), i["name"]) for r in _runs(out) if r.get("run_id") != me
            and r.get("commits", 1) for i in r.get("identity", {}).get("inputs", []) if i.get("blake2b")}
    for i in ident.get("inputs", []):
        if (i.get("size"), i.get("blake2b")) in held:
            run, name = held[(i["size"], i["blake2b"])]
            raise OutputError(f"--out {out} already holds input {i['name']} (same content as {name}, run {run}); "
                              "use --allow-duplicate-batch to append it again")


def appended(ds: dict[str, Any], run_id: str, ident: dict[str, Any], declared: dict[str, Any]) -> dict[str, Any]:
    """dataset.json after an `--append`: new kept columns added (nullable, recorded in
    `schema_history`), and this run's identity as the one a `--resume` continues."""
    doc = dict(ds)
    known = {k["name"] for k in doc.get("kept", [])}
    added = [k for k in declared.get("kept", []) if k["name"] not in known]
    history = list(doc.get("schema_history", []))
    if added:
        doc["kept"] = [*doc.get("kept", []), *added]
        cols = {c["name"]: c for c in declared["tables"]["articles"]["columns"]}
        tables = dict(doc.get("tables", {}))
        arts = dict(tables.get("articles", {}))
        arts["columns"] = [*arts.get("columns", []), *({**cols[k["name"]], "nullable": True} for k in added)]
        tables["articles"] = arts
        doc["tables"] = tables
        history.append({"run_id": run_id, "added_columns": added})
    doc["schema_history"] = history
    doc["batches"] = [*doc.get("batches", []), run_id]
    doc["identity"] = ident
    return doc


def _replace(out: Path) -> None:
    """Delete what summarize wrote in `out` (never other files), keeping the lock."""
    for m in markers(out):
        for part in m.get("parts", []):
            _remove_part(out, part.get("path", ""))
    for t in TABLES:
        if files.is_delta(out / t):  # a Delta table: all of it is ours
            files.remove_tree(out / t)
            continue
        for f in files.files_under(out / t):
            if (f.name.startswith(PART_PREFIX) and f.suffix == ".parquet") or ".tmp-" in f.name or f.name.endswith(STAGED):
                files.remove(f)
        files.remove_empty_dirs(out / t)
    for name in ("run.json", "wide.parquet"):
        files.remove(out / name)
    for sub in (COMMITS, f"{BOOKKEEPING}/{RUNS}", LEGACY_COMMITS):
        files.remove_tree(out / sub)
    files.remove(book(out) / DATASET)


def _remove_part(out: Path, rel: str) -> None:
    """Delete a listed part, under its final name and its staging name (a part held back)."""
    if files.is_remote(out):  # no symlinks on an object store; a marker never names ../
        if rel and ".." not in rel.split("/"):
            files.remove(out / rel)
            files.remove(staged(out / rel))
        return
    p = (out / rel).resolve()
    if out.resolve() in p.parents:  # a marker never names a file outside the folder
        files.remove(p)
        files.remove(staged(p))


def batch_runs(out: Path, ident: dict[str, Any]) -> set[str]:
    """The run ids that wrote the batch with identity `ident` (a run and its resumes)."""
    # By content, as `identity_diff` compares: the same file spelled another way is the same batch.
    return {str(r.get("run_id")) for r in _runs(out) if r.get("identity") and not identity_diff(r["identity"], ident)}


def committed_state(out: Path, runs: set[str] | None = None) -> Existing:
    """Remove uncommitted parts (a killed run's half shard) and read what the folder holds.

    Articles are keyed by (id, content_hash) with a count, so identical duplicates in the
    input are also resumed exactly once each. With `runs`, only those runs' articles and rejects
    count (an appended batch resumes against itself, not against earlier batches).
    """
    import polars as pl

    removed = settle(out)
    committed: dict[str, list[Path]] = {t: [] for t in TABLES}
    for part, path in part_files(out, (p for m in live_markers(out) for p in m.get("parts", []))):
        committed.setdefault(part.get("table", ""), []).append(path)
    articles: dict[tuple[str, str], int] = {}
    hashes: set[str] = set()
    for f in sorted(committed["articles"]):
        df = pl.read_parquet(files.source(f), columns=["id", "content_hash", "options_hash", "run_id"], hive_partitioning=False)
        if runs is not None:  # rows keep their run_id, also in a compacted part spanning runs
            df = df.filter(pl.col("run_id").is_in(sorted(runs)))
        hashes.update(h for h in df["options_hash"].unique().to_list() if h)
        for rid, ch in zip(df["id"].to_list(), df["content_hash"].to_list(), strict=True):
            articles[(rid, ch)] = articles.get((rid, ch), 0) + 1
    rejects: set[tuple[str, int]] = set()
    for f in sorted(committed["rejects"]):
        df = pl.read_parquet(files.source(f), columns=["source", "line", "run_id"], hive_partitioning=False)
        if runs is not None:
            df = df.filter(pl.col("run_id").is_in(sorted(runs)))
        rejects.update(zip(df["source"].to_list(), df["line"].to_list(), strict=True))
    return Existing(articles, rejects, hashes, removed)


def drop_superseded(out: Path) -> None:
    """Delete superseded markers' part files (unless a live marker lists them) and the markers."""
    every = markers(out)
    live = {m["_name"] for m in live_markers(out)}
    listed = {p["path"] for m in every if m["_name"] in live for p in m.get("parts", [])}
    for m in every:
        if m["_name"] in live:
            continue
        for p in m.get("parts", []):
            if p["path"] not in listed:
                _remove_part(out, p["path"])
        files.remove(out / COMMITS / f"{m['_name']}.json")


def uncommitted(out: Path) -> list[Path]:
    """Files in a Parquet dataset's table folders that no live marker accounts for: parts no
    marker lists, staged parts (hidden) of no committed part, and temporary files of an
    interrupted write."""
    listed = {out / p["path"] for m in live_markers(out) for p in m.get("parts", [])}
    present = [f for t in TABLES for f in files.files_under(out / t)]
    # A committed part held under its staging name counts; a staging copy left beside its
    # published file (an object store's rename is a copy, then a delete) does not.
    listed |= {staged(f) for f in listed - set(present)}
    found = []
    for f in present:
        ours = (f.name.startswith(PART_PREFIX) and f.suffix == ".parquet") or f.name.endswith(STAGED)
        if (ours and f not in listed) or ".tmp-" in f.name:
            found.append(f)
    return found


def settle(out: Path) -> list[str]:
    """Finish what an interrupted writer left in a Parquet dataset (under the lock): superseded
    markers and their parts go, committed parts still under their staging names are renamed
    into place (on a local disk; an object store holds them back for the next end-of-run merge,
    see `parts.holds_parts`), and every uncommitted file is deleted; the deleted files' paths."""
    if not files.is_remote(out):
        files.remove_tree(book(out) / SWAP)  # a merge killed mid-switch: its spare folder
    drop_superseded(out)
    if not holds_parts(out):
        for m in live_markers(out):
            publish(out, m.get("parts", []))
    removed = []
    for f in uncommitted(out):
        files.remove(f)
        removed.append(f.relative_to(out).as_posix())
    return removed


@dataclass
class Dataset:
    """An output folder opened for writing by one run: the lock is held until `release`."""

    out: Path
    run_id: str
    lock: Lock
    created: bool  # this run made the dataset (so a rollback removes it all)
    out_created: bool
    existing: Existing | None = None
    before_append: dict[str, Any] | None = None  # dataset.json as it was, restored by a rollback

    @classmethod
    def open(cls, plan: OutputPlan, run_id: str, *, overwrite: bool, resume: bool, ident: dict[str, Any],
             declared: dict[str, Any], append: bool = False, allow_duplicate: bool = False,
             table_format: str = "parquet") -> Dataset:
        """Take the lock, re-check the folder under it, and prepare it for this run."""
        out = plan.out
        out_created = not files.exists(out)
        try:
            lock = Lock.acquire(book(out), run_id, str(out))
        except OSError as exc:
            raise OutputError(f"cannot write to --out {out}: {exc.strerror or exc}") from exc
        try:
            # Another run may have finished between the first check and the lock.
            plan = check_out(out, overwrite=overwrite, resume=resume, ident=ident, me=run_id, append=append,
                             allow_duplicate=allow_duplicate, declared=declared, table_format=table_format)
            existing: Existing | None = None
            if plan.action == "replace":
                _replace(out)
            elif plan.action == "resume":
                ds = plan.dataset or {}
                runs = batch_runs(out, ident) if ds.get("batches") else None
                existing = committed_state(out, runs) if table_format == TableFormat.parquet else Existing({}, set(), set(), [])
                if existing.removed:
                    log.warning("removed %d incomplete part files of an interrupted run", len(existing.removed))
                old = [i["name"] for i in (plan.dataset or {}).get("identity", {}).get("inputs", [])]
                existing.aliases = {n["name"]: o for n, o in zip(ident["inputs"], old, strict=False) if n["name"] != o}
            files.mkdir(book(out) / RUNS)
            if plan.action == "append":
                files.write_json(book(out) / DATASET, appended(plan.dataset or {}, run_id, ident, declared))
            elif plan.action != "resume":
                files.write_json(book(out) / DATASET, {"tool": "summarize", "schema_version": SCHEMA_VERSION,
                                                       "first_run": run_id, **declared, "table_format": table_format,
                                                       "batches": [run_id], "schema_history": [], "identity": ident})
        except BaseException:
            lock.release()
            # Only empty folders go: another run may have filled `out` since it was found missing.
            files.remove_empty_dirs(book(out))
            if out_created:
                files.remove_empty_dirs(out)
            raise
        return cls(out, run_id, lock, plan.action not in ("resume", "append"), out_created, existing,
                   plan.dataset if plan.action == "append" else None)

    def write_manifest(self, doc: dict[str, Any], *, latest: bool) -> None:
        """This run's manifest in `runs/`; with `latest`, also as `OUT/run.json`."""
        if self.lock.lost is not None:
            return  # another run took the lock over: the dataset is that run's now
        files.write_json(book(self.out) / RUNS / f"{self.run_id}.json", doc)
        if latest:
            files.write_json(self.out / "run.json", doc)

    def rollback(self) -> None:
        """Undo a run that committed nothing: its manifest, and a dataset it created itself."""
        if self.lock.lost is not None:
            return self.release()  # not ours to undo any more
        files.remove(book(self.out) / RUNS / f"{self.run_id}.json")
        for f in memory_files(self.out):  # what this run stored ahead of a commit that never came
            if f.name.startswith(f"{self.run_id}-"):
                files.remove(f)
        files.remove_empty_dirs(memory_folder(self.out))
        if self.before_append is not None:
            files.write_json(book(self.out) / DATASET, self.before_append)
        if self.created:
            _replace(self.out)
            for t in TABLES:
                files.remove_empty_dirs(self.out / t)
        self.release()
        files.remove_empty_dirs(book(self.out))
        if self.out_created:
            files.remove_empty_dirs(self.out)

    def release(self) -> None:
        self.lock.release()


def read_manifest(out: Path) -> dict[str, Any]:
    """The folder's `run.json` as a dict; empty when there is none or it cannot be read."""
    return files.read_json(out / "run.json") or {}
