"""The output folder: preparing it, replacing it, and what a resumed run finds there.

A folder holds one run's tables. Before any work, `prepare_out` refuses to mix runs unless told
how (`--overwrite` replaces, `--resume` continues the same job); `committed_state` then drops the
part files a killed run left without a commit marker and says what is already written.
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import OutputError
from ..schema import TABLES
from .write import COMMITS, table_schema

log = logging.getLogger(__name__)


@dataclass
class Existing:
    """What an output folder already holds, for `--resume`."""

    articles: dict[tuple[str, str], int]
    rejects: set[tuple[str, int]]
    options_hashes: set[str]
    removed: list[str]


def committed_state(out_dir: Path) -> Existing:
    """Remove uncommitted parts (a killed run's half shard) and read what the folder holds.

    Articles are keyed by (id, content_hash) with a count, so identical duplicates in the
    input are also resumed exactly once each.
    """
    import polars as pl

    commits = {p.name for p in (out_dir / COMMITS).glob("*.parquet")} if (out_dir / COMMITS).is_dir() else set()
    removed: list[str] = []
    for t in TABLES:
        folder = out_dir / t
        if not folder.is_dir():
            continue
        for f in folder.rglob("*"):
            if f.is_file() and ((f.name.startswith(".") and ".tmp-" in f.name) or
                                (f.suffix == ".parquet" and f.name not in commits and not f.name.endswith("-empty.parquet"))):
                f.unlink()
                removed.append(str(f.relative_to(out_dir)))
    articles: dict[tuple[str, str], int] = {}
    hashes: set[str] = set()
    files = sorted((out_dir / "articles").rglob("*.parquet")) if (out_dir / "articles").is_dir() else []
    for f in files:
        df = pl.read_parquet(f, columns=["id", "content_hash", "options_hash"], hive_partitioning=False)
        hashes.update(h for h in df["options_hash"].unique().to_list() if h)
        for rid, ch in zip(df["id"].to_list(), df["content_hash"].to_list(), strict=True):
            articles[(rid, ch)] = articles.get((rid, ch), 0) + 1
    rejects: set[tuple[str, int]] = set()
    for f in sorted((out_dir / "rejects").rglob("*.parquet")) if (out_dir / "rejects").is_dir() else []:
        df = pl.read_parquet(f, columns=["source", "line"], hive_partitioning=False)
        rejects.update(zip(df["source"].to_list(), df["line"].to_list(), strict=True))
    return Existing(articles, rejects, hashes, removed)



def read_table(out_dir: Path, name: str) -> Any:
    """A written table as a Polars frame (for tests, resume and the Python API)."""
    import polars as pl

    folder = out_dir / name
    files = sorted(folder.rglob("*.parquet"))
    if not files:
        return pl.DataFrame(schema=table_schema(name))
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")


def prepare_out(out: Path, *, overwrite: bool, resume: bool, options_hash: str) -> Existing | None:
    """Check the output folder before any work: refuse to mix runs unless told how.

    A non-empty folder needs `--resume` (same options: continue) or `--overwrite` (replace);
    `--resume` against a run made with other options is refused. Returns what a resumed run
    must skip.
    """
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} exists and is not a folder")
    existing: Existing | None = None
    if out.exists() and any(out.iterdir()):
        if overwrite:
            for t in (*TABLES, COMMITS, "wide.parquet", "run.json"):
                target = out / t
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        elif resume:
            previous = read_manifest(out)
            existing = committed_state(out)
            hashes = set(existing.options_hashes)
            if previous.get("options_hash"):
                hashes.add(previous["options_hash"])
            if not hashes and not (out / "articles").is_dir():
                raise OutputError(f"--out {out} holds no summarize run to resume; use another folder or --overwrite")
            if hashes - {options_hash}:
                raise OutputError(
                    f"--out {out} holds a run made with different options (options hash {', '.join(sorted(hashes))}, "
                    f"now {options_hash}); rerun with the same options, or use --overwrite to replace it"
                )
            if existing.removed:
                log.warning("removed %d incomplete part files of an interrupted run", len(existing.removed))
        else:
            raise OutputError(f"--out {out} is not empty; use --resume to continue the run there, or --overwrite to replace it")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"cannot write to --out {out}: {exc.strerror or exc}") from exc
    return existing


def read_manifest(out: Path) -> dict[str, Any]:
    """The folder's `run.json` as a dict; empty when there is none or it cannot be read."""
    try:
        data = json.loads((out / "run.json").read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}

