"""Under `--log-format json`, what native code writes straight to stderr becomes JSON lines too.

Python's own output goes through `logging` and `say`, but C and C++ code writes to file
descriptor 2 directly: Ray's core worker in the driver (`[... E ...] core_worker.cc:...` when a
node dies), torch's C++ warnings, a library's printf. Those lines would break a log collector
that expects one JSON object per line. So the console command points descriptor 2 at a pipe
read by a small helper process, which wraps each line it gets as a JSON record (level taken
from the glog-style prefix when there is one) and writes it to the real stderr; Python's
`sys.stderr` is kept on the real stderr, so the command's own records do not take the detour.

A helper process, not a thread: a thread dies with the process, so the last lines before a
native crash (a failed check, an abort) would be lost; the helper reads to the end of the pipe,
which comes when the command and every child that inherited the descriptor are gone. It ignores
SIGINT and SIGTERM for that reason (a Ctrl-C or a scheduler's stop reaches the whole process
group, and the command still has its closing lines to write).

Only the console command does this (`app.main`): a command run inside another program (a test's
CliRunner, a notebook) keeps that program's descriptors.
"""

from __future__ import annotations

import atexit
import logging
import os
import subprocess
import sys
from typing import Any

# The helper: standard library only, started with -I so nothing of the environment's is imported.
_PUMP = r"""
import datetime as dt, json, re, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
least = int(sys.argv[1])
levels = {"D": 10, "I": 20, "W": 30, "E": 40, "F": 50, "C": 50}
names = {10: "debug", 20: "info", 30: "warning", 40: "error", 50: "critical"}
# glog / Ray / torch prefixes: "[2026-12-07 15:45:43,900 E 1336 1356] file.cc:1: ...", "[W1207 ...] ...",
# "E1207 15:45:43.900 ...", and Ray's "(raylet) [...]" form.
prefix = re.compile(r"^(?:\(\w+\)\s*)?\[?(?:\d{4}-\d\d-\d\d [\d:,.]+ )?([DIWEFC])(?:\d{4}|\s)")
out = sys.stdout
for raw in sys.stdin.buffer:
    line = raw.decode("utf-8", "backslashreplace").rstrip("\r\n")
    if not line.strip():
        continue
    try:
        doc = json.loads(line)
    except ValueError:
        doc = None
    if isinstance(doc, dict):  # already a record (a child that logs JSON itself)
        out.write(line + "\n")
        out.flush()
        continue
    m = prefix.match(line)
    level = levels[m.group(1)] if m else 30
    if level < least:
        continue
    now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    out.write(json.dumps({"time": now, "level": names[level], "logger": "native.stderr", "message": line},
                         ensure_ascii=False) + "\n")
    out.flush()
"""

_STATE: dict[str, Any] = {}


def route_native_stderr(least: int) -> bool:
    """Send descriptor 2 through the JSON helper for the rest of the process (records below
    `least`, a `logging` level, are dropped: --quiet keeps only errors). False where it cannot
    (no descriptor 2, no pipes): stderr is then left as it was."""
    if _STATE:
        return True
    try:
        sys.stderr.flush()
        real = os.dup(2)
        read, write = os.pipe()
    except (OSError, ValueError, AttributeError):
        return False
    try:
        helper = subprocess.Popen([sys.executable, "-I", "-c", _PUMP, str(least)], stdin=read, stdout=real,
                                  stderr=subprocess.DEVNULL, close_fds=True)
    except OSError:
        for fd in (real, read, write):
            os.close(fd)
        return False
    os.close(read)
    os.dup2(write, 2)
    os.close(write)
    # Python's writes (logging, `say`, a traceback) go to the real stderr as before.
    sys.stderr = open(real, "w", encoding="utf-8", errors="backslashreplace", buffering=1)  # noqa: SIM115
    _STATE["helper"] = helper
    atexit.register(_drain)
    return True


def _drain() -> None:
    """At exit: close this process's end of the pipe and give the helper a moment to write what
    it still holds, so the command's last native lines come out before the shell's prompt."""
    helper: subprocess.Popen[bytes] | None = _STATE.get("helper")
    if helper is None:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        helper.wait(timeout=2)
    except (OSError, subprocess.TimeoutExpired):  # a child still holds the pipe: it drains on its own
        logging.getLogger(__name__).debug("native stderr helper still running at exit")
