"""`--table-format delta`: each output table a Delta Lake table (`OUT/articles/_delta_log/...`).

Every shard is committed to each table as one Delta transaction carrying the application
transaction `summarize:<run_id>:<table>` with the shard number (plus one) as its version. delta-rs
does not refuse a replayed app id, so the writer reads `transaction_version` first and skips a
shard the table already holds: the rows and the txn action are in one commit, so "txn present"
means "rows present" after any crash.

A shard is committed to `rejects`, `segments` and `translations` before `articles`, so an
article row means its shard is complete. A kill between those commits leaves rows of other
tables whose article is missing; `committed` removes them on `--resume`, which then processes
those articles again. With `--upsert`, shards are merged on each table's keys and a corrected
article's old rows that the new run no longer produces are deleted.

The bookkeeping (`_summarize/` lock, runs, dataset.json, commit markers) is the same as for
Parquet; a marker records the Delta version each table reached.

On an object store (`--out s3://...`) the tables are written by deltalake's own Rust client, with
the `--storage-option` pairs mapped to its keys (`delta_options`), or, with none, its reading of
the AWS_* environment. There a commit is safe without a locking provider and without
`AWS_S3_ALLOW_UNSAFE_RENAME`: deltalake 1.x writes each log entry as a conditional PUT
(`If-None-Match: *`; `aws_conditional_put=etag` is set as well, so a change of library default
cannot turn commits into overwrites), so a commit that lost a race is retried at the next version
instead of overwriting (tests/storage/test_storage_backends.py pins this against SeaweedFS). Our own
dataset lock already keeps one writer per dataset, and with Ray the driver alone commits; the
conditional PUT also protects the tables from writers that do not take it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import OutputError, UsageError
from ..schema import ArticleResult, Reject
from . import files
from .files import is_delta
from .outdir import Existing
from .tables import arrow_table, article_rows, reject_rows
from .write import COMMITS, TableWriter, commit_parts

KEYS = {
    "articles": ("id",),
    "translations": ("id", "field", "target_lang"),
    "segments": ("id", "field", "target_lang", "para_index", "seg_index"),
}
ORDER = ("rejects", "segments", "translations", "articles")  # articles last: its commit completes a shard


def app_id(run_id: str, table: str) -> str:
    """The Delta application transaction id of a run's commits to one table."""
    return f"summarize:{run_id}:{table}"


