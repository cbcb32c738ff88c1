"""Parquet parts are invisible until committed: staged under hidden names, renamed after the marker."""

from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as pads

from summarize import io
from summarize.io.outdir import settle
from summarize.io.write import STAGED, RunWriter
from summarize.schema import Reject


def visible(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.glob("**/*.parquet"))


def test_staged_parts_are_hidden_until_the_driver_commits_and_settle_finishes_or_drops_them(tmp_path: Path) -> None:
    out = tmp_path / "out"
    writer = RunWriter(out, "20260101T000000000000-abcdef12", "h")
    # what a Ray worker does: write the shard's parts; the driver commits later
    parts, written = writer.write_parts([], [Reject("in.jsonl", 3, "bad", "{")], 0)
    assert written["rejects"] == 1 and visible(out) == []
    assert pads.dataset(out / "rejects", format="parquet").count_rows() == 0
    assert [p.name for p in (out / "rejects").iterdir()] == [f".{Path(parts[0]['path']).name}{STAGED}"]
    writer.commit(0, parts, written)
    assert visible(out) == [parts[0]["path"]]
    assert pads.dataset(out / "rejects", format="parquet").count_rows() == 1
    # killed between the marker and the rename: the part is committed, settle moves it into place
    parts1, _ = writer.write_parts([], [Reject("in.jsonl", 4, "bad", "{")], 1)
    io.commit_parts(out, f"{writer.run_id}-00001", writer.run_id, parts1)
    # killed before the marker: not part of the dataset, settle deletes it
    writer.write_parts([], [Reject("in.jsonl", 5, "bad", "{")], 2)
    assert visible(out) == [parts[0]["path"]]
    removed = settle(out)
    assert visible(out) == sorted([parts[0]["path"], parts1[0]["path"]])
    assert len(removed) == 1 and removed[0].endswith(STAGED)
    assert sorted(io.read_table(out, "rejects")["line"].to_list()) == [3, 4]
