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
Parquet; a marker records the Delta version each table reached. The commits that follow a run's
last shard (its `optimize` in `finish`, `compact`'s optimize and vacuum) record the versions they
reach in a marker of their own (`versions_marker`), so the newest recorded version set is one a
vacuum keeps readable.

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
from ..schema import CHILDREN, KEYS, ArticleResult, Reject
from . import files
from .files import is_delta
from .outdir import Existing
from .seen import SeenIds
from .tables import arrow_table, article_rows, check_shard_keys, reject_rows
from .write import COMMITS, TableWriter, commit_parts

ORDER = ("rejects", "segments", "translations", "articles")  # articles last: its commit completes a shard


def app_id(run_id: str, table: str) -> str:
    """The Delta application transaction id of a run's commits to one table."""
    return f"summarize:{run_id}:{table}"


def commit_metadata(run_id: str, table: str, shard: int | None = None) -> dict[str, str]:
    """What each of the tool's Delta commits says about itself (read back with `DeltaTable.history()`);
    `run_id` is a run's id, or `compact-<id>` for a compaction."""
    from ..schema import SCHEMA_VERSION
    from ..version import __version__

    return {"run_id": run_id, "tool": "summarize", "tool_version": __version__, "schema_version": SCHEMA_VERSION,
            "table": table, **({"shard": str(shard)} if shard is not None else {})}


def versions_marker(out: Any, name: str, run_id: str, versions: dict[str, int]) -> bool:
    """A commit marker that lists no rows, only each table's version (after commits that no shard
    marker records: a run's final optimize, a compaction, a vacuum); False if `name` exists."""
    return commit_parts(out, name, run_id, [{"table": t, "delta_version": v} for t, v in sorted(versions.items())])


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
    seen_ids: SeenIds = field(default_factory=SeenIds)  # article ids of this run's shards
    cleaned: bool = False  # `committed` deleted a killed shard's rows (commits no shard marker records)

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

    def _commit(self, table: str, data: Any, version: int, ids: Sequence[str]) -> bool:
        """One shard into one table, unless the table already holds it; True when committed.

        With `upsert`, the shard replaces every row of its articles (`ids`): rows matched on the
        table's key are updated, new ones inserted, and a child row of one of those articles that
        this shard no longer has is deleted, also when the shard has no row for the table at all
        (a corrected article that is now skipped, or has fewer fields or targets)."""
        from deltalake import CommitProperties, Transaction, write_deltalake

        aid = app_id(self.run_id, table)
        dt_ = self._table(table)
        if dt_ is not None and (dt_.transaction_version(aid) or 0) >= version:
            return False  # a replayed shard: its rows are there already
        props = CommitProperties(app_transactions=[Transaction(aid, version)],
                                 custom_metadata=self.commit_metadata(table, version - 1))
        replacing = self.upsert and dt_ is not None and (table != "rejects" or data.num_rows)
        if not replacing:
            if not data.num_rows:
                return False
            write_deltalake(self.uri(table), data, mode="append", schema_mode="merge", commit_properties=props,
                            partition_by=self._partitions(table), storage_options=self.storage_options,
                            **self._describe(table, dt_ is None))
            return True
        if table in CHILDREN and not data.num_rows:
            if not ids:
                return False
            dt_.delete(f"id IN ({', '.join(map(_sql, ids))})", commit_properties=props)
            return True
        keys = KEYS[table]
        merge = dt_.merge(data, " AND ".join(f"t.{k} = s.{k}" for k in keys), source_alias="s", target_alias="t",
                          merge_schema=True, commit_properties=props)
        merge = merge.when_matched_update_all().when_not_matched_insert_all()
        if table in CHILDREN:
            merge = merge.when_not_matched_by_source_delete(f"t.id IN ({', '.join(map(_sql, ids))})")
        merge.execute()
        return True

    def commit_metadata(self, table: str, shard: int | None = None) -> dict[str, str]:
        """What this run's commits say about themselves (`commit_metadata`)."""
        return commit_metadata(self.run_id, table, shard)

    def _describe(self, table: str, new: bool) -> dict[str, Any]:
        """A new table's name and description (in its metadata action), from the declared schema."""
        from ..schema import TABLES

        if not new:
            return {}
        return {"name": table, "description": f"summarize {table}: {TABLES[table].description}"}

    def write(self, results: Sequence[ArticleResult], rejects: Sequence[Reject]) -> None:
        """Commit one shard to every table (articles last), then write its commit marker."""
        now = dt.datetime.now(dt.UTC)
        rows = article_rows(results, self.run_id, self.options_hash, self.kept, now)
        rows["rejects"] = reject_rows(rejects, self.run_id, now, self.input_hashes)
        check_shard_keys(rows, self.seen_ids)
        version = self.shard + 1
        ids = sorted({r["id"] for r in rows["articles"]})
        parts = []
        try:
            for t in ORDER:
                if not rows[t] and not (self.upsert and ids and t in CHILDREN):
                    continue
                data = arrow_table(t, [{k: v for k, v in r.items() if k != "_date"} for r in rows[t]],
                                   self.kept if t == "articles" else ())
                self._commit(t, data, version, ids)
                table = self._table(t)
                if table is not None:
                    self.versions[t] = table.version()
            parts = [{"table": t, "rows": len(rows[t]), "delta_version": v} for t, v in self.versions.items()]
            commit_parts(self.out_dir, f"{self.run_id}-{self.shard:05d}", self.run_id, parts)
        except OSError as exc:
            raise OutputError(f"cannot write {self.out_dir}: {exc.strerror or exc}; rerun with --resume") from exc
        for t in ORDER:
            self.written[t] += len(rows[t])
        self.shard += 1
        self.commits += 1

    def finish(self) -> None:
        """Create every table this run left missing (empty, with its schema), so it reads, and
        record the versions the run ends at."""
        from deltalake import CommitProperties, write_deltalake

        for t in ORDER:
            table = self._table(t)
            if table is not None and self.commits > 1:
                # One shard, one file per partition: merged at the end so a batch adds few active
                # files (the shards' files stay on disk, for time travel, until `compact` vacuums).
                table.optimize.compact(commit_properties=CommitProperties(custom_metadata=self.commit_metadata(t)))
            if self._table(t) is None:
                write_deltalake(self.uri(t), arrow_table(t, [], self.kept if t == "articles" else ()), mode="append",
                                partition_by=self._partitions(t), storage_options=self.storage_options,
                                commit_properties=CommitProperties(custom_metadata=self.commit_metadata(t)),
                                **self._describe(t, True))
            self.versions[t] = self._table(t).version()
        if self.commits or self.cleaned:
            # The shard markers' versions predate the optimize (and a resume's deletes): a vacuum
            # may remove their files, so the consistent version set must reach these.
            try:
                versions_marker(self.out_dir, f"{self.run_id}-finish", self.run_id, self.versions)
            except OSError as exc:
                raise OutputError(f"cannot write {self.out_dir}: {exc.strerror or exc}; rerun with --resume") from exc

    def committed(self, existing: Existing) -> Existing:
        """What the batch being resumed already holds, after deleting rows of unfinished shards
        (other tables' rows of this batch whose article row is missing)."""
        import polars as pl
        from deltalake import CommitProperties

        arts = self._rows("articles", ["id", "content_hash", "run_id"])
        done: dict[tuple[str, str], int] = {}
        for rid, ch in zip(arts["id"].to_list(), arts["content_hash"].to_list(), strict=True):
            done[(rid, ch)] = done.get((rid, ch), 0) + 1
        removed: list[str] = []
        for t in ("translations", "segments"):
            rows = self._rows(t, ["id", "run_id"]).unique()
            orphans = rows.join(arts.select("id", "run_id"), on=["id", "run_id"], how="anti")
            for run, ids in orphans.group_by("run_id").agg(pl.col("id")).iter_rows():
                self._table(t).delete(f"run_id = {_sql(run)} AND id IN ({', '.join(map(_sql, ids))})",
                                      commit_properties=CommitProperties(custom_metadata=self.commit_metadata(t)))
                removed += [f"{t}:{i}" for i in ids]
                self.cleaned = True
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


def consistent_versions(out: Any) -> dict[str, int]:
    """Each table's version as of the newest recorded set: read the tables at these versions and
    every article has all its translations and segments (a reader of the latest versions may catch
    a shard between its tables' commits). A shard's marker is written only after its last table
    commit, and records every table's version then; a run's final optimize and a compaction record
    the versions they reach (`versions_marker`), so after a vacuum these versions still read.
    Versions only grow, so each table's highest recorded version is the newest set's."""
    from .outdir import live_markers

    found: dict[str, int] = {}
    for m in live_markers(out):
        for p in m.get("parts", []):
            if p.get("delta_version") is not None:
                found[p["table"]] = max(found.get(p["table"], -1), int(p["delta_version"]))
    return found


def read_consistent(out: Any, table: str, storage_options: dict[str, str] | None = None) -> Any:
    """One table as a Polars frame at its `consistent_versions` version."""
    import polars as pl

    from .files import as_path

    folder = as_path(str(out))
    version = consistent_versions(folder).get(table)
    if storage_options is None and files.is_remote(folder):
        storage_options = delta_options(files.storage_options(), files.uri(folder))
    return pl.scan_delta(files.uri(folder / table), version=version, storage_options=storage_options).collect()


def delta_options(options: dict[str, str] | None, url: str) -> dict[str, str]:
    """deltalake's storage options for the table at `url`, from the `--storage-option` pairs (see
    `files.object_store_options`); on S3 with commits made as conditional PUTs unless the user
    chose otherwise."""
    out = files.object_store_options(options)
    chosen = ("aws_conditional_put", "aws_s3_locking_provider", "aws_s3_allow_unsafe_rename")
    if url.startswith(("s3://", "s3a://")) and not any(k in out for k in chosen):
        out["aws_conditional_put"] = "etag"
    return out
