"""Writing a run's tables: rows from results, Parquet part files, the JSONL stream, the wide file.

The only place (with `read` and `outdir`) that touches Polars and pyarrow. Each shard's rows go
into part files written under a temporary name and renamed into place, so a reader (or a
resumed run) never sees half a file; an empty marker in `_commits/` then records the shard.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import OutputError, UsageError
from ..schema import TABLES, ArticleResult, Reject
from .read import STDIN


def _pl_type(t: str) -> Any:
    import polars as pl

    return {
        "str": pl.String, "i64": pl.Int64, "f64": pl.Float64, "bool": pl.Boolean,
        "list[str]": pl.List(pl.String),
        "list[lang_share]": pl.List(pl.Struct({"lang": pl.String, "share": pl.Float64})),
    }[t]


def table_schema(name: str) -> dict[str, Any]:
    """The Polars schema of an output table."""
    return {c.name: _pl_type(c.type) for c in TABLES[name].columns}


def kept_name(column: str) -> str:
    """Name of a `--keep-col` column in `articles`: `input_<name>` where it would clash with ours."""
    return f"input_{column}" if column in TABLES["articles"].names else column


def article_rows(results: Iterable[ArticleResult], run_id: str, options_hash: str, keep: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Rows of every table for a shard of results."""
    rows: dict[str, list[dict[str, Any]]] = {"articles": [], "translations": [], "segments": []}
    for r in results:
        a = r.article
        row = {
            "id": a.id, "row_index": a.row_index, "source": a.source, "line": a.line, "title": a.title,
            "lang": r.detection.lang, "lang_score": r.detection.score,
            "lang_mix": [{"lang": lang, "share": share} for lang, share in r.detection.mix],
            "lang_source": r.lang_source, "summary": r.summary, "summary_model": r.summary_model,
            "input_tokens": r.input_tokens, "summary_tokens": r.summary_tokens, "n_chunks": r.n_chunks,
            "truncated": r.truncated, "flags": list(r.flags), "status": r.status, "error": r.error,
            "duration_ms": r.duration_ms, "content_hash": r.content_hash, "options_hash": options_hash,
            "run_id": run_id,
            "unsupported": list(r.unsupported), "summary_logprob": r.summary_logprob,
            "summary_gen_tokens": r.summary_gen_tokens,
        }
        for c in keep:
            row[kept_name(c)] = a.extra.get(c)
        rows["articles"].append(row)
        for t in r.translations:
            rows["translations"].append({
                "id": a.id, "field": t.field, "source_lang": t.source_lang, "target_lang": t.target_lang,
                "text": t.text, "model": t.model, "flags": list(t.flags), "status": t.status, "error": t.error,
                "run_id": run_id,
                "logprob": t.logprob, "gen_tokens": t.gen_tokens,
            })
            for s in t.segments:
                rows["segments"].append({
                    "id": a.id, "field": s.field, "target_lang": s.target_lang, "para_index": s.para_index,
                    "seg_index": s.seg_index, "source_text": s.source_text, "target_text": s.target_text,
                    "source_tokens": s.source_tokens, "target_tokens": s.target_tokens, "run_id": run_id,
                    "logprob": s.logprob, "gen_tokens": s.gen_tokens,
                })
    return rows


def reject_rows(rejects: Iterable[Reject], run_id: str) -> list[dict[str, Any]]:
    """Rows of the `rejects` table for a shard."""
    return [{"source": r.source, "line": r.line, "error": r.error, "raw": r.raw, "run_id": run_id} for r in rejects]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file under a temporary name, flush it to disk, then rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def frame(name: str, rows: list[dict[str, Any]], keep: Sequence[str] = ()) -> Any:
    """A Polars frame of `rows` with the table's schema (kept columns inferred)."""
    import polars as pl

    schema = table_schema(name)
    if keep and name == "articles":
        base = pl.DataFrame([{k: v for k, v in r.items() if k in schema} for r in rows], schema=schema, orient="row")
        names = [kept_name(k) for k in keep]
        extra = pl.DataFrame([{k: r.get(k) for k in names} for r in rows], strict=False) if rows else pl.DataFrame({k: [] for k in names})
        return pl.concat([base, extra], how="horizontal")
    return pl.DataFrame(rows, schema=schema, orient="row")


