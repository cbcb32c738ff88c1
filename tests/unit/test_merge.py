"""The merge that ends a Parquet run: parts become files of bounded rows, in input order, read one at a time."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from summarize import io
from summarize.io import merge
from summarize.io.outdir import live_markers
from summarize.schema import Reject


def _batch(out: Path, shards: int, per_shard: int) -> io.RunWriter:
    writer = io.RunWriter(out, "run-aaaaaaaa", "hash")
    for shard in range(shards):
        rejects = [Reject("in.jsonl", shard * per_shard + i + 1, "bad json", "{") for i in range(per_shard)]
        parts, written = writer.write_parts([], rejects, shard)
        writer.commit(shard, parts, written)
    return writer


def _live(out: Path) -> list[dict]:
    return [p for m in live_markers(out) for p in m["parts"] if p["table"] == "rejects"]


def test_parts_merge_into_files_of_bounded_rows_in_input_order(tmp_path: Path, monkeypatch) -> None:
    _batch(tmp_path, shards=7, per_shard=3)
    monkeypatch.setattr(merge, "ROW_GROUP_ROWS", 4)  # several row groups per file, as a large batch has
    assert merge.merge_parts(tmp_path, "run-aaaaaaaa-final", "run-aaaaaaaa", tag="aaaaaaaa-final", rows_per_file=7)

    parts = sorted(_live(tmp_path), key=lambda p: p["path"])
    assert [p["rows"] for p in parts] == [6, 6, 6, 3]  # whole parts, never more than 7 rows a file
    lines = []
    for p in parts:
        f = pq.ParquetFile(tmp_path / p["path"])
        assert f.metadata.num_rows == p["rows"] and f.metadata.num_row_groups >= 1
        assert f.schema_arrow.metadata[b"table"] == b"rejects"  # the file's key-value metadata is kept
        lines += f.read().column("line").to_pylist()
    assert lines == list(range(1, 22))
    on_disk = sorted(f.relative_to(tmp_path).as_posix() for f in (tmp_path / "rejects").glob("*.parquet"))
    assert on_disk == [p["path"] for p in parts]  # the shard parts are gone


def test_a_column_one_part_lacks_comes_back_null(tmp_path: Path) -> None:
    _batch(tmp_path, shards=2, per_shard=2)
    first = tmp_path / _live(tmp_path)[0]["path"]
    data = pq.read_table(first)
    pq.write_table(data.append_column("desk", pa.array(["a", "b"])), first)  # an older part with a kept column

    assert merge.merge_parts(tmp_path, "run-aaaaaaaa-final", "run-aaaaaaaa", tag="aaaaaaaa-final")
    (part,) = _live(tmp_path)
    merged = pq.read_table(tmp_path / part["path"])
    assert merged.num_rows == 4 and merged.column("desk").to_pylist() in (["a", "b", None, None],
                                                                          [None, None, "a", "b"])
