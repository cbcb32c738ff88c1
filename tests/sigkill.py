"""Killing a real `summarize run` process mid-run, on local disk or an object store.

`spawn` starts the CLI in a child process; `kill_after` waits until the run has committed `n`
shards (commit markers in `OUT/_summarize/commits/`, counted through the same file layer the tool
uses, so `s3://` works too) and then sends SIGKILL, the one signal a run cannot clean up after.
A marker is written only once a shard is whole, so `kill_after` never lands inside a shard;
`kill_paused` does: the child pauses right after one table's commit of one shard (a Delta table's
transaction, or the publishing of a Parquet shard's part) and is killed there.
The resume tests of every table format and store share these, rather than each keeping a copy.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from summarize import io

from .conftest import ROOT, sample_articles


def many_articles(n: int) -> list[dict[str, Any]]:
    base = sample_articles()
    return [{**base[i % len(base)], "id": f"a{i:04d}"} for i in range(n)]


def cli_args(inp: Path, out: Path | str, tiny: dict[str, Path], *extra: str) -> list[str]:
    """`summarize run` on the tiny models, in shards of 2, with `extra` flags."""
    return [
        "run", str(inp), "--out", str(out), "--summary-model", str(tiny["t5"]), "--translation-model",
        str(tiny["m2m100"]), "--to", "en,fr", "--translate", "summary,title", "--max-new-tokens", "6",
        "--beams", "1", "--translation-beams", "1", "--translation-max-new-tokens", "8", "--shard-size", "2",
        "--quiet", *extra,
    ]


def spawn(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """The CLI with `args` in a child process (this checkout's package, offline), `env` on top."""
    full = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "summarize.cli", *args], cwd=ROOT, env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


# Run in the child by `python -c`: the CLI, with the table writers wrapped so that right after
# table $PAUSE_TABLE of shard $PAUSE_VERSION - 1 is committed (Delta: the transaction with app
# version $PAUSE_VERSION; Parquet: that shard's part of the table renamed into place) the process
# touches $PAUSE_FLAG and sleeps until it is killed. Nothing else changes: the commits are real.
PAUSE_BOOTSTRAP = """
import os, runpy, time
from pathlib import Path

from summarize.io import delta, parts

TABLE, VERSION, FLAG = os.environ["PAUSE_TABLE"], int(os.environ["PAUSE_VERSION"]), os.environ["PAUSE_FLAG"]


def pause():
    Path(FLAG).touch()
    time.sleep(3600)


real_commit = delta.DeltaWriter._commit


def _commit(self, table, data, version, ids):
    done = real_commit(self, table, data, version, ids)
    if done and table == TABLE and version == VERSION:
        pause()
    return done


real_publish = parts.publish  # what a writer's commit calls (parts.commit_and_show)


def publish(out_dir, parts):
    mine = [p for p in parts if p["path"].endswith(f"-{VERSION - 1:05d}.parquet")]
    last = [p for p in mine if p["table"] == TABLE][-1:]
    for p in parts:
        real_publish(out_dir, [p])
        if p in last:
            pause()


delta.DeltaWriter._commit = _commit
parts.publish = publish
runpy.run_module("summarize.cli", run_name="__main__", alter_sys=True)
"""


def spawn_paused(args: list[str], table: str, version: int, flag: Path,
                 env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """The CLI with `args` in a child process that pauses for good once `table` of shard
    `version - 1` is committed, after touching `flag` (see `PAUSE_BOOTSTRAP`)."""
    full = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", **(env or {}),
            "PAUSE_TABLE": table, "PAUSE_VERSION": str(version), "PAUSE_FLAG": str(flag)}
    return subprocess.Popen([sys.executable, "-c", PAUSE_BOOTSTRAP, *args], cwd=ROOT, env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def kill_paused(args: list[str], table: str, version: int, flag: Path, env: dict[str, str] | None = None,
                timeout: float = 240) -> None:
    """Run the CLI until it pauses after `table`'s commit of shard `version - 1` (`spawn_paused`),
    then SIGKILL it there; AssertionError when it ends or stalls first."""
    proc = spawn_paused(args, table, version, flag, env)
    end = time.time() + timeout
    while not flag.exists():
        if proc.poll() is not None:
            _, err = proc.communicate()
            raise AssertionError(f"the run ended (exit {proc.returncode}) before it paused: {err.decode()[-2000:]}")
        if time.time() > end:
            proc.kill()
            proc.wait()
            raise AssertionError("the run did not reach its pause")
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()


def commits(out: Path | str, storage: dict[str, str] | None = None) -> int:
    """How many commit markers `out` holds (`storage`: options for an object-store URL)."""
    folder = io.as_path(str(out), storage) / io.COMMITS
    return sum(1 for _ in io.files.files_under(folder, ".json"))


def wait_for(proc: subprocess.Popen[bytes], out: Path | str, n: int, timeout: float = 240,
             storage: dict[str, str] | None = None) -> bool:
    """Wait until `n` shards are committed; False when the run ended first."""
    end = time.time() + timeout
    pause = 0.2 if io.files.is_url(str(out)) else 0.05  # each look at an object store is a LIST request
    while time.time() < end:
        if commits(out, storage) >= n:
            return True
        if proc.poll() is not None:
            return False
        time.sleep(pause)
    raise AssertionError("run made no progress")


def kill_after(args: list[str], out: Path | str, n: int, env: dict[str, str] | None = None,
               storage: dict[str, str] | None = None) -> bool:
    """Run the CLI and SIGKILL it once `n` shards are committed; False when it finished first."""
    proc = spawn(args, env)
    if wait_for(proc, out, n, storage=storage):
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True
    proc.wait()
    return False
