"""Local locks clear themselves: a lease renewed by a heartbeat, pid and host only information,
an empty or unparsable lock stale after one lease, and every refusal says how to clear it by hand."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import time
from pathlib import Path

import pytest

from summarize.errors import OutputError
from summarize.io.lock import LOCK, Lock, is_stale

NOW = dt.datetime.now(dt.UTC)


def ago(seconds: float) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)).isoformat()


def put(book: Path, doc: dict[str, object] | bytes, age: float = 0.0) -> Path:
    book.mkdir(parents=True, exist_ok=True)
    path = book / LOCK
    path.write_bytes(doc if isinstance(doc, bytes) else json.dumps(doc).encode())
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def holder(**kw: object) -> dict[str, object]:
    return {"pid": 1, "host": "old-pod-7f9c", "started": ago(30), "run_id": "old", "lease_s": 60.0, **kw}


@pytest.fixture(autouse=True)
def _lease(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMARIZE_LOCK_LEASE_S", "60")


def test_a_dead_containers_lock_waits_one_lease_then_is_taken_with_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    book = tmp_path / "out" / "_summarize"
    # pid 1 of another host (a recreated pod): nothing to check, so it holds until its lease ends
    put(book, holder(renewed=ago(10)))
    with pytest.raises(OutputError) as err:
        Lock.acquire(book, "new", "out")
    assert "frees itself" in str(err.value) and f"rm {book / LOCK}" in str(err.value)
    put(book, holder(renewed=ago(61)))
    with caplog.at_level(logging.WARNING):
        lock = Lock.acquire(book, "new", "out")
    lock.release()
    assert "taking over a stale lock" in caplog.text and not (book / LOCK).exists()


def test_pid_1_or_a_reused_pid_on_this_host_is_not_taken_for_the_holder() -> None:
    here = socket.gethostname()
    # pid 1 is alive here (this container's init), but the lock was renewed long ago: stale
    assert is_stale(holder(host=here, pid=1, renewed=ago(120)))
    # this very process's pid, but started at another time: a reused pid, stale at once
    assert is_stale(holder(host=here, pid=os.getpid(), pid_start="1", renewed=ago(1)))
    # a live holder renewing its lease is never stale, whatever its pid
    assert not is_stale(holder(host=here, pid=os.getpid(), renewed=ago(1)))
    # another pid namespace (a container beside this one): its pid means nothing here
    assert not is_stale(holder(host=here, pid=999_999, pid_ns="pid:[1]", renewed=ago(1)))


@pytest.mark.parametrize("content", [b"", b"{not json", b"\x00\x00\x00"])
def test_an_empty_or_unparsable_lock_is_stale_after_one_lease(tmp_path: Path, content: bytes) -> None:
    book = tmp_path / "out" / "_summarize"
    put(book, content, age=5)
    with pytest.raises(OutputError) as err:
        Lock.acquire(book, "new", "out")
    assert "unreadable lock" in str(err.value) and "rm " in str(err.value) and "pid ?" not in str(err.value)
    put(book, content, age=61)
    Lock.acquire(book, "new", "out").release()


def test_the_heartbeat_renews_a_local_lock_and_sees_a_takeover(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMARIZE_LOCK_LEASE_S", "0.8")
    book = tmp_path / "out" / "_summarize"
    lock = Lock.acquire(book, "mine", "out")
    try:
        first = json.loads((book / LOCK).read_text())
        assert first["lease_s"] == 0.8 and first["run_id"] == "mine"
        time.sleep(0.6)
        renewed = json.loads((book / LOCK).read_text()).get("renewed")
        assert renewed and renewed > first["started"]
        lock.check()
        put(book, holder(run_id="thief", renewed=ago(0)))  # another run took it over
        time.sleep(0.6)
        with pytest.raises(OutputError, match="taken over"):
            lock.check()
    finally:
        lock.release()
    assert json.loads((book / LOCK).read_text())["run_id"] == "thief"  # release leaves the other's lock


def test_a_lock_from_before_leases_still_frees_when_its_pid_is_gone(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    legacy = {"pid": proc.pid, "host": socket.gethostname(), "started": "2026-01-01T00:00:00+00:00", "run_id": "old"}
    assert is_stale(legacy)
    alive = {**legacy, "pid": os.getpid()}
    assert not is_stale(alive)
    book = tmp_path / "out" / "_summarize"
    put(book, alive)
    with pytest.raises(OutputError, match="rm "):
        Lock.acquire(book, "new", "out")


@pytest.mark.parametrize("legacy", [
    {"pid": 1, "host": "old-pod", "started": "2020-01-01T00:00:00+00:00", "run_id": "old"},  # a recreated pod
    {"pid": "1", "host": socket.gethostname(), "started": "2020-01-01T00:00:00+00:00"},  # a pid that is no number
    {"pid": 1, "host": socket.gethostname(), "pid_ns": "pid:[1]", "started": "2020-01-01T00:00:00+00:00"},
])
def test_a_lock_from_before_leases_whose_pid_cannot_be_checked_is_judged_by_its_age(
        tmp_path: Path, legacy: dict[str, object]) -> None:
    assert is_stale(legacy)
    book = tmp_path / "out" / "_summarize"
    put(book, legacy)
    Lock.acquire(book, "new", "out").release()
    # a young one waits out its lease, and the refusal says when it frees itself
    put(book, {**legacy, "started": ago(5)})
    with pytest.raises(OutputError) as err:
        Lock.acquire(book, "new", "out")
    assert "frees itself 55 s from now" in str(err.value) or "frees itself 54 s from now" in str(err.value)
    # with no start time at all, the file's age decides
    put(book, {k: v for k, v in legacy.items() if k != "started"}, age=61)
    Lock.acquire(book, "new", "out").release()


@pytest.mark.parametrize("failure", ["short", "enospc"])
def test_a_full_disk_while_taking_the_lock_leaves_no_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    import errno

    from summarize.io import files

    def write(fd: int, data: bytes) -> int:
        if failure == "short":
            return 0
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", write)
    path = tmp_path / LOCK
    with pytest.raises(OSError) as err:
        files.create_exclusive(path, b'{"pid": 1}')
    assert err.value.errno == errno.ENOSPC and not path.exists()


@pytest.mark.parametrize("raw", ["abc", "-5", "0", "inf", "nan", ""])
def test_a_lease_that_is_not_a_finite_number_of_seconds_is_a_usage_error(
        monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    from summarize.errors import UsageError
    from summarize.io.holder import lease_s

    monkeypatch.setenv("SUMMARIZE_LOCK_LEASE_S", raw)
    with pytest.raises(UsageError, match="SUMMARIZE_LOCK_LEASE_S must be a number of seconds"):
        lease_s()
    monkeypatch.setenv("SUMMARIZE_LOCK_LEASE_S", "2.5")
    assert lease_s() == 2.5
