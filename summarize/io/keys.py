"""The declared keys of the output tables, and the checks that keep them unique across runs.

Every table has a key: `articles` the article `id`; `translations` (id, field, target_lang);
`segments` (id, field, target_lang, seg_index); `rejects` (source, line) plus the fingerprint
of the input the record came from (`input_hash`), so a replayed batch replaces its rejects
instead of adding them again. A child row (translations, segments) belongs to the article of
its id, and to the version of it that the same run wrote.

A duplicate id in a batch is settled by `--on-duplicate-id` (`first`, `last`, `error`); under
the default `all`, a keyed output rejects the later record, naming the first. A batch that adds to a
dataset (`--append`, `--upsert`) is scanned for its ids before any model loads (`scan_ids`): its
unsettled duplicates are refused, and an `--append` of ids the dataset already holds is refused
(Delta's `--upsert` replaces them instead). `last` scans too, to know which version is last.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..errors import OutputError, UsageError
from ..options import OnDuplicate, ReadOptions
from ..schema import KEYS, Article
from . import files
from .delta import delta_options
from .files import AnyPath
from .outdir import _ours, live_markers
from .read import STDIN, read_records


@dataclass(frozen=True)
class IdScan:
    """The article ids of a batch with where each occurs, in input order.

    Attributes:
        ids: Each id with the (source, line) of every record that carries it.
        scanned: False when an input (stdin) could not be read ahead, so `ids` is empty.
    """

    ids: dict[str, list[tuple[str, int]]]
    scanned: bool = True

    @property
    def duplicates(self) -> dict[str, list[tuple[str, int]]]:
        return {i: pos for i, pos in self.ids.items() if len(pos) > 1}

    def superseded(self) -> frozenset[tuple[str, int]]:
        """Positions of the records a later record of the same id replaces (`last`)."""
        return frozenset(p for pos in self.duplicates.values() for p in pos[:-1])


def scan_ids(inputs: Sequence[str], options: ReadOptions) -> IdScan:
    """Read the batch once for its ids only (the records are parsed, nothing is kept)."""
    if STDIN in inputs:
        if options.on_duplicate_id == "last":
            raise UsageError("--on-duplicate-id last reads the input twice to find each id's last version; it cannot "
                             "read stdin (-): save the input to a file")
        return IdScan({}, scanned=False)
    ids: dict[str, list[tuple[str, int]]] = {}
    for rec in read_records(inputs, replace(options, on_duplicate_id=OnDuplicate.all)):
        if isinstance(rec, Article):
            ids.setdefault(rec.id, []).append((rec.source, rec.line))
    return IdScan(ids)


def check_batch(scan: IdScan, options: ReadOptions) -> None:
    """Refuse (UsageError, exit 2) a batch whose duplicate ids `--on-duplicate-id` does not resolve."""
    dups = scan.duplicates
    if not dups or options.on_duplicate_id != "all":
        return
    rid, pos = next(iter(dups.items()))
    where = " and ".join(f"{s}:{n}" for s, n in pos[:2])
    raise UsageError(f"{len(dups)} id(s) occur more than once in this batch (e.g. {rid!r} at {where}); the tables are "
                     "keyed by article id: choose --on-duplicate-id last (the last version wins), first, or error")


def dataset_ids(out: AnyPath, table_format: str) -> set[str]:
    """The article ids a dataset holds now (Parquet: through its live commit markers)."""
    import polars as pl

    if table_format == "delta":
        if not files.is_delta(out / "articles"):
            return set()
        from .tables import read_delta

        return set(read_delta(out / "articles").get_column("id").to_list())
    found: set[str] = set()
    for m in live_markers(out):
        for p in m.get("parts", []):
            if p.get("table") == "articles" and p.get("rows", 1):
                df = pl.read_parquet(files.source(out / p["path"]), columns=["id"], hive_partitioning=False)
                found.update(df["id"].to_list())
    return found


def check_new_ids(out: AnyPath, scan: IdScan, table_format: str, *, upsert: bool) -> None:
    """Refuse (OutputError, exit 2) an `--append` of ids the dataset already holds; an upsert
    replaces them, so it passes. Reads the dataset only."""
    if upsert or not scan.ids:
        return
    held = dataset_ids(out, table_format) & set(scan.ids)
    if not held:
        return
    example = sorted(held)[0]
    src, line = scan.ids[example][0]
    fix = ("rerun with --upsert to replace them" if table_format == "delta" else
           "Parquet keeps one version per article: write corrections to a Delta dataset "
           "(--table-format delta) with --upsert, or drop those records")
    raise OutputError(f"--out {out} already holds {len(held)} of this batch's article ids (e.g. {example!r}, "
                      f"{src}:{line}); {fix}")


def duplicate_keys(frame: Any, table: str) -> Any:
    """The key values of `frame` (a Polars frame of `table`) that occur more than once, with a count."""
    import polars as pl

    keys = [k for k in KEYS[table] if k in frame.columns]
    return frame.group_by(keys).agg(pl.len().alias("n")).filter(pl.col("n") > 1)


def prepare(inputs: Sequence[str], options: ReadOptions, *, keyed: bool, adds: bool = False) -> IdScan | None:
    """The batch's ids, scanned before any model loads where they are needed before the first
    record is written, else None (the input is then read once, as the run goes):

    - `--on-duplicate-id last`: a record is written only if no later record has its id;
    - a keyed output that `adds` to a dataset (`--append`, `--upsert`): its ids are checked
      against the dataset, and duplicates that `--on-duplicate-id` does not settle are refused
      before anything is written.

    A fresh run or a resume rejects a duplicate id as it reads it (`read_records(keyed=True)`),
    so its start does not grow with the input.
    """
    if options.on_duplicate_id != "last" and not (keyed and adds):
        return None
    scan = scan_ids(inputs, options)
    if keyed:
        check_batch(scan, options)
    return scan


def kept_types(out: AnyPath) -> dict[str, Any]:
    """The Arrow types of the kept columns a dataset holds (empty when there is none yet)."""
    ds = _ours(out) if files.exists(out) else None
    names = [k["name"] for k in (ds or {}).get("kept", [])]
    if not names or (ds or {}).get("legacy"):
        return {}
    schema = None
    if ds and ds.get("table_format") == "delta":
        if files.is_delta(out / "articles"):
            from deltalake import DeltaTable


            opts = delta_options(files.storage_options(), files.uri(out)) if files.is_remote(out) else None
            schema = DeltaTable(files.uri(out / "articles"), storage_options=opts).to_pyarrow_dataset().schema
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        parts = [out / p["path"] for m in live_markers(out) for p in m.get("parts", []) if p.get("table") == "articles"]
        if parts:
            schema = pq.read_schema(pa.BufferReader(parts[0].read_bytes()) if files.is_remote(out) else parts[0])
    if schema is None:
        return {}
    return {n: schema.field(n).type for n in names if n in schema.names}
