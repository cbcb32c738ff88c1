"""A globbing reader against a writing run: does it ever count a row twice?

Runs the real `summarize run` command on a partitioned Parquet dataset (`--partition-by lang`, many
small shards, so its end-of-run merge switches many folders) while this process reads the articles
with DuckDB's default glob, `read_parquet('OUT/articles/**/*.parquet', hive_partitioning=true)`, as
fast as it can, until the run has ended. Per run it prints the reads, the reads in which an id came
twice (the merged file beside the parts it replaces), and the reads that failed after the first one
that succeeded (a file listed just before it was replaced: "No such file"), with their first
messages. Inputs: the samples' articles (`samples/articles.jsonl`) cut to 300 characters, with ids of
their own; models: the tiny test models (`make tiny`). Run from the repository root:

    .venv/bin/python benchmarks/glob_reader.py [--articles 300] [--runs 4] [--models .tiny] [--code DIR]

`--code DIR` runs the command from another checkout (for example a worktree of an earlier commit),
to compare two versions in one benchmark run.
"""

from __future__ import annotations

import argparse
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


def one_run(inp: Path, out: Path, models: Path, code: Path) -> dict[str, Any]:
    import duckdb

    cmd = [sys.executable, "-m", "summarize.cli", "run", str(inp), "--out", str(out),
           "--summary-model", str(models / "t5"), "--translation-model", str(models / "marian"),
           "--max-new-tokens", "4", "--shard-size", "2", "--partition-by", "lang", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=code, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    con = duckdb.connect()  # one per run: nothing DuckDB caches about files outlives it
    query = f"SELECT count(*), count(DISTINCT id) FROM read_parquet('{out}/articles/**/*.parquet', hive_partitioning=true)"
    reads = doubled = failed = 0
    messages: list[str] = []
    rows = ids = None
    while True:
        done = proc.poll() is not None
        try:
            rows, ids = con.sql(query).fetchone() or (0, 0)
            reads += 1
            doubled += rows != ids
        except duckdb.Error as exc:
            if reads:  # before the first shard there is nothing to read
                failed += 1
                if len(messages) < 3:
                    messages.append(str(exc)[:160])
        if done:
            break
    return {"exit": proc.returncode, "reads": reads, "reads_with_an_id_twice": doubled,
            "failed_reads": failed, "first_failures": messages, "final_rows_and_ids": [rows, ids]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--models", type=Path, default=ROOT / ".tiny", help="the tiny models' folder (make tiny)")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose command runs")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="glob-reader-") as tmp:
        inp = write_input(Path(tmp) / "in.jsonl", args.articles)
        runs = [one_run(inp, Path(tmp) / f"out-{n}", args.models.resolve(), args.code.resolve()) for n in range(args.runs)]
    print(json.dumps({"articles": args.articles, "code": str(args.code), "runs": runs}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
