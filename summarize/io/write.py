"""Writing a run's tables: Parquet part files, commit markers, the JSONL stream, wide and detect files.

Each shard's rows become part files (`OUT/<table>/[partition folders/]part-<run>-<shard>.parquet`),
first written under a hidden staging name (`.part-....parquet.staged`: a leading dot and no
`.parquet` ending, so neither a `**/*.parquet` glob nor pyarrow, Polars or DuckDB reading the
folder sees it). Once every part of a shard is staged, a commit marker
`OUT/_summarize/commits/<run>-<shard>.json` lists them (path, table, rows, bytes); it is created
only if absent, and is the commit. Then the staged parts are renamed to their listed names (on an
object store only at the run's end, by its merge: `holds_parts`). A staged part that no marker lists
is not part of the dataset, and one that a marker lists is part of it: renamed into place by whoever
finds it on a local disk (`outdir.settle`, on `--resume`, `compact`), read under its staging name
meanwhile by summarize's readers (`part_files`). The marker is
written by whoever commits (the driver), so parts may also be staged by other processes (Ray
workers) and committed by listing them with `commit_parts`.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import OutputError, UsageError
from ..schema import PARTITIONS, SCHEMA_VERSION, TABLES, ArticleResult, Reject
from ..version import __version__
from . import files
from .files import AnyPath, atomic_write_bytes, write_json
from .parts import COMMITS, PART_PREFIX, STAGED, commit_and_show, commit_parts, staged
from .read import STDIN
from .tables import (
    Kept,
    arrow_table,
    article_rows,
    check_shard_keys,
    partition_columns,
    partition_lang,
    read_table,
    reject_rows,
)


def file_metadata(run_id: str, table: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The key-value metadata every Parquet file the tool writes carries."""
    return {"schema_version": SCHEMA_VERSION, "run_id": run_id, "tool": "summarize", "tool_version": __version__,
            "table": table, **(extra or {})}


