"""The Ray engine on a local Ray instance: same tables as the local engine, resume, per-row errors, dead workers.

Ray starts once for the module (`ray.init(num_cpus=2)`, seconds); each run still starts its own
actor pool, so every test makes several checks per run.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from summarize import api
from summarize.errors import ModelError
from tests.conftest import articles, invoke, options, read, sample_articles, write_jsonl

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.ray

# `reused`: which actor meets a repeated text first depends on timing
IGNORED = ("run_id", "duration_ms", "processed_at", "reused")
SORT = {"articles": ["id"], "translations": ["id", "field", "target_lang"],
        "segments": ["id", "field", "target_lang", "seg_index"], "rejects": ["source", "line"]}


@pytest.fixture(scope="module", autouse=True)
def ray_local() -> Iterator[None]:
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


def tables(out: Path) -> dict[str, pl.DataFrame]:
    return {t: read(out, t).drop(IGNORED, strict=False).sort(keys) for t, keys in SORT.items()}


def committed(out: Path, table: str) -> int:
    """Rows of `table` that commit markers list (workers may have staged parts of later shards that
    no marker lists yet, under hidden names that no reader sees; --resume deletes them)."""
    return sum(p["rows"] for m in (out / "_summarize" / "commits").glob("*.json")
               for p in json.loads(m.read_text())["parts"] if p["table"] == table)


def assert_same_tables(a: Path, b: Path) -> None:
    ta, tb = tables(a), tables(b)
    for name in SORT:
        assert ta[name].height == tb[name].height, name
        assert ta[name].to_dicts() == tb[name].to_dicts(), name


def test_same_tables_as_the_local_engine_via_api_and_cli(tmp_path: Path, tiny: dict[str, Path]) -> None:
    from summarize.engines.ray import RayEngine

    recs: list[dict[str, Any] | str] = [*articles(7)]
    recs[3:3] = ['{"id": "broken", "text": ', {"id": "empty", "text": ""}]  # a reject and a skipped row
    inp = write_jsonl(tmp_path / "in.jsonl", recs)
    opts = options(tiny)
    local = api.run([inp], tmp_path / "local", opts)
    t0 = time.perf_counter()
    engine = RayEngine(opts, workers=2)
    remote = api.run([inp], tmp_path / "ray", opts, engine=engine)
    print(f"ray api run: {time.perf_counter() - t0:.1f}s")
    assert remote.exit_code == local.exit_code == 1  # the reject
    assert remote.counts == local.counts == {"ok": 7, "skipped": 1}
    assert remote.rejected == local.rejected == 1
    assert_same_tables(tmp_path / "local", tmp_path / "ray")
    # Input order, one part per shard merged into one at the run's end, models known to the manifest.
    arts = read(tmp_path / "ray", "articles")
    assert arts["row_index"].to_list() == list(range(8))
    assert len(list((tmp_path / "ray" / "articles").glob("*.parquet"))) == 1
    assert engine.models_used.keys() == local.models.keys() == {str(tiny["t5"]), str(tiny["m2m100"])}
    manifest = json.loads((tmp_path / "ray" / "run.json").read_text())
    untimed = {m: {k: v for k, v in e.items() if k != "load_seconds"} for m, e in local.models.items()}
    assert manifest["state"] == "done" and {
        m: {k: v for k, v in e.items() if k != "load_seconds"} for m, e in manifest["models"].items()
    } == json.loads(json.dumps(untimed))

    t0 = time.perf_counter()
    res = invoke(["run", str(inp), "--out", str(tmp_path / "cli"), "--engine", "ray", "--workers", "1",
                  "--summary-model", str(tiny["t5"]), "--translation-model", str(tiny["m2m100"]), "--to", "en,fr",
                  "--translate", "summary,title", "--max-new-tokens", "6", "--beams", "1", "--translation-beams", "1",
                  "--translation-max-new-tokens", "8", "--shard-size", "2", "--quiet"])
    print(f"ray cli run: {time.perf_counter() - t0:.1f}s")
    assert res.exit_code == 1, res.output
    assert_same_tables(tmp_path / "local", tmp_path / "cli")


def test_resume_after_an_interrupted_ray_run(tmp_path: Path, tiny: dict[str, Path]) -> None:
    from summarize.engines.ray import RayEngine

    inp = write_jsonl(tmp_path / "in.jsonl", articles(8))
    opts = options(tiny)
    out = tmp_path / "ray"
    shards_seen = 0

    def stop_after_two(_n: int) -> None:
        # As a SIGINT would: `api.run` stops after the shard in flight; the Ray execution is torn down.
        nonlocal shards_seen
        shards_seen += 1
        if shards_seen == 2:
            raise KeyboardInterrupt

    first = api.run([inp], out, opts, engine=RayEngine(opts, workers=2), progress=stop_after_two)
    assert first.interrupted == "SIGINT" and first.exit_code == 130
    assert committed(out, "articles") == 4
    second = api.run([inp], out, opts, engine=RayEngine(opts, workers=2), resume=True)
    assert second.exit_code == 0 and second.resumed == 4
    assert second.counts == {"ok": 8}
    api.run([inp], tmp_path / "local", opts)
    assert_same_tables(tmp_path / "local", out)  # every article exactly once, as locally
    # Nothing left to do: a third run reads, skips everything and starts no actor.
    third = api.run([inp], out, opts, engine=RayEngine(opts), resume=True)
    assert third.resumed == 8 and third.exit_code == 0


def test_per_article_errors_stay_rows_and_fatal_errors_stay_themselves(tmp_path: Path, tiny: dict[str, Path]) -> None:
    from summarize.engines.ray import RayEngine

    # A registry with a summarizer for English and German only, and no English pivot: French
    # articles have no route, which is an error of their rows, not of their Ray batch.
    registry = tmp_path / "registry.toml"
    registry.write_text(f"""