def _sql(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass
class DeltaWriter(TableWriter):
    """Writes a run's shards into the Delta tables of `out_dir`, one transaction per shard and table.

    `batch` holds the earlier run ids of the batch being resumed (their rows count as done).
    `storage_options` go unchanged to deltalake (object_store keys); by default, on an object
    store, those of `delta_options` for the `--storage-option` pairs in effect.
    """

    upsert: bool = False
    batch: set[str] = field(default_factory=set)
    storage_options: dict[str, str] | None = None
    shard: int = 0
    commits: int = 0
    written: dict[str, int] = field(default_factory=lambda: {t: 0 for t in ORDER})
    versions: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "date" in self.partition_by:
            raise UsageError("--table-format delta partitions by lang only; --partition-by date is for Parquet")
        if self.storage_options is None and files.is_remote(self.out_dir):
            self.storage_options = delta_options(files.storage_options(), files.uri(self.out_dir))
        try:
            files.mkdir(self.out_dir / COMMITS)
        except OSError as exc:
            raise OutputError(f"cannot write to {self.out_dir}: {exc.strerror or exc}") from exc

    def uri(self, table: str) -> str:
        return files.uri(self.out_dir / table)

    def _table(self, table: str) -> Any:
        from deltalake import DeltaTable

        return DeltaTable(self.uri(table), storage_options=self.storage_options) if is_delta(self.out_dir / table) else None

    def _partitions(self, table: str) -> list[str] | None:
        from ..schema import PARTITIONS

        cols = [PARTITIONS[p][0][table] for p in self.partition_by if table in PARTITIONS[p][0]]
        return cols or None

    def _commit(self, table: str, data: Any, version: int) -> bool:
        """One shard into one table, unless the table already holds it; True when committed."""
        from deltalake import CommitProperties, Transaction, write_deltalake

        aid = app_id(self.run_id, table)
        dt_ = self._table(table)
        if dt_ is not None and (dt_.transaction_version(aid) or 0) >= version:
            return False  # a replayed shard: its rows are there already
        props = CommitProperties(app_transactions=[Transaction(aid, version)],
                                 custom_metadata={"run_id": self.run_id, "shard": str(version - 1), "tool": "summarize"})
        if dt_ is None or not self.upsert or table == "rejects":
            write_deltalake(self.uri(table), data, mode="append", schema_mode="merge", commit_properties=props,
                            partition_by=self._partitions(table), storage_options=self.storage_options)
        else:
            keys = KEYS[table]
            merge = dt_.merge(data, " AND ".join(f"t.{k} = s.{k}" for k in keys), source_alias="s", target_alias="t",
                              merge_schema=True, commit_properties=props)
            merge = merge.when_matched_update_all().when_not_matched_insert_all()
            if table != "articles":
                # rows of a corrected article that the new run no longer produces
                ids = sorted(set(data.column("id").to_pylist()))
                merge = merge.when_not_matched_by_source_delete(f"t.id IN ({', '.join(map(_sql, ids))})")
            merge.execute()
        return True

    def write(self, results: Sequence[ArticleResult], rejects: Sequence[Reject]) -> None:
        """Commit one shard to every table (articles last), then write its commit marker."""
        now = dt.datetime.now(dt.UTC)
        rows = article_rows(results, self.run_id, self.options_hash, self.kept, now)
        rows["rejects"] = reject_rows(rejects, self.run_id, now)
        version = self.shard + 1
        parts = []
        try:
            for t in ORDER:
                if not rows[t]:
                    continue
                data = arrow_table(t, [{k: v for k, v in r.items() if k != "_date"} for r in rows[t]],
                                   self.kept if t == "articles" else ())
                self._commit(t, data, version)
                self.versions[t] = self._table(t).version()
                parts.append({"table": t, "rows": len(rows[t]), "delta_version": self.versions[t]})
            commit_parts(self.out_dir, f"{self.run_id}-{self.shard:05d}", self.run_id, parts)
        except OSError as exc:
            raise OutputError(f"cannot write {self.out_dir}: {exc.strerror or exc}; rerun with --resume") from exc
        for t in ORDER:
            self.written[t] += len(rows[t])
        self.shard += 1
        self.commits += 1

    def finish(self) -> None:
        """Create every table this run left missing (empty, with its schema), so it reads."""
        from deltalake import write_deltalake

        for t in ORDER:
            if self._table(t) is None:
                write_deltalake(self.uri(t), arrow_table(t, [], self.kept if t == "articles" else ()), mode="append",
                                partition_by=self._partitions(t), storage_options=self.storage_options)
            self.versions[t] = self._table(t).version()

    def committed(self, existing: Existing) -> Existing:
        """What the batch being resumed already holds, after deleting rows of unfinished shards
        (other tables' rows of this batch whose article row is missing)."""
        import polars as pl

        arts = self._rows("articles", ["id", "content_hash", "run_id"])
        done: dict[tuple[str, str], int] = {}
        for rid, ch in zip(arts["id"].to_list(), arts["content_hash"].to_list(), strict=True):
            done[(rid, ch)] = done.get((rid, ch), 0) + 1
        removed: list[str] = []
        for t in ("translations", "segments"):
            rows = self._rows(t, ["id", "run_id"]).unique()
            orphans = rows.join(arts.select("id", "run_id"), on=["id", "run_id"], how="anti")
            for run, ids in orphans.group_by("run_id").agg(pl.col("id")).iter_rows():
                self._table(t).delete(f"run_id = {_sql(run)} AND id IN ({', '.join(map(_sql, ids))})")
                removed += [f"{t}:{i}" for i in ids]
        rej = self._rows("rejects", ["source", "line"])
        return Existing(done, set(zip(rej["source"].to_list(), rej["line"].to_list(), strict=True)), set(), removed,
                        existing.aliases)

    def _rows(self, table: str, columns: list[str]) -> Any:
        """The rows of the resumed batch's runs (only `columns`), as a Polars frame."""
        import polars as pl

        dt_ = self._table(table)
        if dt_ is None or not self.batch:
            return pl.DataFrame({c: [] for c in columns}, schema=dict.fromkeys(columns, pl.String)).cast(
                {"line": pl.Int64} if "line" in columns else {})
        frame = pl.scan_delta(self.uri(table), storage_options=self.storage_options)
        return frame.filter(pl.col("run_id").is_in(sorted(self.batch))).select(columns).collect()


def delta_options(options: dict[str, str] | None, url: str) -> dict[str, str]:
    """deltalake's storage options for the table at `url`, from the `--storage-option` pairs (see
    `files.object_store_options`); on S3 with commits made as conditional PUTs unless the user
    chose otherwise."""
    out = files.object_store_options(options)
    chosen = ("aws_conditional_put", "aws_s3_locking_provider", "aws_s3_allow_unsafe_rename")
    if url.startswith(("s3://", "s3a://")) and not any(k in out for k in chosen):
        out["aws_conditional_put"] = "etag"
    return out