def write_parquet(table: Any, path: Path, metadata: dict[str, str]) -> int:
    """Write a pyarrow Table as one Parquet file, atomically, with key-value metadata; its size."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           **{k.encode(): v.encode() for k, v in metadata.items()}})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    data = sink.getvalue().to_pybytes()
    atomic_write_bytes(path, data)
    return len(data)


@dataclass
class TableWriter:
    """What every writer of a run's tables into `out_dir` (a folder or an object-store prefix) is
    given: the run, its options hash, the kept columns, the file metadata and the partitioning."""

    out_dir: AnyPath
    run_id: str
    options_hash: str
    kept: tuple[Kept, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)
    partition_by: tuple[str, ...] = ()
    input_hashes: dict[str, str] = field(default_factory=dict)  # input name -> BLAKE2b (the rejects' key)


@dataclass
class RunWriter(TableWriter):
    """Writes a run's tables as part files, one per shard, table and partition, then commits them.

    With `partition_by`, parts go into Hive-style folders built only from validated values
    (`articles/lang=de/date=2026-10-14/part-...parquet`); the partitioned column then lives in the
    path, as Hive readers expect.
    """

    shard: int = 0
    commits: int = 0
    written: dict[str, int] = field(default_factory=lambda: {t: 0 for t in TABLES})

    def __post_init__(self) -> None:
        bad = [p for p in self.partition_by if p not in PARTITIONS]
        if bad:
            raise UsageError(f"--partition-by takes {', '.join(PARTITIONS)}; not {', '.join(bad)}")
        try:
            for t in TABLES:
                files.mkdir(self.out_dir / t)
            files.mkdir(self.out_dir / COMMITS)
        except OSError as exc:
            raise OutputError(f"cannot write to {self.out_dir}: {exc.strerror or exc}") from exc

    def part_name(self, shard: int | str) -> str:
        tag = f"{shard:05d}" if isinstance(shard, int) else shard
        return f"{PART_PREFIX}{self.run_id[-8:]}-{tag}.parquet"

    def _folder(self, table: str, row: dict[str, Any]) -> tuple[str, ...]:
        if table == "rejects":
            return ()
        key: list[str] = []
        for p in self.partition_by:
            if p == "lang":
                col = PARTITIONS["lang"][0][table]
                key.append(f"{col}={partition_lang(row[col])}")
            else:
                key.append(f"date={row['_date']}")
        return tuple(key)

    def _write_table(self, table: str, rows: list[dict[str, Any]], tag: int | str) -> list[dict[str, Any]]:
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            groups.setdefault(self._folder(table, row), []).append(row)
        drop = partition_columns(table, self.partition_by) if table != "rejects" else []
        parts = []
        for key, part_rows in groups.items():
            folder = self.out_dir.joinpath(table, *key)
            files.mkdir(folder)
            path = folder / self.part_name(tag)
            data = arrow_table(table, part_rows, self.kept if table == "articles" else (), drop=drop)
            size = write_parquet(data, staged(path), {**self.metadata, "table": table})
            parts.append({"path": path.relative_to(self.out_dir).as_posix(), "table": table,
                          "rows": len(part_rows), "bytes": size})
        return parts

    def write(self, results: Sequence[ArticleResult], rejects: Sequence[Reject]) -> None:
        """Write one shard of results and rejects, then commit it."""
        parts, written = self.write_parts(results, rejects, self.shard)
        self.commit(self.shard, parts, written)

    def write_parts(self, results: Sequence[ArticleResult], rejects: Sequence[Reject],
                    shard: int) -> tuple[list[dict[str, Any]], dict[str, int]]:
        """Stage the part files of shard `shard` (hidden names) without committing them; their
        descriptors and row counts per table. A Ray worker calls this on the shared --out; the
        driver commits. Part names depend only on the run and the shard, so a retried shard
        overwrites its own."""
        now = dt.datetime.now(dt.UTC)
        rows = article_rows(results, self.run_id, self.options_hash, self.kept, now)
        rows["rejects"] = reject_rows(rejects, self.run_id, now, self.input_hashes)
        check_shard_keys(rows)
        parts = []
        try:
            for t in ("rejects", "translations", "segments", "articles"):
                if rows[t]:
                    parts += self._write_table(t, rows[t], shard)
        except OSError as exc:
            raise OutputError(f"cannot write {self.out_dir}: {exc.strerror or exc}; the parts already committed are "
                              "valid, free space or fix permissions and rerun with --resume") from exc
        return parts, {t: len(rows[t]) for t in TABLES}

    def commit(self, shard: int, parts: Sequence[dict[str, Any]], written: dict[str, int]) -> None:
        """Commit the parts of shard `shard` (staged by this process or by a worker), then move
        them into place."""
        try:
            commit_and_show(self.out_dir, f"{self.run_id}-{shard:05d}", self.run_id, parts)
        except OSError as exc:
            raise OutputError(
                f"cannot write {self.out_dir}: {exc.strerror or exc}; the parts already written are valid, "
                "free space or fix permissions and rerun with --resume"
            ) from exc
        for t in TABLES:
            self.written[t] += written.get(t, 0)
        self.shard = shard + 1
        self.commits += 1

    def sweep(self, committed: set[str]) -> list[str]:
        """Delete this run's part files that no marker lists (`committed`: their paths relative
        to `out_dir`) and the temporary files of writers that died mid-write; what was removed.

        Parts of shards that were never committed (a worker lost after writing, a run stopped
        early) would otherwise be visible to anyone reading the folder as plain Parquet until a
        `--resume`. Call it only once no writer of this run is left alive."""
        prefix = self.part_name("")[: -len(".parquet")]
        removed = []
        for t in TABLES:
            for f in files.files_under(self.out_dir / t):
                name = f.name
                rel = f.relative_to(self.out_dir).as_posix()
                if name.startswith(f".{prefix}") and name.endswith(STAGED):
                    # A part staged under its hidden name and never published: known by its final name.
                    final = f.with_name(name[1:-len(STAGED)]).relative_to(self.out_dir).as_posix()
                    if final not in committed:
                        files.remove(f)
                        removed.append(final)
                    continue
                stray = name.startswith(prefix) and name.endswith(".parquet") and rel not in committed
                # A writer killed mid-write leaves `.NAME.tmp-PID`, NAME being the part's staged name
                # (`.part-....staged`, hence two dots) or, for a direct write, the part's own name.
                if stray or (name.startswith(".") and name.lstrip(".").startswith(prefix) and ".tmp-" in name):
                    files.remove(f)
                    removed.append(rel)
        return removed

    def finish(self) -> None:
        """Give every table folder at least one (empty, committed) part, so it reads with its schema."""
        parts = []
        for t in TABLES:
            if not any(f.name.endswith((".parquet", f".parquet{STAGED}")) for f in files.files_under(self.out_dir / t)):
                drop = partition_columns(t, self.partition_by) if t != "rejects" else []
                data = arrow_table(t, [], self.kept if t == "articles" else (), drop=drop)
                path = self.out_dir / t / self.part_name("empty")
                size = write_parquet(data, staged(path), {**self.metadata, "table": t})
                parts.append({"path": path.relative_to(self.out_dir).as_posix(), "table": t, "rows": 0, "bytes": size})
        if parts:
            commit_and_show(self.out_dir, f"{self.run_id}-empty", self.run_id, parts)


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.datetime | dt.date) else str(value)


def write_detections(rows: Iterable[dict[str, Any]], out: str, run_id: str, table: str = "detections") -> int:
    """Write the rows of `summarize detect` (or of another one-file command: `table` names its
    `schema.FILES` entry) to a Parquet file, or as JSONL to stdout when `out` is `-`."""
    now = dt.datetime.now(dt.UTC)
    if out == STDIN:
        n = 0
        for row in rows:
            sys.stdout.write(json.dumps({**row, "run_id": run_id, "processed_at": now.isoformat()}, ensure_ascii=False,
                                        default=_iso) + "\n")
            n += 1
        sys.stdout.flush()
        return n
    path = Path(out)
    if path.suffix.lower() != ".parquet":
        raise UsageError(f"--out {out}: give a .parquet file, or - for JSONL on stdout")
    data = [{**row, "run_id": run_id, "processed_at": now} for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_parquet(arrow_table(table, data), path, file_metadata(run_id, table))
    return len(data)


@dataclass
class JsonlWriter:
    """`--out -`: article rows as JSONL on stdout (translations nested), nothing else on stdout."""

    run_id: str
    options_hash: str
    kept: tuple[Kept, ...] = ()
    stream: IO[str] = field(default_factory=lambda: sys.stdout)
    written: dict[str, int] = field(default_factory=lambda: {t: 0 for t in TABLES})
    commits: int = 0

    def write(self, results: Sequence[ArticleResult], rejects: Sequence[Reject]) -> None:
        now = dt.datetime.now(dt.UTC)
        rows = article_rows(results, self.run_id, self.options_hash, self.kept, now)
        by_id: dict[str, list[dict[str, Any]]] = {}
        for t in rows["translations"]:
            by_id.setdefault(t["id"], []).append({k: v for k, v in t.items() if k not in ("id", "run_id", "_date", "processed_at")})
        for row in rows["articles"]:
            row.pop("_date", None)
            row["translations"] = by_id.get(row["id"], [])
            self.stream.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        self.stream.flush()
        self.written["articles"] += len(rows["articles"])
        self.written["translations"] += len(rows["translations"])
        self.written["rejects"] += len(rejects)
        self.commits += 1

    def finish(self) -> None:
        self.stream.flush()


def write_wide(out_dir: Path, kept: Sequence[Kept], metadata: dict[str, str]) -> Path:
    """`wide.parquet`: one row per article with its kept columns, `flags` as one string, and a
    string column per translated field and language (`summary_en`)."""
    import polars as pl
    import pyarrow as pa

    arts = read_table(out_dir, "articles")
    # One row per article whatever the tables hold (keys are enforced on write; this guards a
    # dataset written before they were): the latest version, with that version's translations.
    arts = arts.sort("processed_at").unique("id", keep="last")
    base = arts.with_columns(pl.col("flags").list.join(",")).sort("row_index")
    tr = read_table(out_dir, "translations").join(arts.select("id", "run_id"), on=["id", "run_id"], how="semi")
    tr = tr.select("id", "field", "target_lang", "text")
    names: list[str] = []
    if tr.height:
        tr = tr.with_columns((pl.col("field") + "_" + pl.col("target_lang")).alias("column"))
        wide = tr.pivot(on="column", index="id", values="text", aggregate_function="first")
        names = sorted(c for c in wide.columns if c != "id")
        base = base.join(wide.select("id", *names), on="id", how="left", maintain_order="left")
    rows = base.to_dicts()
    extra = [pa.field(n, pa.string()) for n in names]
    path = out_dir / "wide.parquet"
    write_parquet(arrow_table("wide", rows, kept, extra=extra), path, {**metadata, "table": "wide"})
    return path


def totals(out_dir: Path, runs: set[str] | None = None) -> tuple[dict[str, int], dict[str, int]]:
    """Counts by status and language over the articles the folder holds (with `runs`: only
    those written by these runs, e.g. one batch and its resumes)."""
    import polars as pl

    df = read_table(out_dir, "articles")
    if runs is not None and df.height:
        df = df.filter(pl.col("run_id").is_in(sorted(runs)))
    if not df.height:
        return {}, {}
    status = dict(zip(*df["status"].value_counts().to_dict(as_series=False).values(), strict=True))
    langs = dict(zip(*df["lang"].value_counts().to_dict(as_series=False).values(), strict=True))
    return {str(k): int(v) for k, v in status.items()}, {str(k): int(v) for k, v in langs.items()}


__all__ = ["COMMITS", "JsonlWriter", "RunWriter", "atomic_write_bytes", "commit_parts", "file_metadata",
           "totals", "write_detections", "write_json", "write_parquet", "write_wide"]