replace = true

[[summarization]]
id = "{tiny["t5"]}"
family = "t5"
languages = ["en", "de"]
licence = "apache-2.0"

[[translation]]
id = "{tiny["m2m100"]}"
family = "m2m100"
languages = ["en", "de", "fr"]
licence = "mit"
""", encoding="utf-8")
    by_id = {r["id"]: r for r in sample_articles()}
    recs = [by_id[i] for i in ("en-001", "fr-001", "de-001", "fr-002", "en-002")]
    inp = write_jsonl(tmp_path / "in.jsonl", recs)
    opts = options(tiny, summary_model=None, translation_model=None, registry=str(registry), shard_size=5)
    info = api.run([inp], tmp_path / "ray", opts, engine=RayEngine(opts, workers=1))
    assert info.exit_code == 1 and info.counts == {"ok": 3, "error": 2}
    arts = read(tmp_path / "ray", "articles")
    status = dict(zip(arts["id"], arts["status"], strict=True))
    assert status == {"en-001": "ok", "fr-001": "error", "de-001": "ok", "fr-002": "error", "en-002": "ok"}
    errors = arts.filter(pl.col("status") == "error")["error"].to_list()
    assert all("no summarization model for fr" in e for e in errors)
    api.run([inp], tmp_path / "local", opts)
    assert_same_tables(tmp_path / "local", tmp_path / "ray")

    # A model that cannot be loaded stops the run locally with a ModelError (exit 2); on Ray too,
    # as the same exception rather than a Ray traceback.
    broken = tmp_path / "not-a-model"
    broken.mkdir()
    bad = options(tiny, summary_model=str(broken))
    with pytest.raises(ModelError):
        api.run([inp], tmp_path / "bad", bad, engine=RayEngine(bad))


def _actor_pids() -> set[int]:
    import psutil

    # Only this test's own Ray instance (its raylet is a child of this process): the test module
    # of the multi-node cluster may be running its own actors in another pytest worker.
    pids = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if any("ShardActor" in part for part in p.cmdline()):
                pids.add(p.pid)
        except psutil.Error:  # gone meanwhile
            continue
    return pids


def _kill_actor_after_commit(out: Path, killed: list[int]) -> threading.Thread:
    """SIGKILL the running actors as soon as one more shard is committed (the next ones are in flight)."""
    import os
    import signal

    def commits() -> int:
        folder = out / "_summarize" / "commits"
        return len(list(folder.iterdir())) if folder.is_dir() else 0

    before = commits()

    def kill() -> None:
        end = time.time() + 240
        while time.time() < end:
            pids = _actor_pids()
            if pids and commits() > before:
                for pid in pids:
                    os.kill(pid, signal.SIGKILL)
                killed.extend(pids)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def test_a_killed_worker_is_retried_or_reported_and_every_article_written_once(tmp_path: Path, tiny: dict[str, Path]) -> None:
    pytest.importorskip("psutil")
    from summarize.engines.ray import RayEngine, WorkerError

    recs = articles(12)
    inp = write_jsonl(tmp_path / "in.jsonl", recs)
    opts = options(tiny)
    out = tmp_path / "ray"

    # Without retries the shard in flight is lost: an expected error that says to resume.
    killed: list[int] = []
    killer = _kill_actor_after_commit(out, killed)
    with pytest.raises(WorkerError, match="--resume"):
        api.run([inp], out, opts, engine=RayEngine(opts, workers=1, max_task_retries=0))
    killer.join()
    assert killed, "no actor was killed"
    written = committed(out, "articles")
    assert 2 <= written < 12

    # With them (the default) Ray restarts the actor and reruns the shard; the run completes.
    killed.clear()
    killer = _kill_actor_after_commit(out, killed)
    info = api.run([inp], out, opts, engine=RayEngine(opts, workers=1), resume=True)
    killer.join()
    assert killed, "no actor was killed"
    assert info.exit_code == 0 and info.resumed == written and info.counts == {"ok": 12}
    arts = read(out, "articles")
    assert sorted(arts["id"].to_list()) == [r["id"] for r in recs]  # exactly once
    tr = read(out, "translations")
    assert set(Counter(zip(tr["id"], tr["field"], tr["target_lang"], strict=True)).values()) == {1}
    assert tr.height == 12 * 2 * 2
    seg = read(out, "segments")
    assert set(Counter(zip(seg["id"], seg["field"], seg["target_lang"], seg["seg_index"], strict=True)).values()) == {1}
    assert not _actor_pids() & set(killed)


def test_worker_output_becomes_log_records_without_colours_and_off_stdout(caplog: pytest.LogCaptureFixture,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from summarize.engines.ray import _forward

    caplog.set_level(logging.INFO, logger="summarize.engines.ray.worker")
    _forward({"pid": 4242, "ip": "10.0.0.2", "actor_name": "ShardActor", "is_err": True,
              "lines": ["\x1b[36m/x.py:3: UserWarning: careful\x1b[0m", "  warnings.warn('careful')", ""]})
    _forward({"pid": 4243, "is_err": False, "lines": ["a print"]})
    _forward({"pid": "raylet", "is_err": False, "lines": ["Raylet is terminated.", "    [state-dump] ..."]})
    _forward({"pid": "autoscaler", "is_err": False,
              "lines": ["2026-12-07 INFO autoscaler.py:147 -- The autoscaler took 0.0 seconds"]})
    got = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert got == [
        ("WARNING", "(worker pid=4242) /x.py:3: UserWarning: careful"),
        ("WARNING", "(worker pid=4242)   warnings.warn('careful')"),
        ("INFO", "(worker pid=4243) a print"),
        ("WARNING", "(raylet) Raylet is terminated.\n    [state-dump] ..."),
    ]  # the autoscaler's periodic log is not an event: dropped, as Ray's own printing drops it
    assert caplog.records[0].__dict__["fields"] == {"pid": 4242, "ip": "10.0.0.2", "actor": "ShardActor",
                                                    "stream": "stderr"}
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""  # nothing printed by Ray itself, above all not on stdout


@pytest.mark.parametrize("quiet", [False, True])
def test_a_new_local_instance_logs_json_only_and_quiet_silences_it(tmp_path: Path, tiny: dict[str, Path],
                                                                  quiet: bool) -> None:
    """The real command starting its own Ray: what Ray logs while it starts (such as its token
    authentication notice) and the workers' output are JSON records; --quiet leaves none of them."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    inp = write_jsonl(tmp_path / "in.jsonl", articles(2))
    args = ["run", str(inp), "--out", str(tmp_path / "out"), "--summary-model", str(tiny["t5"]),
            "--translation-model", str(tiny["m2m100"]), "--to", "en", "--max-new-tokens", "4", "--engine", "ray",
            "--workers", "1", "--no-reuse", "--log-format", "json", *(["--quiet"] if quiet else [])]
    # As from a shell: this process's own Ray (the module's instance) set RAY_AUTH_MODE here.
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_MODE")}
    proc = subprocess.run([sys.executable, "-m", "summarize.cli", *args], cwd=ROOT, capture_output=True, timeout=300,
                          env={**env, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    lines = proc.stderr.decode().splitlines()
    docs = []
    for line in lines:
        doc = json.loads(line)  # a plain line fails here
        assert isinstance(doc, dict)
        docs.append(doc)
    if quiet:
        assert not [d for d in docs if d["level"] not in ("error", "critical")], docs
    else:
        assert any(d["logger"] == "summarize.engines.ray_pool" for d in docs)  # the worker started
        assert any(d["message"].startswith("this batch: 2 ok") for d in docs), docs


def test_an_actor_reuses_what_another_actor_made_earlier_in_the_run(tmp_path: Path, tiny: dict[str, Path]) -> None:
    """Two shard actors of one run (the class Ray runs, built here in the driver so that their
    order is fixed): a text actor `a` summarized is reused by actor `b`, which had started before."""
    from summarize import io
    from summarize.engines.ray_worker import ShardActor, block
    from summarize.reuse import counts
    from summarize.schema import Article

    opts = options(tiny, to=("en",), translate=("summary",))
    texts = [a["text"] for a in sample_articles()[:2]]
    make = lambda i, text: Article(f"x{i}", i, "in.jsonl", i + 1, text, None, None, {})  # noqa: E731
    memory = (io.files.uri(tmp_path), "run-20261207-aaaaaaaa", True)
    a, b = (ShardActor(opts, None, {}, memory) for _ in range(2))

    first_b = b.process(block(0, [make(0, texts[0])], []))  # b starts: the store is empty
    made = a.process(block(1, [make(1, texts[1])], []))  # a makes the summary of texts[1]
    again = b.process(block(2, [make(2, texts[1])], []))  # b meets the same text under another id
    assert first_b.error is made.error is again.error is None
    assert counts(made.results)["articles"] == {"generated": 1, "reused": 0}
    assert counts(again.results)["articles"] == {"generated": 0, "reused": 1}
    assert again.results[0].summary == made.results[0].summary
    # The two shards that made something stored it; b's reuse stored nothing again.
    assert [f.name for f in io.memory.memory_files(tmp_path)] == [f"{memory[1]}-00000{n}.memory" for n in (1, 2)]
