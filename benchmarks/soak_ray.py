"""Distributed soak: one `summarize run --engine ray` on a 3-node Ray cluster whose worker nodes
are killed (no grace) and replaced every N committed shards; then every check of the output.

    python benchmarks/soak_ray.py [--articles 10000] [--shard-size 50] [--every 20] [--json FILE]

The cluster is `ray.cluster_utils.Cluster` on this machine: a head with no CPUs (the driver's
node) and two worker nodes of one CPU each, each a raylet of its own. The run uses the tiny
local models with two workers, summary plus one translation, `--log-format json`. Every
`--every` committed shards the script SIGKILLs one worker node's processes
(`remove_node(allow_graceful=False)`) and adds a fresh node. At the end it checks: exit status
0; every input article in `articles/` exactly once, with status ok; every (id, field, target)
once in `translations/`; the Parquet files on disk exactly those the commit markers list (nothing
a dead worker wrote is visible); the manifest's counts equal the input; every stderr line one
JSON object; and, where this version has it, `summarize check`. Prints one JSON document of
figures (wall time, articles/s, nodes killed, workers lost, driver CPU and peak RSS) and exits 1
on any failed check.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def workload(path: Path, n: int) -> list[str]:
    rows = [json.loads(line) for line in (ROOT / "samples" / "articles.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    ids = []
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            ids.append(f"s{i:06d}")
            fh.write(json.dumps({**rows[i % len(rows)], "id": ids[-1]}, ensure_ascii=False) + "\n")
    return ids


def commits(out: Path) -> int:
    folder = out / "_summarize" / "commits"
    return sum(1 for _ in folder.glob("*.json")) if folder.is_dir() else 0


class Sampler:
    """Peak RSS and CPU seconds of one process (the driver), sampled on a thread."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.proc = psutil.Process(pid)
        self.peak_rss = 0
        self.cpu_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_rss = max(self.peak_rss, self.proc.memory_info().rss)
                t = self.proc.cpu_times()
                self.cpu_s = t.user + t.system
            except Exception:  # the process ended between two samples
                return
            time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def check_output(out: Path, ids: list[str], targets: int, fields: int) -> dict[str, Any]:
    """Every check the soak makes of the finished folder; a dict of check -> ok/failure text."""
    import polars as pl

    checks: dict[str, Any] = {}
    arts = pl.read_parquet(out / "articles")
    got = Counter(arts["id"].to_list())
    missing = set(ids) - set(got)
    dupes = [k for k, v in got.items() if v > 1]
    checks["articles_exactly_once"] = True if not missing and not dupes and len(got) == len(ids) else \
        f"{len(missing)} missing, {len(dupes)} duplicated"
    checks["all_ok"] = True if set(arts["status"].to_list()) == {"ok"} else dict(Counter(arts["status"].to_list()))
    tr = pl.read_parquet(out / "translations")
    keys = Counter(zip(tr["id"].to_list(), tr["field"].to_list(), tr["target_lang"].to_list(), strict=True))
    checks["translations_exactly_once"] = True if tr.height == len(ids) * targets * fields and \
        set(keys.values()) == {1} else f"{tr.height} rows, {sum(1 for v in keys.values() if v > 1)} keys twice"
    listed = {p["path"] for m in (out / "_summarize" / "commits").glob("*.json")
              for p in json.loads(m.read_text())["parts"]}
    on_disk = {f.relative_to(out).as_posix() for t in ("articles", "translations", "segments", "rejects")
               for f in (out / t).rglob("*") if f.is_file()}
    checks["files_equal_markers"] = True if on_disk == listed else \
        f"{len(on_disk - listed)} unlisted files, {len(listed - on_disk)} listed but missing"
    manifest = json.loads((out / "run.json").read_text())
    checks["manifest_done"] = True if manifest.get("state") == "done" else manifest.get("state")
    checks["manifest_counts"] = True if manifest.get("counts") == {"ok": len(ids)} else manifest.get("counts")
    return checks


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=10_000)
    ap.add_argument("--shard-size", type=int, default=50)
    ap.add_argument("--every", type=int, default=20, help="kill and replace a worker node every N committed shards")
    ap.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(ROOT),
           "SUMMARIZE_RAY_WAIT": "300"}
    os.environ.update(env)  # the raylets started below pass it on to their workers
    from ray.cluster_utils import Cluster

    from summarize.testing.tiny import build_tiny_models

    work = Path(tempfile.mkdtemp(prefix="summarize-soak-ray-"))
    tiny_dir = Path(os.environ.get("SUMMARIZE_TINY_DIR") or work / "tiny")
    tiny = build_tiny_models(tiny_dir, ["t5", "m2m100"])
    inp, out = work / "in.jsonl", work / "out"
    ids = workload(inp, args.articles)
    figures: dict[str, Any] = {"articles": args.articles, "shard_size": args.shard_size, "every": args.every,
                               "loadavg_start": [round(x, 2) for x in os.getloadavg()], "kills": 0}
    t0 = time.perf_counter()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        figures["cluster_start_s"] = round(time.perf_counter() - t0, 1)
        cmd = [sys.executable, "-m", "summarize.cli", "run", str(inp), "--out", str(out), "--engine", "ray",
               "--ray-address", cluster.address, "--workers", "2", "--summary-model", str(tiny["t5"]),
               "--translation-model", str(tiny["m2m100"]), "--to", "en", "--translate", "summary",
               "--max-new-tokens", "6", "--beams", "1", "--translation-beams", "1", "--translation-max-new-tokens", "8",
               "--shard-size", str(args.shard_size), "--log-format", "json"]
        t1 = time.perf_counter()
        stderr_path = work / "stderr.jsonl"
        with stderr_path.open("wb") as err:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
            sampler = Sampler(proc.pid)
            next_kill = args.every
            while proc.poll() is None:
                if commits(out) >= next_kill:
                    cluster.remove_node(next(iter(cluster.worker_nodes)), allow_graceful=False)
                    cluster.add_node(num_cpus=1)
                    figures["kills"] += 1
                    print(f"killed and replaced a worker node at {commits(out)} shards", file=sys.stderr, flush=True)
                    next_kill += args.every
                time.sleep(0.2)
            sampler.stop()
        wall = time.perf_counter() - t1
    finally:
        cluster.shutdown()
    lines = stderr_path.read_text(encoding="utf-8").splitlines()
    docs, bad = [], []
    for line in lines:
        try:
            docs.append(json.loads(line))
        except json.JSONDecodeError:
            bad.append(line[:200])
    checks: dict[str, Any] = {"exit_0": True if proc.returncode == 0 else proc.returncode,
                              "stderr_all_json": True if not bad else bad[:5]}
    if proc.returncode == 0:
        checks.update(check_output(out, ids, targets=1, fields=1))
        # `summarize check` where this version has it (a later addition); the checks above otherwise.
        cli = [sys.executable, "-m", "summarize.cli", "check"]
        if subprocess.run([*cli, "--help"], cwd=ROOT, env=env, capture_output=True).returncode == 0:
            done = subprocess.run([*cli, str(out)], cwd=ROOT, env=env, capture_output=True, text=True)
            checks["summarize_check"] = True if done.returncode == 0 else (done.stderr or done.stdout)[-500:]
    shards = -(-args.articles // args.shard_size)
    figures.update({
        "wall_s": round(wall, 1), "articles_per_s": round(args.articles / wall, 2), "shards": shards,
        "workers_lost": sum(1 for d in docs if str(d.get("message", "")).startswith("lost a Ray worker")),
        "workers_started": sum(1 for d in docs if "ready on node" in str(d.get("message", ""))),
        "driver_cpu_s": round(sampler.cpu_s, 2), "driver_cpu_ms_per_shard": round(1000 * sampler.cpu_s / shards, 1),
        "driver_peak_rss_mb": round(sampler.peak_rss / 2**20, 1), "stderr_lines": len(lines),
        "loadavg_end": [round(x, 2) for x in os.getloadavg()], "checks": checks,
    })
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    if args.keep:
        print(f"work folder: {work}", file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(v is True for v in checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
