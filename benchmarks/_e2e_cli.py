"""Running the real `summarize run` for `e2e.py`: the command line, facts from run.json and logs, the stream.

Every run is a fresh process (`python -m summarize.cli`, the console script's entry point) with
this checkout first on PYTHONPATH, so the command timed is the code of this tree.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _common import say

if TYPE_CHECKING:
    from e2e import Settings

ROOT = Path(__file__).resolve().parents[1]
CLI_PATHS = ("torch", "ct2")
STREAM_LANGS = ("en", "de", "fr", "es", "it", "pt", "nl", "ru", "ar", "zh")
_LOADED = re.compile(r"^loaded (\S+) \((\S+)\) (?:with CTranslate2 )?on (\S+) as (\S+)")


def child_env() -> dict[str, str]:
    """This environment with the checkout first on PYTHONPATH and the Hub off."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["HF_HUB_OFFLINE"] = "1"
    return env


def call(cmd: Sequence[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run `cmd` in the checkout, timing its whole life; exit status 0 or 1 (an article failed) pass."""
    t0 = time.perf_counter()
    proc = subprocess.run(list(cmd), cwd=ROOT, env=child_env(), capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):  # 1: an article failed, which the output check reports
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return wall, proc


def cli_command(inputs: Path, out: Path, model: Path, s: Settings, backend: str | None, *extra: str) -> list[str]:
    """`summarize run` (the console script's entry point) with greedy, fixed-length summaries."""
    cmd = [sys.executable, "-m", "summarize.cli", "run", str(inputs), "--out", str(out), "--overwrite",
           "--summary-model", str(model), "--to", "en", "--max-new-tokens", str(s.tokens),
           "--min-new-tokens", str(s.tokens), "--beams", "1", "--no-repeat-ngram-size", "0", "--batch-size", str(s.batch_size), "--device", s.device,
           "--log-format", "json", *extra]
    if backend:
        cmd += ["--backend", backend]
    if s.compute_type:
        cmd += ["--compute-type", s.compute_type]
    return cmd


def loads_from_log(stderr: str) -> tuple[Counter[str], dict[str, str]]:
    """Loads per model, and how each was loaded, from the JSON log lines `loaded MODEL (family) on DEV as TYPE`."""
    loads: Counter[str] = Counter()
    how: dict[str, str] = {}
    for line in stderr.splitlines():
        # The progress bar ends in "\r" without a newline, so a log line may follow it on one line.
        start = line.find('{"time"')
        try:
            doc = json.loads(line[start:]) if start >= 0 else None
        except ValueError:
            continue
        if not isinstance(doc, dict):
            continue
        m = _LOADED.match(doc.get("message", ""))
        if m and doc.get("logger", "").startswith("summarize.backends"):
            loads[m.group(1)] += 1
            how[m.group(1)] = ("ct2 " if "CTranslate2" in doc["message"] else "torch ") + m.group(4)
    return loads, how


def run_facts(out: Path, stderr: str) -> dict[str, Any]:
    """What a finished CLI run says about itself: statuses, summary lengths, loads, run.json seconds."""
    import polars as pl

    doc = json.loads((out / "run.json").read_text(encoding="utf-8"))
    table = pl.read_parquet(out / "articles" / "**" / "*.parquet")
    loads, how = loads_from_log(stderr)
    recorded = {m: v["loads"] for m, v in doc.get("models", {}).items() if isinstance(v, dict) and "loads" in v}
    backends = {m: v["backend"] for m, v in doc.get("models", {}).items() if isinstance(v, dict) and "backend" in v}
    facts = {"counts": doc.get("counts"), "run_json_seconds": doc.get("seconds"),
             "summary_tokens": [table["summary_tokens"].min(), table["summary_tokens"].max()],
             "loads": recorded or dict(loads), "loads_source": "run.json" if recorded else "log", "engine": how,
             "backends": backends}
    for key in ("load_seconds", "first_shard_seconds", "seconds_to_first_shard"):
        if key in doc:
            facts[key] = doc[key]
    return facts


# --------------------------------------------------------------------------------------------------
# The multilingual stream


def stream_inputs(folder: Path, n: int) -> Path:
    """`n` distinct articles in STREAM_LANGS, round robin: sentence windows of the sample articles."""
    import random

    from summarize.segment import segment

    rows = [json.loads(line) for line in (ROOT / "samples" / "articles.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    pool = {lang: [[x.text for x in segment(r["text"], lang)] for r in rows if r["id"].split("-")[0] == lang]
            for lang in STREAM_LANGS}
    rng = random.Random(0)
    path = folder / "stream.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            lang = STREAM_LANGS[i % len(STREAM_LANGS)]
            sents = rng.choice(pool[lang])
            size = rng.randint(2, len(sents))
            start = rng.randint(0, len(sents) - size)
            text = " ".join(sents[start : start + size])
            fh.write(json.dumps({"id": f"s{i:05d}-{lang}", "lang": lang, "text": text}, ensure_ascii=False) + "\n")
    return path


def stream_registry(folder: Path, summarizer: Path, translator: Path) -> tuple[Path, list[str]]:
    """A user registry: one summarizer for every language, one X->en model (its own folder) per pair."""
    lines = ["replace = true", "", "[[summarization]]", f'id = "{summarizer}"', 'family = "t5"',
             f"languages = {json.dumps(list(STREAM_LANGS))}", 'licence = "apache-2.0"', "english_pivot = true"]
    models = [str(summarizer)]
    for lang in STREAM_LANGS[1:]:
        link = folder / f"marian-{lang}-en"
        link.symlink_to(translator.resolve(), target_is_directory=True)
        models.append(str(link))
        lines += ["", "[[translation]]", f'id = "{link}"', 'family = "marian"', f'languages = ["{lang}"]',
                  'targets = ["en"]', 'target_token = "required"', 'licence = "cc-by-4.0"']
    path = folder / "registry.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, models


def run_stream(t5: Path, marian: Path, s: Settings, work: Path) -> dict[str, Any]:
    """Run the stream once through the default backend; its wall time and the loads per model."""
    folder = work / "stream"
    folder.mkdir()
    inputs = stream_inputs(folder, s.stream_articles)
    registry, models = stream_registry(folder, t5, marian)
    cmd = [sys.executable, "-m", "summarize.cli", "run", str(inputs), "--out", str(folder / "out"), "--to", "en",
           "--registry", str(registry), "--lang-col", "lang", "--shard-size", str(s.stream_shard),
           "--max-new-tokens", str(s.tokens), "--beams", "1", "--no-repeat-ngram-size", "0",
           "--translation-beams", "1", "--translation-max-new-tokens", str(s.tokens), "--device", s.device,
           "--log-format", "json"]
    say(f"stream: {s.stream_articles} articles in {len(STREAM_LANGS)} languages, shards of {s.stream_shard}, "
        f"{len(models)} models")
    wall, proc = call(cmd)
    facts = run_facts(folder / "out", proc.stderr)
    loads = {m: facts["loads"].get(m, 0) for m in models}
    return {"articles": s.stream_articles, "languages": list(STREAM_LANGS), "shard_size": s.stream_shard,
            "shards": -(-s.stream_articles // s.stream_shard), "models": "tiny" if s.stream_tiny else "real-size",
            "wall_seconds": round(wall, 2), "articles_per_s": round(s.stream_articles / wall, 3),
            "loads_per_model": {Path(m).name: n for m, n in loads.items()}, "loads_total": sum(loads.values()),
            "max_loads_per_model": max(loads.values()), "loads_source": facts["loads_source"],
            "counts": facts["counts"], "engine": {Path(m).name: e for m, e in facts["engine"].items()},
            "backends": {Path(m).name: b for m, b in facts["backends"].items()},
            **{k: facts[k] for k in ("load_seconds", "first_shard_seconds") if k in facts}}
