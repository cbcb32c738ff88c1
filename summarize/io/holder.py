"""Who holds a dataset's lock, and whether they are gone: the judgement `lock.py` acts on.

A lock records its holder's pid, host, start and last renewal, and its lease. The lease decides: a
lock not renewed within it is stale. The pid and host are trusted for a quicker verdict only where
they can be checked, on the same host, boot and pid namespace (see `lock.py`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import socket
import time
from typing import Any

from ..config import env_number
from . import files
from .files import AnyPath

LEASE_S = 600.0
LEASE_ENV = "SUMMARIZE_LOCK_LEASE_S"


def describe(holder: dict[str, Any]) -> str:
    """`pid 123 on host h since 2026-...` for messages."""
    renewed = f", renewed {holder['renewed']}" if holder.get("renewed") else ""
    return (f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')} since {holder.get('started', '?')}"
            f"{renewed} (run {holder.get('run_id', '?')})")


def lease_s() -> float:
    """The lease this process gives a lock it takes, in seconds (`SUMMARIZE_LOCK_LEASE_S`, else
    600). Raises UsageError (exit 2) unless it is a finite number above 0: an infinite lease would
    write a lock that never goes stale."""
    return env_number(LEASE_ENV, LEASE_S, least=0, above=True, unit="seconds")


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return None


def _pid_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, Linux), to tell a reused pid apart."""
    stat = _read_text(f"/proc/{pid}/stat")
    if not stat:
        return None
    fields = stat.rpartition(")")[2].split()  # the command name may hold spaces and brackets
    return fields[19] if len(fields) > 19 else None


def _machine() -> dict[str, Any]:
    """What makes a pid meaningful: the host, its boot and this process's pid namespace."""
    ns = None
    with contextlib.suppress(OSError):
        ns = os.readlink("/proc/self/ns/pid")
    return {"host": socket.gethostname(), "boot_id": _read_text("/proc/sys/kernel/random/boot_id"), "pid_ns": ns}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _age(holder: dict[str, Any], file_age: float | None) -> float | None:
    """Seconds since the lock was last renewed (else taken); for an unreadable lock, since the file
    was last written. None when there is nothing to judge by."""
    for key in ("renewed", "started"):
        try:
            when = dt.datetime.fromisoformat(str(holder[key]))
        except (KeyError, ValueError):
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return (dt.datetime.now(dt.UTC) - when).total_seconds()
    return file_age


def is_stale(holder: dict[str, Any], file_age: float | None = None) -> bool:
    """Whether a lock's holder is gone: its lease ran out without a renewal, or (on this very
    machine) its pid is not running, or runs another process. `file_age` is the seconds since the
    lock file was written, which is what an empty or unparsable lock (`{}`) is judged by."""
    lease = _lease_of(holder)
    if _pid_checkable(holder):
        pid = holder["pid"]
        if not _alive(pid) or holder.get("pid_start") not in (None, _pid_start(pid)):
            return True
        if "lease_s" not in holder:
            # A lock written before locks were leases is never renewed: here, only a dead pid frees it.
            return False
    # Elsewhere (another host, boot or pid namespace, or a pid that is not a number) the pid says
    # nothing, so even a lock from before leases is judged by its age, never kept for ever.
    age = _age(holder, file_age)
    return age is not None and age > lease


def _pid_checkable(holder: dict[str, Any]) -> bool:
    """Whether the holder's pid can be checked from here: a local lock, an integer pid, and the
    same machine."""
    pid = holder.get("pid")
    return (not holder.get("remote") and isinstance(pid, int) and not isinstance(pid, bool)
            and _same_machine(holder))


def _lease_of(holder: dict[str, Any]) -> float:
    try:
        lease = float(holder.get("lease_s") or lease_s())
    except (TypeError, ValueError):
        lease = lease_s()
    return lease if math.isfinite(lease) and lease > 0 else lease_s()


def _same_machine(holder: dict[str, Any]) -> bool:
    """Whether the holder's pid can be checked from here (same host; same boot and pid namespace
    where the lock records them)."""
    here = _machine()
    if holder.get("host") != here["host"]:
        return False
    return all(holder.get(key) in (None, here[key]) for key in ("boot_id", "pid_ns"))


def refusal(holder: dict[str, Any], path: AnyPath, out: str, file_age: float | None = None) -> str:
    """The sentence that refuses a run because `holder` holds the lock: who, until when, and how
    to clear it by hand."""
    lease = _lease_of(holder)
    age = _age(holder, file_age)
    who = "an unreadable lock (empty or not JSON)" if not holder else f"another summarize run: {describe(holder)}"
    if age is not None and ("lease_s" in holder or not _pid_checkable(holder)):
        frees = f"it frees itself {max(0.0, lease - age):.0f} s from now unless renewed"
    else:
        frees = "it was written before locks were leases and frees itself only when its process ends"
    return (f"--out {out} is in use by {who}; wait for it to finish ({frees}); if you know that run is gone, "
            f"delete the lock by hand: {_rm_hint(path)}")


def _rm_hint(path: AnyPath) -> str:
    return f"rm {path}" if not files.is_remote(path) else f"delete {files.uri(path)} (e.g. `aws s3 rm {files.uri(path)}`)"


def _file_age(path: AnyPath) -> float | None:
    """Seconds since the lock file was last written; None when that cannot be told."""
    try:
        if files.is_remote(path):
            info = path.fs.info(path.path)
            when = info.get("LastModified") or info.get("mtime") or info.get("last_modified")
            if isinstance(when, dt.datetime):
                return (dt.datetime.now(dt.UTC) - when.astimezone(dt.UTC)).total_seconds()
            return time.time() - float(when) if when is not None else None
        return time.time() - os.stat(path).st_mtime
    except (OSError, TypeError, ValueError):
        return None