def write_parquet(df: Any, path: Path, metadata: dict[str, str]) -> None:
    """Write a frame as one Parquet file, atomically, with key-value metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = df.to_arrow()
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **{k.encode(): v.encode() for k, v in metadata.items()}})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


COMMITS = "_commits"
PARTITIONS = ("lang", "date")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def _fsync_dir(folder: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def partition_date(published: str | None) -> str:
    """`YYYY-MM-DD` from an ISO-like `published` value, else `unknown`."""
    m = _DATE.match(published or "")
    return "-".join(m.groups()) if m else "unknown"


@dataclass
class RunWriter:
    """Writes a run's tables as part files in `out_dir/<table>/`, one part per shard and table.

    Every part file is written under a temporary name and renamed into place. When all parts of
    a shard are in place, an empty marker `_commits/<part name>` records the shard as complete;
    a resumed run deletes parts that have no marker (a run killed mid-shard), so a reader of a
    finished or resumed folder sees every row exactly once. With `partition_by`, parts go into
    Hive-style folders (`articles/lang=de/date=2026-10-14/part-...parquet`); the partition
    columns then live in the path, as Hive readers expect.
    """

    out_dir: Path
    run_id: str
    options_hash: str
    keep: tuple[str, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)
    partition_by: tuple[str, ...] = ()
    shard: int = 0
    written: dict[str, int] = field(default_factory=lambda: {t: 0 for t in TABLES})

    def __post_init__(self) -> None:
        bad = [p for p in self.partition_by if p not in PARTITIONS]
        if bad:
            raise UsageError(f"--partition-by takes {', '.join(PARTITIONS)}; not {', '.join(bad)}")
        try:
            for t in (*TABLES, COMMITS):
                (self.out_dir / t).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot write to {self.out_dir}: {exc.strerror or exc}") from exc

    def part_name(self) -> str:
        return f"part-{self.run_id[-8:]}-{self.shard:05d}.parquet"

    def _partition_key(self, table: str, row: dict[str, Any], dates: dict[str, str]) -> tuple[str, ...]:
        key: list[str] = []
        for p in self.partition_by:
            if p == "lang":
                key.append(f"lang={row['lang']}" if table == "articles" else f"target_lang={row['target_lang']}")
            else:
                key.append(f"date={dates.get(row['id'], 'unknown')}")
        return tuple(key)

    def write(self, results: Sequence[ArticleResult], rejects: Sequence[Reject]) -> None:
        """Write one shard of results and rejects, then mark the shard committed."""
        rows = article_rows(results, self.run_id, self.options_hash, self.keep)
        rows["rejects"] = reject_rows(rejects, self.run_id)
        dates = {r.article.id: partition_date(r.article.published) for r in results}
        name = self.part_name()
        try:
            for t in ("rejects", "translations", "segments", "articles"):
                if not rows[t]:
                    continue
                groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
                for row in rows[t]:
                    key = self._partition_key(t, row, dates) if self.partition_by and t != "rejects" else ()
                    groups.setdefault(key, []).append(row)
                for key, part_rows in groups.items():
                    folder = self.out_dir / t / Path(*key) if key else self.out_dir / t
                    folder.mkdir(parents=True, exist_ok=True)
                    df = frame(t, part_rows, self.keep)
                    if key and "lang" in self.partition_by:
                        df = df.drop("lang" if t == "articles" else "target_lang")
                    write_parquet(df, folder / name, {**self.metadata, "table": t})
                    self.written[t] += len(part_rows)
            atomic_write_bytes(self.out_dir / COMMITS / name, b"")
            _fsync_dir(self.out_dir / COMMITS)
        except OSError as exc:
            raise OutputError(
                f"cannot write {self.out_dir}: {exc.strerror or exc}; the parts already written are valid, "
                "free space or fix permissions and rerun with --resume"
            ) from exc
        self.shard += 1

    def finish(self) -> None:
        """Make sure every table folder holds at least one (possibly empty) part, so it reads."""
        for t in TABLES:
            folder = self.out_dir / t
            if not any(folder.rglob("*.parquet")):
                df = frame(t, [], self.keep)
                if self.partition_by and t != "rejects" and "lang" in self.partition_by:
                    df = df.drop("lang" if t == "articles" else "target_lang")
                write_parquet(df, folder / f"part-{self.run_id[-8:]}-empty.parquet", {**self.metadata, "table": t})


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write a JSON document atomically."""
    atomic_write_bytes(path, (json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n").encode())


DETECT_SCHEMA = {"id": "str", "lang": "str", "lang_score": "f64", "lang_mix": "list[lang_share]", "detector": "str", "status": "str", "error": "str"}


def write_detections(rows: Iterable[dict[str, Any]], out: str) -> int:
    """Write detection rows to a Parquet file, or as JSONL to stdout when `out` is `-`."""
    if out == STDIN:
        n = 0
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
        sys.stdout.flush()
        return n
    import polars as pl

    data = list(rows)
    schema = {k: _pl_type(v) for k, v in DETECT_SCHEMA.items()}
    df = pl.DataFrame(data, schema=schema, orient="row")
    path = Path(out)
    if path.suffix.lower() != ".parquet":
        raise UsageError(f"--out {out}: give a .parquet file, or - for JSONL on stdout")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_parquet(df, path, {"table": "detections"})
    return len(data)


@dataclass
class JsonlWriter:
    """`--out -`: article rows as JSONL on stdout (translations nested), nothing else on stdout."""

    run_id: str
    options_hash: str
    keep: tuple[str, ...] = ()
    stream: IO[str] = field(default_factory=lambda: sys.stdout)
    written: dict[str, int] = field(default_factory=lambda: {t: 0 for t in TABLES})

    def write(self, results: Sequence[ArticleResult], rejects: Sequence[Reject]) -> None:
        rows = article_rows(results, self.run_id, self.options_hash, self.keep)
        by_id: dict[str, list[dict[str, Any]]] = {}
        for t in rows["translations"]:
            by_id.setdefault(t["id"], []).append({k: v for k, v in t.items() if k not in ("id", "run_id")})
        for row in rows["articles"]:
            row["translations"] = by_id.get(row["id"], [])
            self.stream.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        self.stream.flush()
        self.written["articles"] += len(rows["articles"])
        self.written["translations"] += len(rows["translations"])
        self.written["rejects"] += len(rejects)

    def finish(self) -> None:
        self.stream.flush()


def write_wide(out_dir: Path) -> Path:
    """`wide.parquet`: one row per article, a column per translated field and language (`summary_en`)."""
    import polars as pl

    arts = pl.scan_parquet(out_dir / "articles" / "**" / "*.parquet", hive_partitioning=True)
    cols = ["id", "row_index", "source", "title", "lang", "lang_score", "summary", "summary_model", "status", "error", "run_id"]
    base = arts.select([c for c in cols if c in arts.collect_schema().names()]).collect()
    tr = pl.scan_parquet(out_dir / "translations" / "**" / "*.parquet", hive_partitioning=True).select(
        "id", "field", "target_lang", "text").collect()
    if tr.height:
        tr = tr.with_columns((pl.col("field") + "_" + pl.col("target_lang")).alias("column"))
        wide = tr.pivot(on="column", index="id", values="text", aggregate_function="first")
        ordered = ["id", *sorted(c for c in wide.columns if c != "id")]
        base = base.join(wide.select(ordered), on="id", how="left")
    base = base.sort("row_index")
    path = out_dir / "wide.parquet"
    write_parquet(base, path, {"table": "wide"})
    return path


def totals(out_dir: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Counts by status and language over everything the folder holds (after a resume)."""
    import polars as pl

    files = list((out_dir / "articles").rglob("*.parquet"))
    if not files:
        return {}, {}
    df = pl.scan_parquet(out_dir / "articles" / "**" / "*.parquet", hive_partitioning=True).select("status", "lang").collect()
    status = dict(zip(*df["status"].value_counts().to_dict(as_series=False).values(), strict=True))
    langs = dict(zip(*df["lang"].value_counts().to_dict(as_series=False).values(), strict=True))
    return {str(k): int(v) for k, v in status.items()}, {str(k): int(v) for k, v in langs.items()}
