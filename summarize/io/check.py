"""`summarize check DIR`: the dataset's contract, tested (in the spirit of dbt's tests and Delta's constraints).

Reads only. Each rule gives a list of violations, each one line:

- `commit`: Parquet: every part a live commit marker lists exists and holds the rows it says, and
  no part, staged part or temporary file lies in a table folder that no marker lists (a reader
  that globs the folder would see it); no superseded marker is left over. Delta: every file of
  each table's current version exists, and no commit marker names a version the table lacks.
- `key`: every table's declared key (`keys.KEYS`) is unique.
- `orphan`: every translation and segment belongs to an article, and to the version of it that
  is there now (the same `run_id`); every segment to a translation.
- `schema`: the files' columns and types are those `dataset.json` declares (Parquet: each part;
  Delta: each table's schema).
- `manifest`: every row's `run_id` has a run manifest, and the latest manifest's counts are the
  rows its batch holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import OutputError
from ..schema import CHILDREN, KEYS, TABLES
from . import files
from .files import AnyPath
from .keys import duplicate_keys
from .outdir import RUNS, _ours, _runs, batch_runs, book, live_markers, markers, read_manifest, uncommitted
from .parts import COMMITS, holds_parts, part_files


@dataclass(frozen=True)
class Violation:
    """One broken rule: which (`commit`, `key`, `orphan`, `schema`, `manifest`), where, and what."""

    rule: str
    table: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.table}: {self.detail}"


def check_dataset(out: AnyPath) -> list[Violation]:
    """Every violation of the dataset's contract in `out` (a folder or an object-store prefix);
    OutputError when it is not a summarize dataset."""
    ds = _ours(out) if files.exists(out) else None
    if ds is None or ds.get("legacy"):
        raise OutputError(f"{out} is not a dataset written by this version of summarize (no {book(out).name}/dataset.json)")
    found: list[Violation] = []
    frames = _delta(out, ds, found) if ds.get("table_format") == "delta" else _parquet(out, ds, found)
    found += _keys(frames)
    found += _manifests(out, frames)
    return found


# ------------------------------------------------------------------------------------ Parquet


def _parquet(out: AnyPath, ds: dict[str, Any], found: list[Violation]) -> dict[str, Any]:
    import polars as pl
    import pyarrow as pa
    import pyarrow.parquet as pq

    live = live_markers(out)
    gone = {m["_name"] for m in markers(out)} - {m["_name"] for m in live}
    for name in sorted(gone):
        found.append(Violation("commit", COMMITS, f"marker {name} is superseded but still there (an interrupted "
                                                  "compaction; `summarize compact` or `--resume` finishes it)"))
    for f in uncommitted(out):
        rel = f.relative_to(out).as_posix()
        what = "a staged part" if f.name.endswith(".staged") else "a temporary file" if ".tmp-" in f.name else "a part"
        found.append(Violation("commit", rel.split("/")[0], f"{rel} is {what} no commit marker lists"))
    declared = ds.get("tables", {})
    frames: dict[str, list[Any]] = {t: [] for t in TABLES}
    # Where each listed part is now, from one listing per table folder.
    now = {id(p): path for p, path in part_files(out, (p for m in live for p in m.get("parts", [])))}
    for m in live:
        for p in m.get("parts", []):
            table, rel = p.get("table", ""), p.get("path", "")
            path = now.get(id(p))
            hidden = path is not None and path != out / rel
            if path is None or (hidden and not holds_parts(out)):  # held back until its run's end: read
                note = " (committed, still under its staging name)" if hidden else ""
                found.append(Violation("commit", table, f"{rel}: listed by marker {m['_name']} but missing{note}"))
                continue
            data = pq.read_table(pa.BufferReader(path.read_bytes()) if files.is_remote(path) else path)
            if data.num_rows != p.get("rows", data.num_rows):
                found.append(Violation("commit", table, f"{rel}: {data.num_rows} rows, marker {m['_name']} says {p['rows']}"))
            want = [(c["name"], c["type"]) for c in declared.get(table, {}).get("columns", [])]
            have = [(f.name, _type(f.type)) for f in data.schema]
            if want and have != want:
                found.append(Violation("schema", table, f"{rel}: columns {_diff(want, have)}"))
            frame = pl.from_arrow(data)
            assert isinstance(frame, pl.DataFrame)
            # Hive partition values live in the path: the keys need them back.
            for seg in rel.split("/")[1:-1]:
                key, sep, value = seg.partition("=")
                if sep and key not in frame.columns:
                    frame = frame.with_columns(pl.lit(value).alias(key))
            frames.setdefault(table, []).append(frame.select([c for c in frame.columns if c in _needed(table)]))
    return {t: _concat(t, parts) for t, parts in frames.items()}


def _type(t: Any) -> str:
    """An Arrow type as `dataset.json` spells it (a list's item is named `element` in Parquet)."""
    return str(t).replace("list<element: ", "list<item: ")


def _needed(table: str) -> set[str]:
    return {*KEYS[table], "run_id", "status"}


def _concat(table: str, parts: list[Any]) -> Any:
    import polars as pl

    if not parts:
        return pl.DataFrame(schema={c: (pl.Int64 if c == "line" else pl.String) for c in KEYS[table] + ("run_id",)})
    return pl.concat(parts, how="diagonal_relaxed")


def _diff(want: list[tuple[str, str]], have: list[tuple[str, str]]) -> str:
    w, h = dict(want), dict(have)
    bits = [f"missing {n}" for n in w if n not in h]
    bits += [f"extra {n}" for n in h if n not in w]
    bits += [f"{n} is {h[n]}, declared {w[n]}" for n in w if n in h and h[n] != w[n]]
    return "; ".join(bits) or "in another order than declared"


# -------------------------------------------------------------------------------------- Delta


def _delta(out: AnyPath, ds: dict[str, Any], found: list[Violation]) -> dict[str, Any]:
    import polars as pl
    from deltalake import DeltaTable

    from .delta import delta_options

    options = delta_options(files.storage_options(), files.uri(out)) if files.is_remote(out) else None
    frames: dict[str, Any] = {}
    versions: dict[str, int] = {}
    for t in TABLES:
        if not files.is_delta(out / t):
            found.append(Violation("commit", t, "no Delta table"))
            frames[t] = _concat(t, [])
            continue
        table = DeltaTable(files.uri(out / t), storage_options=options)
        versions[t] = table.version()
        missing = [u for u in table.file_uris() if not files.exists(files.as_path(u))]
        for u in missing:
            found.append(Violation("commit", t, f"{u}: in version {versions[t]} but missing"))
        if missing:
            frames[t] = _concat(t, [])
            continue
        schema = table.to_pyarrow_dataset().schema
        want = [(c["name"], c["type"]) for c in ds.get("tables", {}).get(t, {}).get("columns", [])]
        have = {f.name: _type(f.type) for f in schema}
        bad = [f"missing {n}" for n, _ in want if n not in have] + [
            f"{n} is {have[n]}, declared {typ}" for n, typ in want if n in have and have[n] != typ]
        if bad:
            found.append(Violation("schema", t, "; ".join(bad)))
        frames[t] = pl.scan_delta(files.uri(out / t), storage_options=options).select(
            [c for c in schema.names if c in _needed(t)]).collect()
    for m in live_markers(out):
        for p in m.get("parts", []):
            t, v = p.get("table", ""), p.get("delta_version")
            if v is not None and t in versions and v > versions[t]:
                found.append(Violation("commit", t, f"marker {m['_name']} names version {v}, the table is at {versions[t]}"))
    return frames


# ------------------------------------------------------------------------------ keys, children


def _keys(frames: dict[str, Any]) -> list[Violation]:
    import polars as pl

    found = []
    for t, frame in frames.items():
        keys = KEYS[t]
        if not frame.height or any(k not in frame.columns for k in keys):
            continue
        dups = duplicate_keys(frame, t)
        for row in dups.head(20).iter_rows(named=True):
            key = ", ".join(f"{k}={row[k]!r}" for k in keys)
            found.append(Violation("key", t, f"({key}) occurs {row['n']} times"))
        if dups.height > 20:
            found.append(Violation("key", t, f"... {dups.height - 20} more duplicate keys"))
    arts = frames["articles"].select("id", pl.col("run_id").alias("article_run"))
    for t in CHILDREN:
        child = frames[t]
        if not child.height:
            continue
        joined = child.select("id", "run_id").unique().join(arts, on="id", how="left")
        for row in joined.filter(pl.col("article_run").is_null()).head(20).iter_rows(named=True):
            found.append(Violation("orphan", t, f"id {row['id']!r} has no article"))
        stale = joined.filter(pl.col("article_run").is_not_null() & (pl.col("article_run") != pl.col("run_id")))
        for row in stale.head(20).iter_rows(named=True):
            found.append(Violation("orphan", t, f"id {row['id']!r}: rows of run {row['run_id']}, its article is of run "
                                                f"{row['article_run']} (a stale version)"))
    seg, tr = frames["segments"], frames["translations"]
    if seg.height:
        lost = seg.select("id", "field", "target_lang").unique().join(
            tr.select("id", "field", "target_lang"), on=["id", "field", "target_lang"], how="anti")
        for row in lost.head(20).iter_rows(named=True):
            found.append(Violation("orphan", "segments", f"({row['id']!r}, {row['field']}, {row['target_lang']}) "
                                                         "has no translation"))
    return found


def _manifests(out: AnyPath, frames: dict[str, Any]) -> list[Violation]:
    import polars as pl

    found = []
    known = {str(r.get("run_id")) for r in _runs(out)}
    for t, frame in frames.items():
        if "run_id" not in frame.columns or not frame.height:
            continue
        for run in sorted(set(frame["run_id"].unique().to_list()) - known):
            found.append(Violation("manifest", t, f"rows of run {run}, which has no manifest in {book(out).name}/{RUNS}/"))
    latest = read_manifest(out)
    if latest.get("state") == "done" and latest.get("identity") and "counts" in latest:
        runs = batch_runs(out, latest["identity"]) | {str(latest.get("run_id"))}
        arts = frames["articles"]
        held = arts.filter(pl.col("run_id").is_in(sorted(runs))).height if arts.height else 0
        said = sum(int(v) for v in latest["counts"].values())
        if said != held:
            found.append(Violation("manifest", "articles", f"run.json (run {latest.get('run_id')}) counts {said} "
                                                           f"articles, the tables hold {held} of its batch"))
    return found
