"""One writer per output dataset: `OUT/_summarize/lock`.

The lock is a small JSON file (pid, host, start time, run id) created only if absent, so of two
runs started on one folder exactly one gets it; the other stops with exit 2 naming the holder.
A lock whose process is gone (same host, pid not alive) is stale: it is taken over with a
warning. Check-and-take-over runs under `flock` on the bookkeeping folder, so two runs that both
find the same stale lock cannot both take it. A lock held on another host cannot be checked and
is never taken over.

On an object store (`s3://`, ...) the lock is taken with a create-only write (a conditional PUT),
so of two runs exactly one gets it there too. A pid means nothing across machines, so a remote
lock is stale only by age: once its `started` is older than `SUMMARIZE_LOCK_LEASE_S` seconds
(default 24 hours) it is taken over with a warning. There is no heartbeat yet, so a run longer
than the lease can lose its lock to a new run: set the lease above the longest run. Two runs
that take over the same stale lock at the same moment race on delete-then-create; the loser of
the create stops, but a delete that lands after the winner's create can let both proceed (a
conditional delete on the ETag would close this; not done yet).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import socket
from dataclasses import dataclass
from typing import Any
from typing import Any as _AnyPath

from ..errors import OutputError
from . import files

log = logging.getLogger(__name__)

LOCK = "lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def describe(holder: dict[str, Any]) -> str:
    """`pid 123 on host h since 2026-...` for messages."""
    return (f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')} since {holder.get('started', '?')}"
            f" (run {holder.get('run_id', '?')})")


def holder_of(book: _AnyPath) -> dict[str, Any] | None:
    """Who holds the lock of a bookkeeping folder, or None when nobody does."""
    return files.read_json(book / LOCK) if files.exists(book / LOCK) else None


def lease_s() -> float:
    """How old a lock on an object store must be before another run may take it over."""
    return float(os.environ.get("SUMMARIZE_LOCK_LEASE_S", 24 * 3600))


def is_stale(holder: dict[str, Any]) -> bool:
    """Whether a lock's holder is a dead process on this host, or (a lock on an object store,
    marked `remote`) older than the lease."""
    if holder.get("remote"):
        try:
            started = dt.datetime.fromisoformat(str(holder.get("started")))
        except ValueError:
            return False
        return (dt.datetime.now(dt.UTC) - started).total_seconds() > lease_s()
    pid = holder.get("pid")
    return holder.get("host") == socket.gethostname() and isinstance(pid, int) and not _alive(pid)


@dataclass
class Lock:
    """The held lock of one output dataset; `release()` deletes it (only if still ours)."""

    path: _AnyPath
    doc: dict[str, Any]

    @classmethod
    def acquire(cls, book: _AnyPath, run_id: str, out: str) -> Lock:
        """Take the lock of the dataset whose bookkeeping folder is `book` (created if needed).

        Raises OutputError (exit 2) naming the holder when a live run holds it.
        """
        doc = {"pid": os.getpid(), "host": socket.gethostname(),
               "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "run_id": run_id}
        path = book / LOCK
        if files.is_remote(book):
            doc["remote"] = True
            return cls._acquire(path, doc, out)
        book.mkdir(parents=True, exist_ok=True)
        fd = os.open(book, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return cls._acquire(path, doc, out)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @classmethod
    def _acquire(cls, path: _AnyPath, doc: dict[str, Any], out: str) -> Lock:
        if not files.create_exclusive(path, files.json_bytes(doc)):
            holder = files.read_json(path) or {}
            if not is_stale(holder):
                raise OutputError(
                    f"--out {out} is in use by another summarize run: {describe(holder)}; wait for it to finish"
                    f" (if that run is gone, delete {path})"
                )
            log.warning("taking over a stale lock on %s: %s is no longer running", out, describe(holder))
            files.remove(path)
            if not files.create_exclusive(path, files.json_bytes(doc)):  # another run took it first
                raise OutputError(f"--out {out}: could not take the lock {path}; another run took it first")
        return cls(path, doc)

    def release(self) -> None:
        """Delete the lock file, if it is still this run's."""
        if (files.read_json(self.path) or {}).get("run_id") == self.doc["run_id"]:
            files.remove(self.path)
