"""Batch jobs that survive: kills and resumes, signals, option mismatches, write failures, load."""

from __future__ import annotations

import errno
import json
import os
import signal
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from summarize import api
from summarize.errors import OutputError
from summarize.io import write as io_write
from summarize.options import GenerationOptions, ReadOptions, RunOptions
from tests.conftest import invoke, read, write_jsonl
from tests.sigkill import cli_args, kill_after, many_articles, spawn, wait_for


def assert_exactly_once(out: Path, ids: list[str], targets: int = 2, fields: int = 2) -> None:
    arts = read(out, "articles")
    assert sorted(arts["id"].to_list()) == sorted(ids)
    tr = read(out, "translations")
    per = Counter(zip(tr["id"], tr["field"], tr["target_lang"], strict=True))
    assert len(per) == len(ids) * targets * fields
    assert set(per.values()) == {1}
    seg = read(out, "segments")
    keys = Counter(zip(seg["id"], seg["field"], seg["target_lang"], seg["seg_index"], strict=True))
    assert set(keys.values()) == {1}


def test_sigkill_at_several_points_then_resume_exactly_once(tmp_path: Path, tiny: dict[str, Path]) -> None:
    recs = many_articles(24)
    inp = write_jsonl(tmp_path / "in.jsonl", recs)
    out = tmp_path / "out"
    kills = 0
    for target in (1, 4, 7):
        kills += kill_after(cli_args(inp, out, tiny, *(("--resume",) if kills else ())), out, target)
    assert kills >= 2
    # an uncommitted part (a shard killed half-written) must vanish on resume
    part = next((out / "articles").glob("*.parquet"))
    (out / "translations" / "part-deadbeef-00099.parquet").write_bytes(part.read_bytes())
    proc = spawn(cli_args(inp, out, tiny, "--resume"))
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()
    assert not (out / "translations" / "part-deadbeef-00099.parquet").exists()
    assert_exactly_once(out, [r["id"] for r in recs])
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["state"] == "done" and manifest["counts"] == {"ok": 24}
    assert manifest["resumed"] > 0


def test_sigint_finishes_shard_records_interruption_and_resumes(tmp_path: Path, tiny: dict[str, Path]) -> None:
    recs = many_articles(30)
    inp = write_jsonl(tmp_path / "in.jsonl", recs)
    out = tmp_path / "out"
    proc = spawn(cli_args(inp, out, tiny))
    assert wait_for(proc, out, 1)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=300)
    assert proc.returncode == 130
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["state"] == "interrupted" and manifest["interrupted"] == "SIGINT"
    done = read(out, "articles")
    assert 0 < done.height < 30
    res = invoke(cli_args(inp, out, tiny, "--resume"))
    assert res.exit_code == 0, res.output
    assert_exactly_once(out, [r["id"] for r in recs])


def test_sigterm_exit_code(tmp_path: Path, tiny: dict[str, Path]) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", many_articles(30))
    out = tmp_path / "out"
    proc = spawn(cli_args(inp, out, tiny))
    assert wait_for(proc, out, 1)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=300)
    assert proc.returncode == 143
    assert json.loads((out / "run.json").read_text())["interrupted"] == "SIGTERM"


def test_non_empty_and_option_mismatch_are_refused(tmp_path: Path, tiny: dict[str, Path]) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", many_articles(3))
    out = tmp_path / "out"
    assert invoke(cli_args(inp, out, tiny)).exit_code == 0
    res = invoke(cli_args(inp, out, tiny))
    assert res.exit_code == 2 and "--resume" in res.output and "--overwrite" in res.output
    res = invoke(cli_args(inp, out, tiny, "--resume", "--max-new-tokens", "7"))
    assert res.exit_code == 2 and "different options" in res.output and "summary.max_new_tokens: 6 then, 7 now" in res.output
    # speed-only options do not change the output, so they may differ on resume
    res = invoke(cli_args(inp, out, tiny, "--resume", "--batch-size", "3"))
    assert res.exit_code == 0, res.output
    assert read(out, "articles").height == 3
    res = invoke(cli_args(inp, out, tiny, "--overwrite", "--max-new-tokens", "7"))
    assert res.exit_code == 0
    assert read(out, "articles").height == 3


def _options(tiny: dict[str, Path]) -> RunOptions:
    fast = GenerationOptions(max_new_tokens=6, num_beams=1, no_repeat_ngram_size=0)
    return RunOptions(summary_model=str(tiny["t5"]), translation_model=str(tiny["m2m100"]), to=("en", "fr"),
                      summary=fast, translation=fast, shard_size=2)


def test_write_failure_stops_cleanly_and_resume_completes(tmp_path: Path, tiny: dict[str, Path],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    recs = many_articles(10)
    inp = write_jsonl(tmp_path / "in.jsonl", recs)
    out = tmp_path / "out"
    # The writer looks the function up in its own module, so that is where the disk fills up.
    real = io_write.atomic_write_bytes
    calls = {"n": 0}

    def full_disk(path: Path, data: bytes) -> None:
        calls["n"] += 1
        if calls["n"] > 12 and path.suffix == ".parquet":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    monkeypatch.setattr(io_write, "atomic_write_bytes", full_disk)
    with pytest.raises(OutputError, match=r"No space left on device.*--resume"):
        api.run([inp], out, _options(tiny))
    monkeypatch.setattr(io_write, "atomic_write_bytes", real)
    assert json.loads((out / "run.json").read_text())["state"] == "failed"
    partial = read(out, "articles")
    assert 0 < partial.height < 10
    info = api.run([inp], out, _options(tiny), resume=True)
    assert info.exit_code == 0
    assert_exactly_once(out, [r["id"] for r in recs], fields=1)


def test_unwritable_out_is_a_clear_error(tmp_path: Path, tiny: dict[str, Path]) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", many_articles(1))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = invoke(cli_args(inp, blocker / "out", tiny))
    assert res.exit_code == 2 and "cannot write" in res.output


def test_memory_and_open_files_stay_bounded(tmp_path: Path, tiny: dict[str, Path]) -> None:
    psutil = pytest.importorskip("psutil")
    n = 2000
    texts = [f"Council meeting number {i} discussed the budget for roads and schools." for i in range(n)]
    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": str(i), "text": t, "lang": "en"} for i, t in enumerate(texts)])
    proc = psutil.Process()
    samples: list[tuple[int, int]] = []

    def probe(_: int) -> None:
        samples.append((proc.num_fds(), proc.memory_info().rss))

    fast = GenerationOptions(max_new_tokens=2, num_beams=1, no_repeat_ngram_size=0, batch_size=64)
    options = RunOptions(summary_model=str(tiny["t5"]), translation_model=str(tiny["m2m100"]), to=("en",),
                         summary=fast, translation=fast, shard_size=200)
    info = api.run([inp], tmp_path / "out", options, ReadOptions(lang_col="lang"), progress=probe)
    assert info.counts == {"ok": n}
    assert len(samples) == n // 200
    fds = [f for f, _ in samples]
    assert max(fds) - min(fds) <= 3
    rss = [r for _, r in samples]
    # after warm-up, memory must not grow with the number of articles processed
    assert max(rss[3:]) - rss[3] < 80 * 2**20
    assert pl.read_parquet(tmp_path / "out" / "articles").height == n
