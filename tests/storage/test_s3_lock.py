"""The dataset lock on an object store, against a real S3 server (SeaweedFS): the heartbeat that
renews it, takeover of a killed run's lock after its lease, exactly one winner among runs taking
over the same stale lock, and a run that lost its lock stopping before it commits more.

Short leases (a second or two, through SUMMARIZE_LOCK_LEASE_S) keep each test to seconds.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from summarize import api, io
from summarize.errors import OutputError
from summarize.io import files
from summarize.io.lock import Lock, is_stale
from tests.conftest import ROOT, articles, options, write_jsonl
from tests.s3server import S3Server


@pytest.fixture(autouse=True)
def _no_storage_defaults() -> Iterator[None]:
    yield
    io.configure_storage({})


def book_of(server: S3Server, prefix: str) -> Any:
    io.configure_storage(server.object_store_options())
    return io.as_path(prefix) / "_summarize"


def lock_doc(book: Any) -> dict[str, Any]:
    doc = files.read_json(book / "lock")
    assert doc is not None
    return doc


def intruder(**extra: Any) -> dict[str, Any]:
    """The lock another run writes when it takes a lock over."""
    return {"pid": 1, "host": "elsewhere", "started": dt.datetime.now(dt.UTC).isoformat(), "run_id": "intruder",
            "remote": True, "lease_s": 600, **extra}


def test_a_held_lock_is_renewed_so_it_never_goes_stale(s3_server: S3Server, s3_prefix: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMARIZE_LOCK_LEASE_S", "2")  # renewed every 0.5 s
    book = book_of(s3_server, s3_prefix)
    lock = Lock.acquire(book, "run-1", s3_prefix)
    try:
        first = lock_doc(book)
        assert first["lease_s"] == 2 and "renewed" not in first
        time.sleep(3)  # longer than the lease
        doc = lock_doc(book)
        assert doc["run_id"] == "run-1" and doc["started"] == first["started"]
        age = (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(doc["renewed"])).total_seconds()
        assert age < 2 and not is_stale(doc)
        with pytest.raises(OutputError, match="in use by another summarize run"):
            Lock.acquire(book, "run-2", s3_prefix)
        lock.check()  # still ours
    finally:
        lock.release()
    assert files.read_json(book / "lock") is None


_HOLDER = """
import sys, time
from summarize import io
from summarize.io.lock import Lock
Lock.acquire(io.as_path(sys.argv[1]) / "_summarize", "killed-run", sys.argv[1])
print("held", flush=True)
time.sleep(120)  # the parent kills us here
"""


def test_a_killed_holder_is_taken_over_one_lease_after_its_last_renewal(
        s3_server: S3Server, s3_prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="summarize")  # whatever level earlier tests left on the loggers
    env = {**os.environ, **s3_server.env(), "PYTHONPATH": str(ROOT), "SUMMARIZE_LOCK_LEASE_S": "2"}
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, s3_prefix], stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"held"
        book = book_of(s3_server, s3_prefix)
        time.sleep(2.5)  # older than its lease by its start time, but renewed meanwhile
        assert lock_doc(book).get("renewed")
        with pytest.raises(OutputError, match="in use by another summarize run"):
            Lock.acquire(book, "next-run", s3_prefix)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    killed = time.monotonic()
    taken = None
    while taken is None:
        try:
            taken = Lock.acquire(book, "next-run", s3_prefix)
        except OutputError:
            assert time.monotonic() - killed < 10, "the killed run's lock never went stale"
            time.sleep(0.2)
    waited = time.monotonic() - killed
    try:
        assert 1.0 < waited < 10  # a lease (2 s) after its last renewal (at most 0.5 s before the kill)
        assert lock_doc(book)["run_id"] == "next-run"
        assert "taking over a stale lock" in caplog.text and "killed-run" in caplog.text
    finally:
        taken.release()


def test_of_runs_taking_over_one_stale_lock_exactly_one_wins(s3_server: S3Server, s3_prefix: str) -> None:
    io.configure_storage(s3_server.object_store_options())
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    for rnd in range(20):
        out = f"{s3_prefix}/round{rnd}"
        book = io.as_path(out) / "_summarize"
        files.write_json(book / "lock", intruder(run_id="dead-run", started=old, renewed=old, lease_s=60))
        start = threading.Barrier(4)
        won: list[Lock] = []
        refused: list[str] = []

        def take(i: int, book: Any = book, out: str = out, won: list[Lock] = won, refused: list[str] = refused,
                 start: threading.Barrier = start) -> None:
            start.wait()
            try:
                won.append(Lock.acquire(book, f"contender-{i}", out))
            except OutputError as exc:
                refused.append(str(exc))

        threads = [threading.Thread(target=take, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(won) == 1 and len(refused) == 3, (rnd, refused)
        assert lock_doc(book)["run_id"] == won[0].doc["run_id"]
        assert all("took it first" in msg or "in use" in msg for msg in refused)
        won[0].release()
        assert files.read_json(book / "lock") is None


def test_the_heartbeat_notices_a_takeover_and_never_overwrites_it(s3_server: S3Server, s3_prefix: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMARIZE_LOCK_LEASE_S", "1")  # renewed every 0.25 s
    book = book_of(s3_server, s3_prefix)
    lock = Lock.acquire(book, "slow-run", s3_prefix)
    files.write_json(book / "lock", intruder())  # what a run taking over writes
    time.sleep(1.5)
    assert lock.lost is not None and lock.lost["run_id"] == "intruder"
    assert lock_doc(book)["run_id"] == "intruder"  # no renewal wrote over it
    with pytest.raises(OutputError, match=r"taken over by .*intruder"):
        lock.check()
    lock.release()
    assert lock_doc(book)["run_id"] == "intruder"  # not ours to delete


def test_a_lock_not_renewed_within_its_lease_stops_the_run(s3_server: S3Server, s3_prefix: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMARIZE_LOCK_LEASE_S", "1")
    book = book_of(s3_server, s3_prefix)
    lock = Lock.acquire(book, "cut-off-run", s3_prefix)
    lock._stop.set()  # as if the store had been unreachable since: no renewal gets through
    assert lock._thread is not None
    lock._thread.join()
    time.sleep(1.2)
    with pytest.raises(OutputError, match="could not renew its lock"):
        lock.check()
    lock.release()


def test_a_run_that_lost_its_lock_stops_before_its_next_commit(tmp_path: Path, tiny: dict[str, Path],
                                                               s3_server: S3Server, s3_prefix: str) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", articles(6))  # 3 shards of 2
    book = io.as_path(s3_prefix, s3_server.object_store_options()) / "_summarize"

    def take_over(_: int) -> None:  # after the first commit, another run takes the lock over
        if lock_doc(book)["run_id"] != "intruder":
            files.write_json(book / "lock", intruder())

    with pytest.raises(OutputError, match=r"taken over by .*intruder"):
        api.run([inp], s3_prefix, options(tiny), storage_options=s3_server.object_store_options(), progress=take_over)
    assert lock_doc(book)["run_id"] == "intruder"  # still the other run's
    assert sum(1 for _ in files.files_under(book / "commits", ".json")) == 1  # nothing committed after the loss
    manifest = json.loads((io.as_path(s3_prefix) / "run.json").read_text())
    assert manifest["state"] == "running"  # the run that lost the lock wrote no manifest after it


def test_a_takeover_on_a_store_without_etags_goes_through_one_claim(monkeypatch: pytest.MonkeyPatch,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    """fsspec has no ETag preconditions for most stores (here `memory://`): a create-only claim per
    stale lock decides the takeover, and the run that lost notices as on S3."""
    caplog.set_level(logging.WARNING)
    book = io.as_path("memory://summarize-lock-test/out") / "_summarize"
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    files.write_json(book / "lock", intruder(run_id="dead-run", started=old, lease_s=60))
    monkeypatch.setenv("SUMMARIZE_LOCK_LEASE_S", "600")
    first = Lock.acquire(book, "first", "memory://summarize-lock-test/out")
    claims = [f.name for f in files.files_under(book) if f.name.startswith("lock.takeover-")]
    assert len(claims) == 1 and "taking over a stale lock" in caplog.text
    files.write_json(book / "lock", intruder())
    with pytest.raises(OutputError, match="taken over"):
        first.check()
    first.release()
    assert lock_doc(book)["run_id"] == "intruder"
    assert not [f for f in files.files_under(book) if f.name.startswith("lock.takeover-")]
    files.remove(book / "lock")
