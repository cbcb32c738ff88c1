"""One writer per output dataset: `OUT/_summarize/lock`.

The lock is a small JSON file (pid, host, start time, run id) created only if absent, so of two
runs started on one folder exactly one gets it; the other stops with exit 2 naming the holder.

On local disk the lock is a lease too, renewed by a heartbeat thread (under `flock` on the
bookkeeping folder, only while it still names this run), so a holder that is gone is known by its
silence: once its last renewal is older than its lease, the lock is stale and is taken over with
a warning. The pid and host it records are information, trusted for a quicker verdict only where
they can be checked: on the same host, boot and pid namespace, a lock whose pid is not running,
or is running a process started at another time (a reused pid), is stale at once. A container's
pid 1, a pod recreated under a new host name, or a lock file that is empty or not JSON (a disk
that filled up while it was written) therefore waits one lease (by the file's modification time
when it cannot be read), never for ever. Check-and-take-over runs under `flock`, so two runs that
both find the same stale lock cannot both take it. Every refusal says how to clear the lock by
hand when the user knows its holder is dead.

On an object store (`s3://`, ...) a pid means nothing, so the lock is a lease:

- It is taken with a create-only write (a conditional PUT, `If-None-Match: *`).
- While the run holds it, a daemon thread rewrites it every quarter of the lease (at most every
  60 s) with a `renewed` time. The lease (`SUMMARIZE_LOCK_LEASE_S`, default 600 s) is recorded in
  the lock, and the lock is stale once its `renewed` (else `started`) time is older than that, so a
  run may last any time and a killed run's lock frees itself after one lease. The machines' clocks
  must agree to well within the lease.
- Every write after the first is a compare-and-swap on the version (ETag) the writer last saw
  (`If-Match`): a renewal never overwrites another run's lock, and of any number of runs that
  found the same stale lock, exactly one replaces it; the others' writes are refused and they stop.
  Release is a delete with `If-Match` too.
- A refused renewal means the lock was taken over (its holder was paused or cut off for longer
  than the lease). `check()`, which the run calls before every shard commit, also reads the lock
  once; a run that lost its lock, or could not renew it within the lease, stops there with an
  OutputError instead of writing on, and writes no manifest.

fsspec exposes ETag preconditions for S3 (s3fs) only. On other object stores a takeover first
creates, create-only, a claim `lock.takeover-<digest of the stale lock>`, so still only one run
can take a given stale lock; a renewal there is read-compare-write, which is not atomic: a holder
that comes back after its lease can overwrite the new holder's lock once, then stops at its next
renewal or commit, as does the other run if it reads the holder's lock back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import OutputError
from . import files
from .files import AnyPath
from .holder import _file_age, _machine, _pid_start, _rm_hint, describe, is_stale, lease_s, refusal

__all__ = ["LOCK", "Lock", "describe", "holder_of", "is_stale", "lease_s", "lock_age", "refusal", "renew_s"]

log = logging.getLogger(__name__)

LOCK = "lock"
RENEW_MAX_S = 60.0  # renew at least this often, however long the lease
RENEW_MIN_S = 0.1  # and never in a busy loop, however short (tests use leases of a second or two)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def holder_of(book: AnyPath) -> dict[str, Any] | None:
    """Who holds the lock of a bookkeeping folder (`{}` for a lock that is empty or not JSON), or
    None when nobody does."""
    return (files.read_json(book / LOCK) or {}) if files.exists(book / LOCK) else None


def lock_age(book: AnyPath) -> float | None:
    """Seconds since the lock of a bookkeeping folder was last written (None: unknown)."""
    return _file_age(book / LOCK)


def renew_s(lease: float) -> float:
    """How often a held lock with this lease is renewed: a quarter of it, at most every minute."""
    return max(RENEW_MIN_S, min(lease / 4, RENEW_MAX_S))


# ---- the object-store primitives: read with a version, write or delete only at that version ----


def _s3(path: AnyPath) -> bool:
    return files.is_remote(path) and hasattr(path.fs, "call_s3")


def _read(path: AnyPath) -> tuple[dict[str, Any] | None, str | None]:
    """The lock and its version (S3: the ETag it was read at; elsewhere: a digest of its bytes);
    (None, None) when there is no lock. An unreadable lock is `{}`, stale one lease after the
    file was last written (see `holder.is_stale`)."""
    path.fs.invalidate_cache(path.path)
    for attempt in range(3):
        try:
            if _s3(path):
                # s3fs reads with If-Match on the ETag of its HEAD, so body and tag belong together.
                with path.fs.open(path.path, "rb") as fh:
                    data, tag = fh.read(), str(fh.details["ETag"])
            else:
                data = path.fs.cat_file(path.path)
                tag = hashlib.sha256(data).hexdigest()
            break
        except FileNotFoundError:
            return None, None
        except OSError:  # replaced between the HEAD and the GET: read the new one
            if attempt == 2:
                raise
    try:
        doc = json.loads(data)
    except ValueError:
        doc = {}
    return (doc if isinstance(doc, dict) else {}), tag


def _put(path: AnyPath, data: bytes, tag: str | None) -> str | None:
    """Write the lock only if it is still at version `tag` (None: only if there is none); the new
    version, or None when another run wrote (or deleted) it first."""
    if not _s3(path):
        if tag is None:
            return _read(path)[1] if files.create_exclusive(path, data) else None
        if _read(path)[1] != tag:
            return None
        files.atomic_write_bytes(path, data)
        return hashlib.sha256(data).hexdigest()
    try:
        out = path.fs.pipe_file(path.path, data, **({"mode": "create"} if tag is None else {"IfMatch": tag}))
        return str(out["ETag"])
    except OSError:
        # A refused precondition is 412 (FileExistsError on AWS, EINVAL from SeaweedFS, which
        # omits the field s3fs looks for) or 409 under a race: tell it from a failure by reading.
        doc, now = _read(path)
        if doc == json.loads(data):
            return now  # it did go through; the answer was lost
        if now != tag:
            return None
        raise


def _delete(path: AnyPath, tag: str) -> None:
    """Delete the lock if it is still at version `tag`."""
    if _s3(path):
        bucket, key, _ = path.fs.split_path(path.path)
        try:
            path.fs.call_s3("delete_object", Bucket=bucket, Key=key, IfMatch=tag)
            path.fs.invalidate_cache(path.path)
            return
        except OSError:
            pass  # not ours any more (412), or a store without conditional deletes: check by reading
    if _read(path)[1] == tag:
        files.remove(path)


@dataclass
class Lock:
    """The held lock of one output dataset; `release()` deletes it (only if still ours).

    Attributes:
        path: the lock file.
        doc: what this run last wrote into it.
        out: the dataset, as the user named it (for messages).
        tag: object store: the version of the lock this run last wrote.
        lost: object store: the lock of the run that took this one over, once that is known.
        claim: a takeover claim this run created (stores without ETag preconditions).
    """

    path: AnyPath
    doc: dict[str, Any]
    out: str = ""
    tag: str | None = None
    lost: dict[str, Any] | None = None
    claim: AnyPath | None = None
    _renewed_at: float = field(default_factory=time.monotonic)
    _stop: threading.Event = field(default_factory=threading.Event)
    _mutex: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    @classmethod
    def acquire(cls, book: AnyPath, run_id: str, out: str) -> Lock:
        """Take the lock of the dataset whose bookkeeping folder is `book` (created if needed);
        on an object store, start renewing it.

        Raises OutputError (exit 2) naming the holder when a live run holds it.
        """
        doc: dict[str, Any] = {"pid": os.getpid(), "host": socket.gethostname(),
                               "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "run_id": run_id,
                               "lease_s": lease_s()}
        path = book / LOCK
        if files.is_remote(book):
            lock = cls._take_remote(path, {**doc, "remote": True}, out)
        else:
            here = _machine()
            doc.update({"boot_id": here["boot_id"], "pid_ns": here["pid_ns"], "pid_start": _pid_start(os.getpid())})
            book.mkdir(parents=True, exist_ok=True)
            with _flocked(book):
                lock = cls._take_local(path, doc, out)
        lock._thread = threading.Thread(target=lock._beat, name=f"summarize-lock-{run_id}", daemon=True)
        lock._thread.start()
        return lock

    @classmethod
    def _take_local(cls, path: AnyPath, doc: dict[str, Any], out: str) -> Lock:
        if not files.create_exclusive(path, files.json_bytes(doc)):
            holder = files.read_json(path) or {}
            _refuse_unless_stale(holder, path, out, _file_age(path))
            files.remove(path)  # under flock: no other run on this host is between read and remove
            if not files.create_exclusive(path, files.json_bytes(doc)):  # a run on another host took it first
                raise OutputError(f"--out {out}: could not take the lock {path}; another run took it first "
                                  f"(if no run is using it, delete it by hand: {_rm_hint(path)})")
        return cls(path, doc, out)

    @classmethod
    def _take_remote(cls, path: AnyPath, doc: dict[str, Any], out: str) -> Lock:
        data = files.json_bytes(doc)
        tag = _put(path, data, None)
        claim = None
        if tag is None:
            holder, old = _read(path)
            if holder is not None:
                _refuse_unless_stale(holder, path, out, _file_age(path) if not holder else None)
                if not _s3(path):  # no compare-and-swap: one claim per stale lock decides
                    claim = path.with_name(f"{LOCK}.takeover-{old[:16] if old else 'none'}")
                    if not files.create_exclusive(claim, data):
                        raise OutputError(f"--out {out}: could not take the lock {path}; another run took it first "
                                      f"(if no run is using it, delete it by hand: {_rm_hint(path)})")
            tag = _put(path, data, old)  # at the stale version only (or, if it was released meanwhile, if absent)
            if tag is None:
                raise OutputError(f"--out {out}: could not take the lock {path}; another run took it first "
                                      f"(if no run is using it, delete it by hand: {_rm_hint(path)})")
        return cls(path, doc, out, tag, claim=claim)

    def _beat(self) -> None:
        every = renew_s(float(self.doc["lease_s"]))
        while not self._stop.wait(every) and self.lost is None:
            try:
                self.renew()
            except Exception as exc:  # unreachable store, client error: try again; `check` stops the run after a lease
                log.warning("could not renew the lock of %s: %s", self.out, exc)

    def renew(self) -> None:
        """Rewrite the lock with a new `renewed` time, only if it is still the version this run wrote."""
        if not files.is_remote(self.path):
            self._renew_local()
            return
        with self._mutex:
            if self.lost is not None or self._stop.is_set():
                return
            doc = {**self.doc, "renewed": _now()}
            tag = _put(self.path, files.json_bytes(doc), self.tag)
            if tag is None:
                self._lose(_read(self.path)[0])
            else:
                self.doc, self.tag, self._renewed_at = doc, tag, time.monotonic()

    def _renew_local(self) -> None:
        # Under flock, as takeovers are: a run that took this lock over is never overwritten.
        with self._mutex, _flocked(self.path.parent):
            if self.lost is not None or self._stop.is_set():
                return
            holder = files.read_json(self.path)
            if holder is None or holder.get("run_id") != self.doc["run_id"]:
                self._lose(holder)
                return
            doc = {**self.doc, "renewed": _now()}
            files.atomic_write_bytes(self.path, files.json_bytes(doc))
            self.doc, self._renewed_at = doc, time.monotonic()

    def _lose(self, holder: dict[str, Any] | None) -> None:
        self.lost = holder or {}
        log.error("the lock of %s was taken over by %s; this run stops before its next commit", self.out,
                  describe(self.lost))

    def check(self) -> None:
        """Raise OutputError unless this run still holds its lock; call it before each commit.

        On an object store this reads the lock once, so a takeover since the last renewal is
        seen now, not a heartbeat later; on local disk the heartbeat's findings are checked."""
        if not files.is_remote(self.path):
            with self._mutex:
                expired = time.monotonic() - self._renewed_at > float(self.doc["lease_s"])
        else:
            expired = self._check_remote()
        if self.lost is not None:
            raise OutputError(f"--out {self.out}: this run's lock was taken over by {describe(self.lost)}, so it "
                              "stopped before committing more; what it committed stays, and the other run owns the "
                              "dataset now")
        if expired:
            raise OutputError(f"--out {self.out}: this run could not renew its lock for longer than its lease "
                              f"({self.doc['lease_s']:g} s), so another run may have taken it; it stopped before "
                              "committing more (rerun with --resume)")

    def _check_remote(self) -> bool:
        with self._mutex:
            if self.lost is None:
                try:
                    holder, tag = _read(self.path)
                except OSError:  # unreachable now: the lease check below still holds
                    holder, tag = None, self.tag
                if tag != self.tag:
                    self._lose(holder)
            return time.monotonic() - self._renewed_at > float(self.doc["lease_s"])

    def release(self) -> None:
        """Stop renewing, and delete the lock if it is still this run's."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        if not files.is_remote(self.path):
            if not self.path.parent.is_dir():
                return  # the folder went with a rollback
            try:
                with _flocked(self.path.parent):
                    if (files.read_json(self.path) or {}).get("run_id") == self.doc["run_id"]:
                        files.remove(self.path)
            except OSError as exc:  # a disk gone read-only: the lock stays, and is stale once this process ends
                log.warning("could not remove the lock %s: %s; the next run takes it over as stale", self.path, exc)
            return
        with self._mutex:
            if self.lost is None and self.tag is not None:
                _delete(self.path, self.tag)
            self.tag = None
        if self.claim is not None:
            files.remove(self.claim)


def _refuse_unless_stale(holder: dict[str, Any], path: AnyPath, out: str, file_age: float | None = None) -> None:
    if not is_stale(holder, file_age):
        raise OutputError(refusal(holder, path, out, file_age))
    what = describe(holder) if holder else "an unreadable lock (empty or not JSON)"
    log.warning("taking over a stale lock on %s: %s is no longer running (no renewal within its lease, or its "
                "process is gone)", out, what)


@contextlib.contextmanager
def _flocked(folder: AnyPath) -> Iterator[None]:
    """Hold `flock` on a local folder (serialises lock takeovers and renewals on this host)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
