"""Soak test: kill a run again and again (SIGKILL at random moments), resume, and check nothing is lost.

    python benchmarks/soak.py [--articles 400] [--kills 25] [--seed 1] [--modes parquet,append,delta]

Builds tiny local models, runs `summarize run` in a subprocess, kills it at a random moment,
resumes with `--resume`, and repeats until the run completes; then checks that every input
article is in `articles/` exactly once and every target once per field in `translations/`.
Modes: `parquet` (a new dataset), `append` (the killed run is an `--append` to a dataset that
already holds a first batch, which must stay intact) and `delta` (`--table-format delta`).
Prints how many kills each mode survived with nothing lost; exits 1 on any loss or duplicate.
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


MODES = ("parquet", "append", "delta")


def committed(out: Path) -> int:
    folder = out / "_summarize" / "commits"
    return len(list(folder.glob("*.json"))) if folder.is_dir() else 0


def read(out: Path, table: str, mode: str) -> Any:
    import polars as pl

    return pl.read_delta(str(out / table)) if mode == "delta" else pl.read_parquet(out / table)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=400)
    ap.add_argument("--kills", type=int, default=25, help="kills per mode")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--modes", default=",".join(MODES))
    args = ap.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    from summarize.testing.tiny import build_tiny_models

    work = Path(tempfile.mkdtemp(prefix="summarize-soak-"))
    tiny = build_tiny_models(work / "tiny", ["t5", "m2m100"])
    failed = 0
    for mode in args.modes.split(","):
        if mode not in MODES:
            ap.error(f"--modes takes {', '.join(MODES)}; not {mode}")
        failed += soak(mode, args, work / mode, tiny)
    return 1 if failed else 0


def soak(mode: str, args: argparse.Namespace, work: Path, tiny: dict[str, Path]) -> int:
    """One mode's kill/resume loop and its check; 0 when nothing was lost or duplicated."""
    rng = random.Random(args.seed)
    work.mkdir(parents=True)
    base = [json.loads(line) for line in (ROOT / "samples" / "articles.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    inp = work / "in.jsonl"
    with inp.open("w", encoding="utf-8") as fh:
        for i in range(args.articles):
            fh.write(json.dumps({**base[i % len(base)], "id": f"a{i:05d}"}, ensure_ascii=False) + "\n")
        fh.write("{not json\n")
    out = work / "out"
    common = ["--out", str(out), "--summary-model", str(tiny["t5"]),
              "--translation-model", str(tiny["m2m100"]), "--to", "en,fr", "--translate", "summary,title",
              "--max-new-tokens", "8", "--beams", "1", "--translation-beams", "1", "--translation-max-new-tokens", "12",
              "--shard-size", "8", "--quiet", *(["--table-format", "delta"] if mode == "delta" else [])]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first: set[str] = set()
    if mode == "append":  # a dataset that already holds a first batch, which the killed appends must not touch
        first_inp = work / "first.jsonl"
        first_inp.write_text("".join(json.dumps({**a, "id": f"first{i}"}, ensure_ascii=False) + "\n"
                                     for i, a in enumerate(base)), encoding="utf-8")
        subprocess.run([sys.executable, "-m", "summarize.cli", "run", str(first_inp), *common], cwd=ROOT, env=env,
                       check=True, stdout=subprocess.DEVNULL)
        first = {f"first{i}" for i in range(len(base))}
    cmd = [sys.executable, "-m", "summarize.cli", "run", str(inp), *common]
    kills = 0
    attempt = 0
    while True:
        # append: `--append --resume` continues the batch once it was started, else appends it
        extra = [*(["--resume"] if attempt else []), *(["--append"] if mode == "append" else [])]
        proc = subprocess.Popen(cmd + extra, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
                print(f"{mode}: kill {kills}: {committed(out)} shards committed so far", flush=True)
                continue
        code = proc.wait()
        if code in (0, 1):
            break
        print(f"{mode}: run ended with exit code {code}; resuming", flush=True)
    arts = read(out, "articles", mode)
    tr = read(out, "translations", mode)
    ids = Counter(arts["id"].to_list())
    want = {f"a{i:05d}" for i in range(args.articles)} | first
    per = Counter(zip(tr["id"], tr["field"], tr["target_lang"], strict=True))
    lost = want - set(ids)
    dupes = [k for k, v in ids.items() if v > 1] + [k for k, v in per.items() if v > 1]
    missing_tr = len(want) * 4 - len(per)
    rejects = read(out, "rejects", mode).height
    print(f"{mode}: survived {kills} kills over {attempt} runs: {len(ids)} articles, {len(per)} translations, "
          f"{rejects} reject(s); lost {len(lost)}, duplicated {len(dupes)}, missing translations {missing_tr}", flush=True)
    return 0 if not lost and not dupes and missing_tr == 0 and rejects == 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
