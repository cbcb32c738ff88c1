"""Seconds from `summarize run` starting to its first committed shard, for a large JSONL input.

The run is the real command in a subprocess, routed through a registry (so the pre-flight has to
read the input to learn the models) to the tiny T5 summarizer, with language detection on every
article; the first commit is seen when `OUT/run.json` records one, and the run is then stopped.
Run it against two checkouts to compare them:

    SUMMARIZE_TINY_DIR=/path/tiny PYTHONPATH=. python benchmarks/start_up.py --articles 200000
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
from pathlib import Path

from summarize.testing.tiny import build_tiny_models

WORDS = ("harbour", "council", "market", "river", "report", "weather", "school", "train", "festival", "budget")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=200_000)
    ap.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    args = ap.parse_args()
    tiny = build_tiny_models(Path(os.environ.get("SUMMARIZE_TINY_DIR") or tempfile.mkdtemp()))
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "in.jsonl"
        with inp.open("w", encoding="utf-8") as fh:
            for i in range(args.articles):
                text = " ".join(rng.choice(WORDS) for _ in range(40)).capitalize() + "."
                fh.write(json.dumps({"id": f"a{i}", "title": f"News {i}", "text": text}) + "\n")
        registry = Path(tmp) / "registry.toml"
        registry.write_text(f'replace = true\n[[summarization]]\nid = "{tiny["t5"]}"\nfamily = "t5"\n'
                            'languages = ["en"]\nlicence = "apache-2.0"\n', encoding="utf-8")
        out = Path(tmp) / "out"
        cmd = [sys.executable, "-m", "summarize.cli", "run", str(inp), "--out", str(out), "--to", "en", "--registry",
               str(registry), "--max-new-tokens", "4", "--beams", "1", "--shard-size", "64", "--quiet"]
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        seconds = None
        while proc.poll() is None and time.monotonic() - start < args.timeout:
            try:
                if json.loads((out / "run.json").read_text(encoding="utf-8")).get("commits", 0) >= 1:
                    seconds = time.monotonic() - start
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate()
        print(json.dumps({"articles": args.articles, "seconds_to_first_commit": round(seconds, 1) if seconds else None,
                          "timed_out": seconds is None and proc.returncode == -9, "stderr": err[-500:]}))


if __name__ == "__main__":
    main()
