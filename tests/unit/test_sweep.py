"""`RunWriter.sweep`: what a run leaves of uncommitted parts (a lost worker's, a stopped run's) is deleted."""

from __future__ import annotations

from pathlib import Path

from summarize import io
from summarize.schema import Reject


def test_sweep_removes_only_this_runs_uncommitted_parts_and_dead_writers_temporaries(tmp_path: Path) -> None:
    writer = io.RunWriter(tmp_path, "run-aaaaaaaa", "hash")
    other = io.RunWriter(tmp_path, "run-bbbbbbbb", "hash")  # an earlier run of the same dataset
    reject = [Reject("in.jsonl", 1, "bad json", "{")]
    kept, _ = writer.write_parts([], reject, 0)
    lost, _ = writer.write_parts([], reject, 1)  # written by a worker, never committed
    earlier, _ = other.write_parts([], reject, 1)
    temp = tmp_path / "rejects" / f".{writer.part_name(2)}.tmp-4242"  # a write killed midway
    temp.write_bytes(b"PAR1")
    # A worker killed while staging a part: the temporary of the staged (hidden) name, as files.write makes it.
    staged_temp = tmp_path / "rejects" / f".{io.write.staged(tmp_path / 'rejects' / writer.part_name(3)).name}.tmp-4343"
    assert staged_temp.name.startswith("..part-")
    staged_temp.write_bytes(b"PAR1")
    committed = {p["path"] for p in kept}

    removed = writer.sweep(committed)

    assert sorted(removed) == sorted([*(p["path"] for p in lost), temp.relative_to(tmp_path).as_posix(),
                                      staged_temp.relative_to(tmp_path).as_posix()])
    # Parts are staged under hidden names until their commit publishes them: read them by final name.
    left = {f"rejects/{f.name[1:-len('.staged')] if f.name.endswith('.staged') else f.name}"
            for f in (tmp_path / "rejects").iterdir()}
    assert left == committed | {p["path"] for p in earlier}
    assert writer.sweep(committed) == []  # nothing more to remove
