"""The Ray driver's private memory through one driver-only run: sampled as shards commit, at the end,
and after `gc` and `malloc_trim` (what the process holds, against what its allocators keep).

Same set-up as `ray_scaling.py --driver-only` (its functions: the workload, the registry with no
model, the reuse memory on so the workers keep up): the driver reads, sends, collects, commits and
merges as in a real run. Polars' allocator setting is the console command's unless the environment
has one (`_RJEM_MALLOC_CONF=` empty gives jemalloc's defaults, the behaviour before it was set).

Usage: python benchmarks/driver_memory.py --articles 300000 [--workers 2] [--json FILE]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ray_scaling as rs  # sets the console command's environment before Polars loads

from summarize import api
from summarize.options import GenerationOptions, RunOptions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=300_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    warnings.filterwarnings("ignore")
    summary_model, _ = rs.models("tiny", lambda m: print(m, file=sys.stderr))
    registry = Path(tempfile.mkdtemp(prefix="driver-memory-")) / "registry.toml"
    registry.write_text(f'replace = true\n\n[[summarization]]\nid = "{summary_model}"\nfamily = "t5"\n'
                        'languages = ["sw"]\nlicence = "apache-2.0"\n', encoding="utf-8")
    options = RunOptions(to=("de",), translate=(), registry=str(registry), shard_size=256, device="cpu",
                         summary=GenerationOptions(max_new_tokens=24, num_beams=1))
    work = Path(tempfile.mkdtemp(prefix="driver-memory-"))
    inp = work / "in.jsonl"
    rs.workload(inp, args.articles)
    import ray

    from summarize.engines.ray import RayEngine

    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    engine = RayEngine(options, workers=args.workers, cpus_per_worker=0.5)
    mb = lambda: round(rs.anon_rss() / 2**20, 1)  # noqa: E731
    t0 = time.perf_counter()
    at_shards: list[tuple[float, int, float]] = []
    api.run([inp], work / "out", options, engine=engine, overwrite=True,
            progress=lambda _n: at_shards.append((round(time.perf_counter() - t0, 1), len(at_shards) + 1, mb())))
    end = mb()
    gc.collect()
    after_gc = mb()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    doc = {"articles": args.articles, "workers": args.workers, "_RJEM_MALLOC_CONF": os.environ.get("_RJEM_MALLOC_CONF"),
           "loadavg": [round(x, 2) for x in os.getloadavg()], "wall_s": round(time.perf_counter() - t0, 1),
           "columns": ["seconds", "shards committed", "private MB"],
           "at_shards": at_shards[4::max(1, len(at_shards) // 12)] + at_shards[-1:],
           "end_mb": end, "after_gc_mb": after_gc, "after_malloc_trim_mb": mb()}
    ray.shutdown()
    print(json.dumps(doc))
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
