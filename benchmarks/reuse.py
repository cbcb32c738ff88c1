"""Reuse by content, timed through the real `summarize run` command on a Delta dataset.

Every step is a fresh `python -m summarize.cli run` process (start-up, imports, detection, model
load and Delta commits included) on the same output folder, timed against the first run of the same
benchmark run. Inputs are English public-domain prose (`benchmarks/data/e2e_en.jsonl`, U.S. State of
the Union messages; none of it written for the project). Models: the random-weight T5 of t5-small
size that `e2e.py` uses, writing exactly `--tokens` (48) tokens per summary, and the random-weight
Marian of opus-mt size for translations into German (`throughput.build_models`; `--quick` uses the
tiny test models instead). A one-article warm-up run first converts both models for CTranslate2,
so no step pays a conversion.

Steps (batch A = `--articles` articles):

    first     A, `--to en`, into a new Delta dataset                       (the reference)
    no-reuse  A again with `--upsert --no-reuse`                           (what every rerun cost before)
    again     A again with `--upsert`                                      target <= 25% of first
    half      A with every other article corrected (one sentence added)    target <= 65% of first
    add-lang  the corrected A with `--to en,de --upsert`                   target <= 40% of first
    fresh     batch B, as many new articles, `--upsert`                    (the feed's reference)
    feed      40% of A re-delivered + 60% new articles, `--upsert`         target <= 70% of fresh

`--flat N` instead checks memory on a large rerun with the tiny models: N distinct articles are run
once, then rerun (everything reused) at N/4 and N articles; the peak RSS of each rerun process is
reported (from `wait4`), with the size of the memory store.

Usage: python benchmarks/reuse.py [--articles 48] [--tokens 48] [--quick] [--flat N] [--json FILE]
Prints one JSON document on stdout (progress on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import say
from _e2e_cli import child_env

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data" / "e2e_en.jsonl"
TARGETS = {"again": 0.25, "half": 0.65, "add-lang": 0.40, "feed": 0.70}
TRANSLATION_TOKENS = 64


def records() -> list[dict[str, Any]]:
    return [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]


def write(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def timed(cmd: Sequence[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (MB, from `wait4`) of the process, and its stderr."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=ROOT, env=child_env(), stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode(errors="replace")
    if code not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} exited {code}:\n{text[-3000:]}")
    return wall, round(usage.ru_maxrss / 1024), text


def command(inp: Path, out: Path, summary: Path, translation: Path, tokens: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "summarize.cli", "run", str(inp), "--out", str(out), "--table-format", "delta",
            "--summary-model", str(summary), "--translation-model", str(translation), "--translate", "summary",
            "--max-new-tokens", str(tokens), "--min-new-tokens", str(tokens), "--beams", "1",
            "--no-repeat-ngram-size", "0", "--translation-beams", "1",
            "--translation-max-new-tokens", str(TRANSLATION_TOKENS), "--lang-col", "lang", "--quiet", *extra]


def reuse_of(out: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((out / "run.json").read_text(encoding="utf-8"))
    return doc.get("reuse", {})


def models(tiny: bool) -> tuple[Path, Path]:
    """The summary and translation model folders, built (once) in a child process: a child forked
    from a process that imported torch and built a model would report that process's peak RSS as
    its own (Linux carries the high-water mark across fork and exec)."""
    code = ("import json,sys; sys.path.insert(0, 'benchmarks'); from _common import bench_dir, say\n"
            + ("from summarize.testing.tiny import build_tiny_models as b; m = b(bench_dir() / 'tiny', ['t5', 'marian']);"
               " print(json.dumps([str(m['t5']), str(m['marian'])]))" if tiny else
               "from throughput import build_models; print(json.dumps([str(p) for p in build_models(bench_dir(), say)]))"))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=child_env(), capture_output=True, text=True,
                          check=True)
    summary, translation = json.loads(proc.stdout.strip().splitlines()[-1])
    return Path(summary), Path(translation)


def steps(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    summary, translation = models(args.quick)
    rows = [{**r, "lang": "en"} for r in records()]
    n = args.articles
    if len(rows) < 3 * n:
        raise SystemExit(f"--articles {n}: the data has {len(rows)} records, {3 * n} needed")
    a, b, c = rows[:n], rows[n:2 * n], rows[2 * n:3 * n]
    corrected = [{**r, "text": r["text"] + " This article was corrected after publication."} if i % 2 else r
                 for i, r in enumerate(a)]
    k = round(n * 0.4)
    feed = a[:k] + c[: n - k]
    files = {name: write(work / f"{name}.jsonl", data)
             for name, data in (("a", a), ("half", corrected), ("b", b), ("feed", feed), ("one", rows[-1:]))}
    out = work / "news"
    run = lambda inp, *extra: timed(command(inp, out, summary, translation, args.tokens, *extra))  # noqa: E731
    say("warm-up (converts both models once)")
    timed(command(files["one"], work / "warm", summary, translation, args.tokens, "--to", "en,de"))
    plan = [
        ("first", files["a"], ("--to", "en")),
        ("no-reuse", files["a"], ("--to", "en", "--upsert", "--allow-duplicate-batch", "--no-reuse")),
        ("again", files["a"], ("--to", "en", "--upsert", "--allow-duplicate-batch")),
        ("half", files["half"], ("--to", "en", "--upsert", "--allow-duplicate-batch")),
        ("add-lang", files["half"], ("--to", "en,de", "--upsert", "--allow-duplicate-batch")),
        ("fresh", files["b"], ("--to", "en", "--upsert", "--allow-duplicate-batch")),
        ("feed", files["feed"], ("--to", "en", "--upsert", "--allow-duplicate-batch")),
    ]
    results: dict[str, Any] = {}
    for name, inp, extra in plan:
        say(f"{name} ...")
        wall, rss, _ = run(inp, *extra)
        results[name] = {"seconds": round(wall, 2), "peak_rss_mb": rss, "reuse": reuse_of(out)}
        say(f"{name}: {wall:.1f}s, {results[name]['reuse']}")
    first, fresh = results["first"]["seconds"], results["fresh"]["seconds"]
    for name, target in TARGETS.items():
        base = fresh if name == "feed" else first
        ratio = results[name]["seconds"] / base
        results[name].update(ratio=round(ratio, 3), target=target, met=ratio <= target)
    results["no-reuse"]["ratio"] = round(results["no-reuse"]["seconds"] / first, 3)
    return {"articles": n, "tokens": args.tokens, "summary_model": str(summary), "translation_model": str(translation),
            "quick": args.quick, "steps": results}


def flat(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    t5, marian = models(True)
    base = records()
    n = args.flat
    rows = [{"id": f"f{i:06d}", "lang": "en", "title": f"Item {i}",
             "text": f"Item {i}. " + base[i % len(base)]["text"][:400]} for i in range(n)]
    out = work / "flat"
    quarter = write(work / "quarter.jsonl", rows[: n // 4])
    full = write(work / "full.jsonl", rows)
    extra = ("--to", "en", "--shard-size", "256")
    cmd = lambda inp, *more: command(inp, out, t5, marian, 8, *extra, *more)  # noqa: E731
    say(f"flat: first run of {n} articles")
    first = timed(cmd(full))
    say("flat: rerun of a quarter, then of all, everything reused")
    small = timed(cmd(quarter, "--overwrite"))
    reuse_small = reuse_of(out)
    large = timed(cmd(full, "--overwrite"))
    reuse_large = reuse_of(out)
    store = sum(f.stat().st_size for f in (out / "_summarize" / "memory").glob("*.memory"))
    return {"articles": n, "first": {"seconds": round(first[0], 1), "peak_rss_mb": first[1]},
            "rerun_quarter": {"articles": n // 4, "seconds": round(small[0], 1), "peak_rss_mb": small[1],
                              "reuse": reuse_small},
            "rerun_all": {"articles": n, "seconds": round(large[0], 1), "peak_rss_mb": large[1], "reuse": reuse_large},
            "memory_store_bytes": store}


def machine_light() -> dict[str, Any]:
    """`_common.machine()` without importing torch (which would raise this process's RSS, see `models`)."""
    import platform

    return {"cores": len(os.sched_getaffinity(0)), "python": platform.python_version(),
            "loadavg_start": [round(x, 2) for x in os.getloadavg()]}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=48)
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--quick", action="store_true", help="tiny models instead of the t5-small-size ones")
    parser.add_argument("--flat", type=int, default=0, help="check memory on a rerun of this many articles instead")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="reuse-bench-"))
    try:
        doc: dict[str, Any] = {"machine": machine_light(), "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])}
        doc["flat" if args.flat else "reuse"] = flat(args, work) if args.flat else steps(args, work)
        doc["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(doc, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
