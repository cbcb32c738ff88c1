"""The Ray engine on a real multi-node Ray cluster that loses a node mid-run.

`ray.cluster_utils.Cluster` starts a head with no CPUs and two worker nodes of one CPU each, each
a raylet of its own on this machine (one cluster for the module: starting it takes tens of
seconds on a busy machine). Each test runs the real `summarize run --engine ray --workers 2
--ray-address ...` in a child process, removes a worker node without grace once the run has
committed a shard (its raylet and actors are SIGKILLed), with a new node added just before, and checks:
exit 0, every article (and translation) exactly once, nothing a dead worker wrote visible to a
reader of the folder, the new node used, and every stderr line one JSON object.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from summarize import io
from tests.conftest import ROOT, write_jsonl
from tests.sigkill import commits, many_articles, spawn

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")

pytestmark = pytest.mark.ray

RUN_TIMEOUT_S = 420


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    # Raylets start workers with this process's environment: this checkout's package, offline.
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "HF_HUB_OFFLINE", "TOKENIZERS_PARALLELISM")}
    os.environ.update({"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    c = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    try:
        for _ in range(2):
            c.add_node(num_cpus=1)
        c.wait_for_nodes()
        yield c
    finally:
        c.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class Lines:
    """A child's stderr, read line by line on a thread (so the test can wait for a line)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            with self._cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()

    def wait_for(self, text: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> bool:
        end = time.time() + timeout
        with self._cond:
            while not any(text in line for line in self.lines):
                if proc.poll() is not None or time.time() > end:
                    return False
                self._cond.wait(0.5)
        return True

    def done(self) -> list[str]:
        self._thread.join(30)
        return self.lines


def run_args(inp: Path, out: str, tiny: dict[str, Path], address: str, *extra: str) -> list[str]:
    return ["run", str(inp), "--out", out, "--summary-model", str(tiny["t5"]), "--translation-model",
            str(tiny["m2m100"]), "--to", "en,fr", "--translate", "summary,title", "--max-new-tokens", "6",
            "--beams", "1", "--translation-beams", "1", "--translation-max-new-tokens", "8", "--shard-size", "2",
            "--engine", "ray", "--ray-address", address, "--workers", "2", "--log-format", "json",
            "--no-reuse", *extra]  # repeated sample texts would come from memory and end the run early


def run_cli(args: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    """The CLI to its end, as `spawn` starts it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "summarize.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          timeout=timeout)


def json_lines(lines: list[str]) -> list[dict[str, Any]]:
    docs = []
    for line in lines:
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            raise AssertionError(f"a stderr line is not JSON: {line[:300]!r}") from None
        assert isinstance(doc, dict), line
        docs.append(doc)
    return docs


def assert_exactly_once(out: Any, ids: list[str], fmt: str) -> None:
    arts = io.read_table(out, "articles")
    assert sorted(arts["id"].to_list()) == sorted(ids)
    assert set(arts["status"].to_list()) == {"ok"}
    tr = io.read_table(out, "translations")
    assert tr.height == len(ids) * 2 * 2  # summary and title, into en and fr
    assert set(Counter(zip(tr["id"], tr["field"], tr["target_lang"], strict=True)).values()) == {1}
    seg = io.read_table(out, "segments")
    keys = zip(seg["id"], seg["field"], seg["target_lang"], seg["seg_index"], strict=True)
    assert not seg.height or set(Counter(keys).values()) == {1}
    on_disk = {f.relative_to(out).as_posix() for t in ("articles", "translations", "segments", "rejects")
               for f in io.files.files_under(out / t)}
    if fmt == "parquet":
        # What a reader of the folder sees is exactly what the markers list: no part of a dead
        # worker, no temporary file of a write it did not finish.
        listed = {p["path"] for m in io.files.files_under(out / io.COMMITS, ".json")
                  for p in json.loads(m.read_text())["parts"]}
        assert on_disk == listed
    else:  # Delta: the driver commits every row, workers write no file at all
        run8 = io.read_manifest(out)["run_id"][-8:]
        assert not [f for f in on_disk if f"part-{run8}-" in f or ".tmp-" in f]


@pytest.mark.parametrize(("store", "fmt"), [("local", "parquet"), ("local", "delta"), ("s3", "parquet"),
                                            ("s3", "delta")])
def test_a_worker_node_lost_mid_run_is_replaced_and_every_article_written_once(
        cluster: Any, tmp_path: Path, tiny: dict[str, Path], request: pytest.FixtureRequest, store: str, fmt: str) -> None:
    recs = many_articles(40)
    inp = write_jsonl(tmp_path / "in.jsonl", recs)
    storage: dict[str, str] | None = None
    extra = ["--table-format", fmt]
    if store == "s3":
        server = request.getfixturevalue("s3_server")
        out_url: str = request.getfixturevalue("s3_prefix")
        storage = server.object_store_options()
        extra += [x for k, v in storage.items() for x in ("--storage-option", f"{k}={v}")]
    else:
        out_url = str(tmp_path / "out")
    quiet = store == "s3"  # --quiet silences Ray and the pool: only errors would be left
    if quiet:
        extra.append("--quiet")
    proc = spawn(run_args(inp, out_url, tiny, cluster.address, *extra), env={"SUMMARIZE_RAY_WAIT": "120"})
    err = Lines(proc)
    try:
        deadline = time.time() + RUN_TIMEOUT_S
        while commits(out_url, storage) < 1:  # a shard is committed: both workers are busy
            assert proc.poll() is None, "\n".join(err.done()[-20:])
            assert time.time() < deadline, "no shard committed"
            time.sleep(0.2)
        # Both workers are placed, one per original node. The node that will take the lost one's
        # place joins first and is up before the loss, so the replacement's start is not a race
        # between a node booting on a busy machine and the surviving worker finishing the batch.
        victim = next(iter(cluster.worker_nodes))
        fresh = cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        cluster.remove_node(victim, allow_graceful=False)
        proc.wait(timeout=max(1.0, deadline - time.time()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    docs = json_lines(err.done())
    print(f"{store}-{fmt}: exit {proc.returncode} after {time.time() - deadline + RUN_TIMEOUT_S:.0f} s, "
          f"{len(docs)} stderr lines:", *(f"  {d['level']} {d['logger']}: {d['message'][:160]}" for d in docs), sep="\n")
    assert proc.returncode == 0, docs[-10:]
    out = io.as_path(out_url, storage)
    if storage:
        io.configure_storage(storage)
    try:
        assert_exactly_once(out, [r["id"] for r in recs], fmt)
    finally:
        io.configure_storage({})
    manifest = io.read_manifest(out)
    assert manifest["state"] == "done"
    if quiet:
        assert all(d["level"] in ("error", "critical") for d in docs), docs
        return
    lost = [d for d in docs if d["message"].startswith("lost a Ray worker")]
    assert lost, docs
    ready = [d for d in docs if "ready on node" in d["message"]]
    assert fresh.node_id in {d.get("node") for d in ready}, (fresh.node_id, ready)  # the new node was used


def test_without_room_for_every_worker_the_run_goes_on_with_fewer_and_says_so(
        cluster: Any, tmp_path: Path, tiny: dict[str, Path]) -> None:
    # Three workers of one CPU on two one-CPU nodes: the third never finds room. After --ray-wait
    # the run goes on with two and logs it; it still finishes, every article once.
    recs = many_articles(40)
    inp = write_jsonl(tmp_path / "in.jsonl", recs)
    out = tmp_path / "out"
    args = run_args(inp, str(out), tiny, cluster.address, "--ray-wait", "8")
    args[args.index("--workers") + 1] = "3"
    t0 = time.time()
    done = run_cli(args, RUN_TIMEOUT_S)
    docs = json_lines(done.stderr.decode().splitlines())
    assert done.returncode == 0, docs[-10:]
    # Said once the wait is over, or at the end when the run finished before it was.
    short = [d for d in docs if d["message"].startswith(("going on with 2 of 3 Ray workers",
                                                        "finished with 2 of 3 Ray workers"))]
    assert len(short) == 1 and short[0]["level"] == "warning", docs
    assert_exactly_once(out, [r["id"] for r in recs], "parquet")
    print(f"fewer workers: exit 0 after {time.time() - t0:.0f} s")


def test_with_no_room_for_any_worker_the_run_stops_within_the_wait(
        cluster: Any, tmp_path: Path, tiny: dict[str, Path]) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", many_articles(4))
    args = run_args(inp, str(tmp_path / "out"), tiny, cluster.address, "--ray-wait", "5", "--cpus-per-worker", "2")
    t0 = time.time()
    done = run_cli(args, 120)
    took = time.time() - t0
    docs = json_lines(done.stderr.decode().splitlines())
    assert done.returncode == 1, docs
    assert any("no Ray worker could start within 5 s" in d["message"] and "--resume" in d["message"] for d in docs)
    assert took < 90  # the wait is bounded (start-up of the driver and Ray included)
