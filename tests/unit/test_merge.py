"""The merge that ends a Parquet run: parts become files of bounded rows, in input order, read one at a time."""

from __future__ import annotations

import contextlib
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


def _glob_lines(out: Path) -> list[int]:
    """The rows a reader that globs the table folder sees right now (DuckDB, default options)."""
    import duckdb

    if not list((out / "rejects").glob("*.parquet")):
        return []
    return [r[0] for r in duckdb.sql(f"SELECT line FROM read_parquet('{out / 'rejects'}/*.parquet')").fetchall()]


def _watch(monkeypatch, out: Path, seen: list[list[int]]) -> None:
    """Record what a globbing reader sees after every change the merge makes to the folders."""
    from summarize.io import files

    for name in ("rename", "remove", "remove_tree", "exchange"):
        real = getattr(files, name)

        def watched(*args, real=real, name=name):
            result = real(*args)
            seen.append(_glob_lines(out))
            return result

        monkeypatch.setattr(files, name, watched)


def test_a_globbing_reader_sees_every_row_once_at_every_step_of_the_merge(tmp_path: Path, monkeypatch) -> None:
    _batch(tmp_path, shards=5, per_shard=3)
    seen: list[list[int]] = []
    exchanges = []
    real_exchange = merge.files.exchange
    monkeypatch.setattr(merge.files, "exchange", lambda a, b: exchanges.append(a) or real_exchange(a, b))
    _watch(monkeypatch, tmp_path, seen)

    assert merge.merge_parts(tmp_path, "run-aaaaaaaa-final", "run-aaaaaaaa", tag="aaaaaaaa-final")
    assert exchanges == [tmp_path / "rejects"]  # the folder was switched in one step
    assert seen and all(sorted(lines) == list(range(1, 16)) for lines in seen), seen
    assert len(list((tmp_path / "rejects").glob("*.parquet"))) == 1
    assert not (tmp_path / "_summarize" / "swap").exists()


def test_where_folders_cannot_be_exchanged_the_merge_renames_in_place(tmp_path: Path, monkeypatch) -> None:
    _batch(tmp_path, shards=5, per_shard=3)
    monkeypatch.setattr(merge.files, "exchange", lambda a, b: False)  # e.g. a file system without renameat2
    seen: list[list[int]] = []
    _watch(monkeypatch, tmp_path, seen)

    assert merge.merge_parts(tmp_path, "run-aaaaaaaa-final", "run-aaaaaaaa", tag="aaaaaaaa-final")
    assert sorted(_glob_lines(tmp_path)) == list(range(1, 16))
    assert any(len(lines) > 15 for lines in seen)  # the documented moment: merged file and parts side by side
    assert not (tmp_path / "_summarize" / "swap").exists()


def test_a_merge_killed_during_the_switch_is_settled_by_the_next_writer(tmp_path: Path, monkeypatch) -> None:
    from summarize.io import files
    from summarize.io.outdir import settle

    real = files.exchange
    for when in ("before", "after"):
        out = tmp_path / when
        _batch(out, shards=4, per_shard=2)

        def killed(a: Path, b: Path, when: str = when) -> bool:
            if when == "after":
                real(a, b)
            raise KeyboardInterrupt  # the process dies here: nothing after it runs

        monkeypatch.setattr(files, "exchange", killed)
        with contextlib.suppress(KeyboardInterrupt):
            merge.merge_parts(out, "run-aaaaaaaa-final", "run-aaaaaaaa", tag="aaaaaaaa-final")
        monkeypatch.setattr(files, "exchange", real)
        assert (out / "_summarize" / "swap").exists()  # the spare folder a kill leaves
        settle(out)
        assert not (out / "_summarize" / "swap").exists()
        assert sorted(_glob_lines(out)) == list(range(1, 9)), when
        assert len(list((out / "rejects").glob("*.parquet"))) == 1, when
