"""Under --log-format json, native code's writes to descriptor 2 come out as JSON lines too.

Ray's C++ core (in the driver) and torch's C++ warnings write to file descriptor 2 directly,
past Python's logging. These tests run the real console command in a child process, with a
`sitecustomize` that makes the command write such lines straight to descriptor 2 once its
logging is set up, as native code would, and read the child's stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, write_jsonl

NATIVE = [
    b"[2026-12-07 15:45:43,900 E 1336 1356] core_worker.cc:783: failed to connect to all addresses",
    b"[W1207 15:45:43.900000 1336 init.cpp:1] a torch C++ warning",
    b"[2026-12-07 15:45:43,901 I 1336 1356] core_worker.cc:1: an info line",
    b"plain native text with a stray byte \xff",
]

# Wraps setup_logging so that, once the command has set up its logging, native lines are written
# to descriptor 2, one of them just before the process aborts (a native crash).
SITE = """
import os
import summarize.cli.common as common
_setup = common.setup_logging
def setup_logging(*args, **kwargs):
    _setup(*args, **kwargs)
    for line in {lines!r}:
        os.write(2, line + b"\\n")
    if os.environ.get("NATIVE_ABORT"):
        os.write(2, b"[2026-12-07 15:45:44,000 F 1336 1356] check failed: last words\\n")
        os.abort()
common.setup_logging = setup_logging
for name in ("extract",):
    import importlib
    importlib.import_module(f"summarize.cli.{{name}}").setup_logging = setup_logging
"""


def _run(tmp_path: Path, *flags: str, abort: bool = False) -> tuple[int, list[str], bytes]:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITE.format(lines=NATIVE))
    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "Ein kurzer Satz über das Wetter in Berlin."}])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    if abort:
        env["NATIVE_ABORT"] = "1"
    proc = subprocess.run([sys.executable, "-m", "summarize.cli", "extract", str(inp), "--out", "-", *flags],
                          cwd=ROOT, env=env, capture_output=True, timeout=120)
    return proc.returncode, proc.stderr.decode("utf-8", "replace").splitlines(), proc.stdout


def test_native_lines_become_json_records_with_their_level(tmp_path: Path) -> None:
    code, lines, stdout = _run(tmp_path, "--log-format", "json")
    assert code == 0, lines
    docs = [json.loads(line) for line in lines]  # every line parses
    native = [d for d in docs if d["logger"] == "native.stderr"]
    assert [d["level"] for d in native] == ["error", "warning", "info", "warning"]
    assert native[0]["message"].endswith("failed to connect to all addresses")
    assert native[3]["message"] == "plain native text with a stray byte \\xff"
    assert json.loads(stdout.splitlines()[0])["id"] == "a"  # stdout, the data, is untouched


def test_quiet_keeps_only_native_errors(tmp_path: Path) -> None:
    code, lines, _ = _run(tmp_path, "--log-format", "json", "--quiet")
    assert code == 0, lines
    assert [json.loads(line)["level"] for line in lines] == ["error"]


def test_the_last_lines_before_a_native_crash_are_kept(tmp_path: Path) -> None:
    code, lines, _ = _run(tmp_path, "--log-format", "json", abort=True)
    assert code != 0
    docs = [json.loads(line) for line in lines]
    assert docs[-1]["level"] == "critical" and docs[-1]["message"].endswith("last words")


def test_text_logs_leave_native_lines_as_they_are(tmp_path: Path) -> None:
    code, lines, _ = _run(tmp_path)
    assert code == 0, lines
    assert "[W1207 15:45:43.900000 1336 init.cpp:1] a torch C++ warning" in lines


def test_the_console_command_tells_polars_allocator_to_return_freed_memory() -> None:
    """Without it a long run's memory grows with its input (jemalloc keeps freed pages)."""
    code = ("import os, sys\nsys.argv = ['summarize', '--version']\nfrom summarize.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\nprint(os.environ.get('_RJEM_MALLOC_CONF'))")
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    got = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=60)
    assert got.stdout.splitlines()[-1] == "dirty_decay_ms:0,muzzy_decay_ms:0"
    mine = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**env, "PYTHONPATH": str(ROOT), "_RJEM_MALLOC_CONF": "narenas:2"})
    assert mine.stdout.splitlines()[-1] == "narenas:2"  # a user's own setting stays
