"""Articles per second with the Ray engine and 1, 2, ... local workers, against the local engine.

Every configuration runs the same job through `summarize.api.run` (read, detect, summarize,
translate the summary, write the tables) on the same articles: the sample articles repeated
with ids of their own. Ray starts once (`ray.init(num_cpus=CORES)`, timed apart); each Ray run
then starts its own actor pool, whose start-up (imports, model loading) is part of its wall
time. Two rates are printed per configuration:

    end-to-end: articles / wall time of the whole run;
    steady:     articles after the first shard / time from the first shard to the last,
                i.e. the rate once every worker has loaded its models, which is what a long
                run on a cluster approaches.

The driver's own cost is measured too (the driver is this process): its CPU seconds during the
run (`time.process_time`, all its threads, Ray's included) per shard, and its peak RSS sampled
every 0.1 s, with the growth over the RSS before the run, and the same for its private memory (RssAnon:
RSS also counts the pages of Ray's shared object store it has mapped). `--summary-only` drops the translation
so that tiny-model workers go fast enough to push large inputs through the driver. `--driver-only`
goes further: a registry whose one summarizer serves only Swahili (not among the articles), so every
article becomes an `error` row for want of a model and no model is loaded; the workers only read,
detect and write, and the driver does everything it does in a real run (reading, blocks, dispatch,
commits, manifest), at input sizes (100,000 articles) the models could not process on 2 cores.

Models: `tiny` (the test models: overheads dominate) or `small` (random weights with the real
sizes of t5-small and opus-mt, built once by `benchmarks/throughput.py`'s builder under
`$SUMMARIZE_CACHE/bench`). Each Ray worker reserves `--cpus-per-worker` CPUs, and Ray sets its
OMP_NUM_THREADS (torch's threads) to that; the local engine runs with `--local-threads` torch
threads (a comma-separated list runs it once per value). Leave OMP_NUM_THREADS unset: Ray
would pass it to every worker as it is.

Usage: python benchmarks/ray_scaling.py [--models tiny|small] [--articles N] [--workers 1,2]
                                         [--shard-size N] [--summary-only] [--json FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from summarize.cli.app import JEMALLOC_CONF, JEMALLOC_ENV  # noqa: E402

# What the console command does before Polars loads (see summarize.cli.app.main), so the driver's
# memory here is the command's.
os.environ.setdefault(JEMALLOC_ENV, JEMALLOC_CONF)

from summarize import api  # noqa: E402
from summarize.options import GenerationOptions, RunOptions  # noqa: E402


def models(kind: str, say: Callable[[str], None]) -> tuple[Path, Path]:
    """(summary model, translation model) folders."""
    if kind == "tiny":
        from summarize.testing.tiny import build_tiny_models

        cache = Path(os.environ.get("SUMMARIZE_TINY_DIR") or Path.home() / ".cache" / "summarize" / "bench" / "tiny-all")
        tiny = build_tiny_models(cache, ["t5", "m2m100"])
        return tiny["t5"], tiny["m2m100"]
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import bench_dir
    from throughput import build_models  # the real-size builder lives with that benchmark

    return build_models(bench_dir(), say)


def workload(path: Path, n: int) -> None:
    rows = [json.loads(line) for line in (ROOT / "samples" / "articles.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({**rows[i % len(rows)], "id": f"b{i:05d}"}, ensure_ascii=False) + "\n")


def anon_rss() -> int:
    """This process's private (anonymous) resident memory, Linux's RssAnon; 0 where unknown.

    RSS also counts the pages of Ray's shared-memory object store that the driver has touched
    (every block it puts and every result it gets are mapped from there); those belong to the
    store, which bounds and reuses them (`object_store_memory`), not to the driver's heap."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class PeakRss:
    """This process's peak RSS, and peak private RSS, while the block runs, sampled on a thread."""

    def __enter__(self) -> PeakRss:
        import psutil

        self._proc = psutil.Process()
        self.before = self.peak = self._proc.memory_info().rss
        self.anon_before = self.anon_peak = anon_rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, self._proc.memory_info().rss)
            self.anon_peak = max(self.anon_peak, anon_rss())

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def timed_run(inp: Path, out: Path, options: RunOptions, engine: Any, ok_exit: int = 0) -> dict[str, float]:
    """Wall time of one run, the time its first shard came back, and the driver's CPU and memory."""
    marks: list[float] = []
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    with PeakRss() as rss:
        info = api.run([inp], out, options, engine=engine, overwrite=True,
                       progress=lambda _n: marks.append(time.perf_counter()))
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - t0
    if info.exit_code != ok_exit:
        raise SystemExit(f"run failed: {info.counts}, {info.rejected} rejected")
    n = sum(info.counts.values())
    first = marks[0] - t0
    steady = (n - options.shard_size) / (marks[-1] - marks[0]) if len(marks) > 1 else float("nan")
    return {"articles": n, "wall_s": round(wall, 2), "first_shard_s": round(first, 2),
            "end_to_end_per_s": round(n / wall, 3), "steady_per_s": round(steady, 3), "shards": len(marks),
            "driver_cpu_s": round(cpu, 2), "driver_cpu_ms_per_shard": round(1000 * cpu / max(len(marks), 1), 2),
            "driver_cpu_share": round(cpu / wall, 3), "driver_peak_rss_mb": round(rss.peak / 2**20, 1),
            "driver_rss_growth_mb": round((rss.peak - rss.before) / 2**20, 1),
            "driver_peak_anon_mb": round(rss.anon_peak / 2**20, 1),
            "driver_anon_growth_mb": round((rss.anon_peak - rss.anon_before) / 2**20, 1)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", choices=("tiny", "small"), default="tiny")
    parser.add_argument("--articles", type=int, default=48)
    parser.add_argument("--workers", default="1,2", help="comma-separated pool sizes to run")
    parser.add_argument("--cpus-per-worker", type=float, default=1.0)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2, help="CPUs Ray may use (ray.init num_cpus)")
    parser.add_argument("--shard-size", type=int, default=4)
    parser.add_argument("--summary-tokens", type=int, default=24)
    parser.add_argument("--local-threads", default="1", help="torch threads of the local engine runs, comma-separated")
    parser.add_argument("--no-local", action="store_true", help="skip the local engine baseline")
    parser.add_argument("--summary-only", action="store_true", help="no translation (fast workers, for driver figures)")
    parser.add_argument("--driver-only", action="store_true",
                        help="no article has a model (error rows, no model loaded): the driver's cost on large inputs")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    args = parser.parse_args(argv)

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    logging.basicConfig(level=logging.ERROR)
    warnings.filterwarnings("ignore")
    summary_model, translation_model = models(args.models, say)
    options = RunOptions(
        to=("de",), translate=() if args.summary_only else ("summary",), summary_model=str(summary_model), translation_model=str(translation_model),
        summary=GenerationOptions(max_new_tokens=args.summary_tokens, num_beams=1),
        translation=GenerationOptions(max_new_tokens=args.summary_tokens, num_beams=1, no_repeat_ngram_size=0),
        shard_size=args.shard_size, device="cpu",
        # The sample texts repeat: with the reuse memory most shards of a worker curve would cost
        # nothing. The driver figures keep it on (their workers then only detect from memory and
        # write), so that the driver, not the workers, is what limits the run.
        reuse=args.driver_only,
    )
    ok_exit = 0
    if args.driver_only:
        registry = Path(tempfile.mkdtemp(prefix="ray-scaling-reg-")) / "registry.toml"
        registry.write_text(f'replace = true\n\n[[summarization]]\nid = "{summary_model}"\nfamily = "t5"\n'
                            'languages = ["sw"]\nlicence = "apache-2.0"\n', encoding="utf-8")
        options = dataclasses.replace(options, summary_model=None, translation_model=None, registry=str(registry),
                                      translate=())
        ok_exit = 1  # every article is an error row
    figures: dict[str, Any] = {
        "models": args.models, "articles": args.articles, "shard_size": args.shard_size, "cores": args.cores,
        "cpus_per_worker": args.cpus_per_worker, "summary_only": args.summary_only, "driver_only": args.driver_only,
        "loadavg_start": [round(x, 2) for x in os.getloadavg()], "runs": {},
    }
    work = Path(tempfile.mkdtemp(prefix="ray-scaling-"))
    try:
        inp = work / "in.jsonl"
        workload(inp, args.articles)
        if not args.no_local:
            import torch

            for threads in (int(t) for t in args.local_threads.split(",")):
                torch.set_num_threads(threads)
                figures["runs"][f"local-{threads}t"] = r = timed_run(inp, work / "local", options, None, ok_exit)
                say(f"local engine, {threads} torch thread(s): {r}")
        import ray

        from summarize.engines.ray import RayEngine

        t0 = time.perf_counter()
        ray.init(address="local", num_cpus=args.cores, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        figures["ray_init_s"] = round(time.perf_counter() - t0, 2)
        for n in (int(w) for w in args.workers.split(",")):
            engine = RayEngine(options, workers=n, cpus_per_worker=args.cpus_per_worker)
            figures["runs"][f"ray-{n}w"] = r = timed_run(inp, work / f"ray-{n}", options, engine, ok_exit)
            say(f"ray, {n} worker(s): {r}")
        ray.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"{args.models} models, {args.articles} articles, shards of {args.shard_size}, {args.cores} cores "
          f"(load {figures['loadavg_start']} -> {figures['loadavg_end']}); ray.init {figures['ray_init_s']}s")
    print(f"{'engine':<10} {'wall s':>8} {'1st shard s':>12} {'articles/s':>11} {'steady/s':>9} "
          f"{'drv ms/shard':>12} {'drv cpu':>8} {'drv MB':>7} {'+MB':>6}")
    for name, r in figures["runs"].items():
        print(f"{name:<10} {r['wall_s']:>8} {r['first_shard_s']:>12} {r['end_to_end_per_s']:>11} {r['steady_per_s']:>9} "
              f"{r['driver_cpu_ms_per_shard']:>12} {r['driver_cpu_share']:>8} {r['driver_peak_rss_mb']:>7} "
              f"{r['driver_rss_growth_mb']:>6}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
