"""Soak test: kill a run again and again (SIGKILL at random moments), resume, and check nothing is lost.

    python benchmarks/soak.py [--articles 400] [--kills 25] [--seed 1]

Builds tiny local models, runs `summarize run` in a subprocess, kills it at a random moment,
resumes with `--resume`, and repeats until the run completes; then checks that every input
article is in `articles/` exactly once and every target once per field in `translations/`.
Prints how many kills it survived with nothing lost; exits 1 on any loss or duplicate.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def committed(out: Path) -> int:
    folder = out / "_commits"
    return len(list(folder.glob("*.parquet"))) if folder.is_dir() else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=400)
    ap.add_argument("--kills", type=int, default=25)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    import polars as pl

    from summarize.testing.tiny import build_tiny_models

    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="summarize-soak-"))
    tiny = build_tiny_models(work / "tiny", ["t5", "m2m100"])
    base = [json.loads(line) for line in (ROOT / "samples" / "articles.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    inp = work / "in.jsonl"
    with inp.open("w", encoding="utf-8") as fh:
        for i in range(args.articles):
            fh.write(json.dumps({**base[i % len(base)], "id": f"a{i:05d}"}, ensure_ascii=False) + "\n")
        fh.write("{not json\n")
    out = work / "out"
    cmd = [sys.executable, "-m", "summarize.cli", "run", str(inp), "--out", str(out), "--summary-model", str(tiny["t5"]),
           "--translation-model", str(tiny["m2m100"]), "--to", "en,fr", "--translate", "summary,title",
           "--max-new-tokens", "8", "--beams", "1", "--translation-beams", "1", "--translation-max-new-tokens", "12",
           "--shard-size", "8", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    kills = 0
    attempt = 0
    while True:
        proc = subprocess.Popen(cmd + (["--resume"] if attempt else []), cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        attempt += 1
        if kills < args.kills:
            # Kill at a random point: after 0-2 more shards are committed, plus a random moment
            # inside the next one (reading, generating or writing parts).
            goal = committed(out) + rng.randint(0, 2)
            while proc.poll() is None and committed(out) < goal:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 1.5))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                print(f"kill {kills}: {committed(out)} shards committed so far", flush=True)
                continue
        code = proc.wait()
        if code in (0, 1):
            break
        print(f"run ended with exit code {code}; resuming", flush=True)
    arts = pl.read_parquet(out / "articles")
    tr = pl.read_parquet(out / "translations")
    ids = Counter(arts["id"].to_list())
    want = {f"a{i:05d}" for i in range(args.articles)}
    per = Counter(zip(tr["id"], tr["field"], tr["target_lang"], strict=True))
    lost = want - set(ids)
    dupes = [k for k, v in ids.items() if v > 1] + [k for k, v in per.items() if v > 1]
    missing_tr = args.articles * 4 - len(per)
    rejects = pl.read_parquet(out / "rejects").height
    print(f"survived {kills} kills over {attempt} runs: {len(ids)} articles, {len(per)} translations, "
          f"{rejects} reject(s); lost {len(lost)}, duplicated {len(dupes)}, missing translations {missing_tr}")
    return 0 if not lost and not dupes and missing_tr == 0 and rejects == 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
