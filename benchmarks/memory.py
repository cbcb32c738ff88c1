"""Peak memory against input size: a run over 10,000 articles must peak within 10% of one over 1,000 (issue 16).

    python benchmarks/memory.py [--small 1000] [--large 10000] [--json FILE]

Each size runs in a fresh process (tiny local models, summaries plus identity translations, the
default shard size), which reports its RSS once the models are loaded and its peak RSS; the figure
that matters is the growth beyond the loaded models.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys
from pathlib import Path
import psutil
from summarize import api
from summarize.options import GenerationOptions, ReadOptions, RunOptions
inp, out, t5 = sys.argv[1:4]
fast = GenerationOptions(max_new_tokens=4, num_beams=1, no_repeat_ngram_size=0, batch_size=64)
options = RunOptions(summary_model=t5, translation_model=t5, to=("en",), summary=fast, translation=fast)
proc = psutil.Process()
after_load = []
def probe(_):
    if not after_load:
        after_load.append(proc.memory_info().rss)
info = api.run([inp], out, options, ReadOptions(lang_col="lang"), progress=probe)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"articles": sum(info.counts.values()), "rss_after_first_shard": after_load[0], "peak_rss": peak}))
"""


def measure(n: int, work: Path, t5: Path) -> dict[str, float]:
    inp = work / f"in-{n}.jsonl"
    with inp.open("w", encoding="utf-8") as fh:
        for i in range(n):
            text = f"The council met on day {i} to discuss roads, schools and the budget for the coming year. " * 3
            fh.write(json.dumps({"id": str(i), "text": text, "lang": "en"}) + "\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    res = subprocess.run([sys.executable, "-c", CHILD, str(inp), str(work / f"out-{n}"), str(t5)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--large", type=int, default=10000)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    sys.path.insert(0, str(ROOT))
    from summarize.testing.tiny import build_tiny_models

    work = Path(tempfile.mkdtemp(prefix="summarize-memory-"))
    t5 = build_tiny_models(work / "tiny", ["t5"])["t5"]
    # The default CPU backend converts the model on first use, which loads it into torch once; a
    # warm-up run leaves the conversion cached so both measured runs only load it.
    measure(10, work, t5)
    small, large = measure(args.small, work, t5), measure(args.large, work, t5)
    mb = 2**20
    growth = (large["peak_rss"] - small["peak_rss"]) / small["peak_rss"]
    print(f"{args.small} articles: peak RSS {small['peak_rss'] / mb:.0f} MB (after the first shard {small['rss_after_first_shard'] / mb:.0f} MB)")
    print(f"{args.large} articles: peak RSS {large['peak_rss'] / mb:.0f} MB (after the first shard {large['rss_after_first_shard'] / mb:.0f} MB)")
    print(f"peak RSS growth for {args.large // args.small}x the articles: {growth:+.1%} (target within 10%)")
    if args.json:
        args.json.write_text(json.dumps({"small": small, "large": large, "growth": growth}, indent=2) + "\n")
    return 0 if growth <= 0.10 else 1  # the target bounds growth; less is fine


if __name__ == "__main__":
    raise SystemExit(main())
