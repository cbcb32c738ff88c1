"""Issue 29 through the real console command: poisoned records never stop a batch (and resume), every
failure of the machine or of usage is one sentence with its exit code (pure JSON under --log-format
json), refused before any model loads; folders, titles, kept values and locks behave as documented."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.conftest import ROOT, read, sample_articles, write_jsonl
from tests.sigkill import cli_args, commits, many_articles

DEEP = "[" * 50_000 + "]" * 50_000


def run_cli(args: list[str], env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess[bytes]:
    full = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "summarize.cli", *args], cwd=ROOT, env=full, capture_output=True,
                          timeout=timeout)


def only_json(stderr: bytes) -> list[dict[str, Any]]:
    lines = stderr.decode().splitlines()
    assert lines, "no log lines"
    return [json.loads(line) for line in lines]  # every line is JSON, or this raises


def one_error(res: subprocess.CompletedProcess[bytes], code: int = 2) -> str:
    """The run failed with `code` and said so in exactly one JSON error line (no traceback)."""
    docs = only_json(res.stderr)
    errors = [d for d in docs if d["level"] == "error"]
    assert res.returncode == code, res.stderr.decode()[-2000:]
    assert len(errors) == 1 and errors[0]["exit_code"] == code, docs
    assert "Traceback" not in res.stderr.decode()
    return str(errors[0]["message"])


def poisoned_batch(path: Path) -> Path:
    good = [{**a, "id": f"g{i}"} for i, a in enumerate(many_articles(6))]
    lines: list[dict[str, Any] | str] = [
        '{"id": "deep", "text": "x", "n": ' + DEEP + "}",  # first line: the column check reads past it
        *good[:3],
        {"id": "huge", "text": "t", "n": 10**29},  # middle: does not fit --keep-col n:int
        '{"id": "digits", "text": "t", "n": ' + "9" * 5000 + "}",
        *good[3:],
        DEEP,  # last line
    ]
    for g in good:
        g["n"] = 1
    return write_jsonl(path, lines)


def test_poisoned_records_at_start_middle_and_end_are_rejects_and_the_batch_resumes(
        tmp_path: Path, tiny: dict[str, Path]) -> None:
    inp = poisoned_batch(tmp_path / "in.jsonl")
    out = tmp_path / "out"
    args = [a for a in cli_args(inp, out, tiny, "--keep-col", "n:int") if a != "--quiet"]
    res = run_cli([*args, "--log-format", "json"])
    assert res.returncode == 1, res.stderr.decode()[-3000:]  # rejects make exit 1, as documented
    assert only_json(res.stderr)[-1]["rejected"] == 4
    rejects = read(out, "rejects").sort("line")
    assert rejects["line"].to_list() == [1, 5, 6, 10]
    assert rejects["source"].to_list() == [str(inp)] * 4
    assert "nested more than" in rejects["error"][0] and "64-bit" in rejects["error"][1]
    assert "digits" in rejects["error"][2] and "nested more than" in rejects["error"][3]
    arts = read(out, "articles")
    assert sorted(arts["id"].to_list()) == [f"g{i}" for i in range(6)] and arts["n"].to_list() == [1] * 6
    again = run_cli([*args, "--resume", "--log-format", "json"])
    assert again.returncode == 1 and only_json(again.stderr)
    assert read(out, "articles").height == 6 and read(out, "rejects").height == 4  # nothing twice
    det = run_cli(["detect", str(inp), "--out", str(tmp_path / "det.parquet"), "--log-format", "json"])
    assert det.returncode == 0 and only_json(det.stderr)
    rows = pl.read_parquet(tmp_path / "det.parquet")
    assert rows.filter(pl.col("status") != "ok").height >= 2 and rows.height == 10


@pytest.fixture
def bare_model(tmp_path: Path, tiny: dict[str, Path]) -> Path:
    """The tiny T5 without its tokenizer files."""
    folder = tmp_path / "t5-no-tokenizer"
    shutil.copytree(tiny["t5"], folder)
    for name in ("spiece.model", "tokenizer.json", "tokenizer_config.json"):
        (folder / name).unlink(missing_ok=True)
    return folder


CASES: list[tuple[str, list[str], dict[str, str], str]] = [
    ("empty parquet", ["@empty.parquet"], {}, "not a readable Parquet file"),
    ("random parquet", ["@random.parquet"], {}, "not a readable Parquet file"),
    ("300-char out", ["--out", "@" + "x" * 300], {}, "300 bytes long"),
    ("min free inf", [], {"SUMMARIZE_MIN_FREE_MB": "inf"}, "SUMMARIZE_MIN_FREE_MB"),
    ("lock lease not a number", [], {"SUMMARIZE_LOCK_LEASE_S": "abc"}, "SUMMARIZE_LOCK_LEASE_S"),
    ("lock lease negative", [], {"SUMMARIZE_LOCK_LEASE_S": "-5"}, "SUMMARIZE_LOCK_LEASE_S"),
    ("lock lease inf", [], {"SUMMARIZE_LOCK_LEASE_S": "inf"}, "SUMMARIZE_LOCK_LEASE_S"),
    ("duplicate partition keys", ["--partition-by", "lang,lang"], {}, "more than once"),
    ("empty target list", ["--to", ",,"], {}, "names no language"),
    ("absurd beams", ["--beams", "100000"], {}, "SUMMARIZE_MAX_BEAMS"),
    ("memory output", ["--out", "memory://bucket/out"], {}, "lives only as long as this process"),
    ("named pipe", ["@fifo.jsonl"], {}, "named pipe"),
    ("model without tokenizer", ["--summary-model", "@bare"], {}, "no tokenizer files"),
    ("unreachable s3", ["--out", "s3://bucket/out", "--storage-option", "endpoint_url=http://127.0.0.1:9"],
     {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_MAX_ATTEMPTS": "1"}, "cannot reach the storage endpoint"),
]


@pytest.mark.parametrize(("name", "extra", "env", "says"), CASES, ids=[c[0] for c in CASES])
def test_every_failure_is_one_sentence_before_any_model_loads(
        tmp_path: Path, tiny: dict[str, Path], bare_model: Path, name: str, extra: list[str], env: dict[str, str],
        says: str) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", sample_articles(2))
    (tmp_path / "empty.parquet").write_bytes(b"")
    (tmp_path / "random.parquet").write_bytes(os.urandom(3000))
    os.mkfifo(tmp_path / "fifo.jsonl")
    subst = {"@bare": str(bare_model)}

    def arg(a: str) -> str:
        return subst.get(a) or (str(tmp_path / a[1:]) if a.startswith("@") else a)

    args = [arg(a) for a in extra]
    inputs = [a for a in args if a.endswith((".parquet", ".jsonl")) and a.startswith(str(tmp_path))]
    rest = [a for a in args if a not in inputs]
    out = [] if "--out" in rest else ["--out", str(tmp_path / "out")]
    cmd = [a for a in cli_args(Path(inputs[0]) if inputs else inp, "X", tiny) if a != "--quiet"]
    cmd = cmd[:2] + cmd[4:]  # drop the default --out X; the case gives its own or the default below
    # the case's own flags come last, so they win over cli_args' (Click keeps the last of a flag)
    started = time.monotonic()
    res = run_cli([*cmd, *out, *rest, "--log-format", "json"], env=env, timeout=300)
    message = one_error(res)
    assert says in message, message
    assert time.monotonic() - started < 120


def test_a_file_system_that_turns_read_only_mid_run_is_exit_2_then_resumes(tmp_path: Path, tiny: dict[str, Path]) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a file system here (needs root and mount rights)")
    try:
        inp = write_jsonl(tmp_path / "in.jsonl", many_articles(16))
        out = mnt / "out"
        args = [a for a in cli_args(inp, out, tiny) if a != "--quiet"] + ["--log-format", "json"]
        full = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "summarize.cli", *args], cwd=ROOT, env=full,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        end = time.time() + 300
        while commits(out) < 1 and proc.poll() is None and time.time() < end:
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before its first commit"
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        _, stderr = proc.communicate(timeout=300)
        docs = only_json(stderr)  # every line JSON, no traceback
        assert proc.returncode == 2 and docs[-1]["level"] == "error" and docs[-1]["exit_code"] == 2, docs[-3:]
        assert "read-only" in str(docs[-1]["message"]).lower() and "--resume" in str(docs[-1]["message"])
        assert [d["level"] for d in docs].count("error") == 1, docs  # one sentence, however many writes failed
        subprocess.run(["mount", "-o", "remount,rw", str(mnt)], check=True)
        # The lock of the failed run is its own leftover (same host, process gone): taken over.
        again = run_cli([*args, "--resume"])
        assert again.returncode == 0, again.stderr.decode()[-2000:]
        ids = read(out, "articles")["id"].to_list()
        assert sorted(ids) == sorted(a["id"] for a in many_articles(16))  # each exactly once
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_folders_titles_and_kept_values_through_the_cli(tmp_path: Path, tiny: dict[str, Path]) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (tmp_path / "passwd.txt").write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    (folder / "link.txt").symlink_to(tmp_path / "passwd.txt")
    (folder / "a.txt").write_text(sample_articles(1)[0]["text"], encoding="utf-8")
    with open(os.fsencode(folder) + b"/caf\xe9.txt", "wb") as fh:
        fh.write(sample_articles(2)[1]["text"].encode())
    res = run_cli([*cli_args(folder, "-", tiny)[:-1]], timeout=300)
    assert res.returncode == 1, res.stderr.decode()[-2000:]  # the skipped link is a reject
    rows = [json.loads(line) for line in res.stdout.decode("utf-8").splitlines()]
    assert sorted(r["id"] for r in rows) == ["a.txt", "caf\\xe9.txt"]
    assert all("root:x" not in json.dumps(r) for r in rows)
    title = "T" * 500
    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "title": title, "text": sample_articles(1)[0]["text"],
                                                "k": "zero\u200bwidth\x07bell"}])
    out = tmp_path / "out"
    res = run_cli([*cli_args(inp, out, tiny), "--max-chars", "60", "--keep-col", "k"])
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    arts = read(out, "articles")
    assert arts["title"][0] == "T" * 60 and "title_truncated" in arts["flags"][0].to_list()
    assert arts["k"][0] == "zero\u200bwidth\x07bell"


def test_a_dead_containers_lock_is_refused_with_a_hint_then_taken_after_its_lease(
        tmp_path: Path, tiny: dict[str, Path]) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", sample_articles(2))
    out = tmp_path / "out"
    book = out / "_summarize"
    book.mkdir(parents=True)
    def stamp(ago: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - ago))

    # pid 1 of a pod that no longer exists: nothing here can check it, so only its lease frees it
    lock = {"pid": 1, "host": socket.gethostname() + "-old-pod", "started": stamp(900), "renewed": stamp(5),
            "run_id": "killed", "lease_s": 600}
    (book / "lock").write_text(json.dumps(lock), encoding="utf-8")
    args = [a for a in cli_args(inp, out, tiny) if a != "--quiet"] + ["--log-format", "json"]
    message = one_error(run_cli(args))
    assert "frees itself" in message and f"rm {book / 'lock'}" in message
    (book / "lock").write_text(json.dumps({**lock, "renewed": stamp(601)}), encoding="utf-8")
    res = run_cli(args)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    assert any("taking over a stale lock" in str(d["message"]) for d in only_json(res.stderr))
    (book / "lock").write_bytes(b"")  # ENOSPC while a lock was written: stale a lease later, never for good
    os.utime(book / "lock", (time.time() - 700, time.time() - 700))
    assert run_cli([*args, "--overwrite"]).returncode == 0


def test_input_paths_that_are_not_utf8_are_escaped_in_sources_manifests_and_resume(
        tmp_path: Path, tiny: dict[str, Path]) -> None:
    raw = os.fsencode(tmp_path)
    jsonl = os.fsdecode(raw + b"/d\xe9p.jsonl")  # surrogate escapes, as sys.argv gives such a name
    with open(os.fsencode(jsonl), "wb") as fh:
        fh.write("".join(json.dumps({**a, "id": f"j{i}"}) + "\n" for i, a in enumerate(sample_articles(2))).encode())
    os.mkdir(raw + b"/f\xe9ld")
    with open(raw + b"/f\xe9ld/a.txt", "wb") as fh:
        fh.write(sample_articles(3)[2]["text"].encode())
    folder = os.fsdecode(raw + b"/f\xe9ld")
    out = tmp_path / "out"
    args = [a for a in cli_args(Path("IN"), out, tiny) if a != "--quiet"]
    args = [args[0], jsonl, folder, *args[2:], "--log-format", "json"]
    res = run_cli(args)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    assert only_json(res.stderr) and "Traceback" not in res.stderr.decode()
    escaped = [f"{tmp_path}/d\\xe9p.jsonl", f"{tmp_path}/f\\xe9ld"]
    arts = read(out, "articles").sort("source")
    assert arts["source"].to_list() == [escaped[0]] * 2 + [f"{escaped[1]}/a.txt"]
    assert json.loads((out / "run.json").read_bytes().decode("utf-8"))["inputs"] == escaped  # valid UTF-8 JSON
    dataset = json.loads((out / "_summarize" / "dataset.json").read_bytes().decode("utf-8"))
    assert [i["name"] for i in dataset["identity"]["inputs"]] == escaped
    again = run_cli([*args, "--resume"])  # the same (unescaped) names are the same inputs
    assert again.returncode == 0, again.stderr.decode()[-2000:]
    assert read(out, "articles").height == 3
    stream = run_cli([a if a != str(out) else "-" for a in args])
    assert stream.returncode == 0, stream.stderr.decode()[-2000:]
    rows = [json.loads(line) for line in stream.stdout.decode("utf-8").splitlines()]  # strict UTF-8
    assert sorted(r["source"] for r in rows) == [escaped[0]] * 2 + [f"{escaped[1]}/a.txt"]
