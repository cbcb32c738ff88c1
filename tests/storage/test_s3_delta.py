"""`--table-format delta` with `--out s3://...` on a real S3 server (SeaweedFS), no mocks.

Every Delta feature on the object store: three batches (a run, an `--append`, an `--upsert`
correction) read back alike by deltalake, Polars and DuckDB (`delta_scan` over httpfs), time
travel, `summarize compact`, SIGKILL then `--resume`, credentials from the environment only, and
the Ray engine (the driver alone commits).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from summarize import api, io
from summarize.io import files
from tests.conftest import articles, invoke, options, sample_articles, write_jsonl
from tests.s3server import S3Server
from tests.sigkill import cli_args, kill_after, many_articles, spawn

from .test_delta import DELTA, duck

deltalake = pytest.importorskip("deltalake")
from deltalake import DeltaTable  # noqa: E402


@pytest.fixture(autouse=True)
def _no_storage_defaults(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ALLOW_HTTP"):
        monkeypatch.delenv(key, raising=False)
    yield
    io.configure_storage({})


def s3fs_style_flags(server: S3Server) -> list[str]:
    """--storage-option pairs spelled as s3fs spells them (what the tool maps for deltalake)."""
    pairs = {"endpoint_url": server.endpoint_url, "key": server.access_key, "secret": server.secret_key,
             "region": server.region}
    return [x for k, v in pairs.items() for x in ("--storage-option", f"{k}={v}")]


def readers(server: S3Server, table: str) -> dict[str, pl.DataFrame]:
    """One table on the store as each supported reader sees it."""
    opts = server.object_store_options()
    con = duck("httpfs")
    con.execute(server.duckdb_secret_sql())
    return {
        "deltalake": pl.from_arrow(DeltaTable(table, storage_options=opts).to_pyarrow_table()),  # type: ignore[dict-item]
        "polars": pl.scan_delta(table, storage_options=opts).collect(),
        "duckdb": con.sql(f"SELECT * FROM delta_scan('{table}')").pl(),
    }


def manifests(server: S3Server, prefix: str) -> list[dict[str, Any]]:
    book = io.as_path(prefix, server.object_store_options()) / "_summarize" / "runs"
    return [doc for f in files.files_under(book, ".json") if (doc := files.read_json(f)) is not None]


def test_three_batches_on_s3_with_an_upsert_every_reader_agrees_then_compact(
        tmp_path: Path, fast_args: list[str], s3_server: S3Server, s3_prefix: str) -> None:
    base = sample_articles(6)
    b0 = write_jsonl(tmp_path / "b0.jsonl", [{**a, "id": f"a{i}"} for i, a in enumerate(base[:3])])
    b1 = write_jsonl(tmp_path / "b1.jsonl", [{**a, "id": f"b{i}"} for i, a in enumerate(base[3:5])])
    # a1 corrected: new text, and only English now, so its French rows must go
    b2 = write_jsonl(tmp_path / "b2.jsonl", [{**base[5], "id": "a1", "text": base[5]["text"] + " Korrigiert."}])
    flags = s3fs_style_flags(s3_server)  # no AWS_* variables: the flags alone reach the store
    for inp, to, extra in ((b0, "en,fr", ()), (b1, "en,fr", ("--append",)), (b2, "en", ("--upsert",))):
        res = invoke(["run", str(inp), "--out", s3_prefix, "--to", to, *DELTA, *fast_args, *flags, *extra])
        assert res.exit_code == 0, res.output
    docs = manifests(s3_server, s3_prefix)
    first, final = (next(m for m in docs if any(name in str(i) for i in m["inputs"])) for name in ("b0.jsonl", "b2.jsonl"))
    assert final["state"] == "done" and final["table_format"] == "delta" and final["upsert"]
    last = final["run_id"]
    for name, arts in readers(s3_server, f"{s3_prefix}/articles").items():
        assert sorted(arts["id"].to_list()) == ["a0", "a1", "a2", "b0", "b1"], name
        assert arts.filter(pl.col("id") == "a1")["run_id"].to_list() == [last], name
    for name, tr in readers(s3_server, f"{s3_prefix}/translations").items():
        per = Counter(zip(tr["id"], tr["field"], tr["target_lang"], strict=True))
        assert set(per.values()) == {1}, name
        assert sorted(k[2] for k in per if k[0] == "a1") == ["en"], name
        assert sorted(k[2] for k in per if k[0] == "a0") == ["en", "fr"], name
    seg = readers(s3_server, f"{s3_prefix}/segments")["duckdb"]
    assert seg.filter(pl.col("id") == "a1")["target_lang"].unique().to_list() == ["en"]
    # time travel to the first run's versions, recorded in its manifest
    opts = s3_server.object_store_options()
    v0 = first["delta_versions"]["articles"]
    old = pl.scan_delta(f"{s3_prefix}/articles", version=v0, storage_options=opts).collect()
    assert sorted(old["id"].to_list()) == ["a0", "a1", "a2"]
    assert DeltaTable(f"{s3_prefix}/articles", storage_options=opts).transaction_version(
        f"summarize:{first['run_id']}:articles") == 2  # 3 articles, shards of 2
    found = [f.path for f in files.files_under(io.as_path(s3_prefix, opts))]
    assert not [k for k in found if k.endswith("_summarize/lock")]  # released
    # compact on the store: fewer files, the same rows
    before = {t: pl.read_delta(f"{s3_prefix}/{t}", storage_options=opts).sort(pl.all()) for t in ("articles", "translations")}
    n_before = len(DeltaTable(f"{s3_prefix}/articles", storage_options=opts).file_uris())
    res = invoke(["compact", s3_prefix, *flags])
    assert res.exit_code == 0, res.output
    assert len(DeltaTable(f"{s3_prefix}/articles", storage_options=opts).file_uris()) < n_before
    for t, frame in before.items():
        assert pl.read_delta(f"{s3_prefix}/{t}", storage_options=opts).sort(pl.all()).equals(frame)


def test_sigkill_then_resume_on_s3_has_every_article_once(tmp_path: Path, tiny: dict[str, Path],
                                                          s3_server: S3Server, s3_prefix: str) -> None:
    recs = many_articles(10)
    inp = write_jsonl(tmp_path / "in.jsonl", recs)
    # Credentials from the environment only, and no AWS_ALLOW_HTTP: the tool adds it for an
    # http:// endpoint. A short lease, so the killed run's lock frees itself in seconds.
    env = {**{k: v for k, v in s3_server.env().items() if k != "AWS_ALLOW_HTTP"}, "SUMMARIZE_LOCK_LEASE_S": "2"}
    opts = s3_server.object_store_options()
    args = cli_args(inp, s3_prefix, tiny, "--table-format", "delta")
    assert kill_after(args, s3_prefix, 1, env=env, storage=opts), "the run finished before it could be killed"
    book = io.as_path(s3_prefix, opts) / "_summarize"
    assert files.read_json(book / "lock") is not None  # a SIGKILL leaves the lock behind
    time.sleep(2.5)  # one lease
    proc = spawn([*args, "--resume"], env)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()
    arts = pl.read_delta(f"{s3_prefix}/articles", storage_options=opts)
    assert sorted(arts["id"].to_list()) == sorted(r["id"] for r in recs)
    tr = pl.read_delta(f"{s3_prefix}/translations", storage_options=opts)
    per = Counter(zip(tr["id"], tr["field"], tr["target_lang"], strict=True))
    assert len(per) == len(recs) * 2 * 2 and set(per.values()) == {1}
    seg = pl.read_delta(f"{s3_prefix}/segments", storage_options=opts)
    assert set(Counter(zip(seg["id"], seg["field"], seg["target_lang"], seg["para_index"], seg["seg_index"],
                           strict=True)).values()) == {1}
    manifest = json.loads((io.as_path(s3_prefix, opts) / "run.json").read_text())
    assert manifest["state"] == "done" and manifest["counts"] == {"ok": 10} and manifest["resumed"] >= 2
    assert files.read_json(book / "lock") is None


def test_storage_options_map_to_object_store_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    from summarize.io.delta import delta_options

    s3fs_style = {"endpoint_url": "http://h:9000", "key": "k", "secret": "s", "token": "t", "region": "eu-west-1",
                  "requester_pays": "true"}
    assert files.object_store_options(s3fs_style) == {
        "aws_endpoint_url": "http://h:9000", "aws_access_key_id": "k", "aws_secret_access_key": "s",
        "aws_session_token": "t", "aws_region": "eu-west-1", "aws_allow_http": "true"}  # s3fs-only keys dropped
    assert files.object_store_options({"AWS_ENDPOINT_URL": "https://h", "AWS_REGION": "r"}) == {
        "aws_endpoint_url": "https://h", "aws_region": "r"}
    # Nothing given: object_store reads the environment itself; only plain http needs saying so.
    assert files.object_store_options({}) == {}
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://h:9000")
    assert files.object_store_options({}) == {"aws_allow_http": "true"}
    # Commits are conditional PUTs unless the user chose a locking provider (or unsafe renames).
    assert delta_options({}, "s3://b/out")["aws_conditional_put"] == "etag"
    assert "aws_conditional_put" not in delta_options({"AWS_S3_ALLOW_UNSAFE_RENAME": "true"}, "s3://b/out")
    assert "aws_conditional_put" not in delta_options({}, "gs://b/out")


@pytest.mark.ray
def test_ray_with_delta_on_s3_matches_the_local_engine(tmp_path: Path, tiny: dict[str, Path],
                                                       s3_server: S3Server, s3_prefix: str) -> None:
    ray = pytest.importorskip("ray")
    from summarize.engines.ray import RayEngine

    inp = write_jsonl(tmp_path / "in.jsonl", articles(5))
    opts = options(tiny)
    local = api.run([inp], tmp_path / "local", opts, table_format="delta")
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        remote = api.run([inp], s3_prefix, opts, engine=RayEngine(opts, workers=2), table_format="delta",
                         storage_options=s3_server.object_store_options())
    finally:
        ray.shutdown()
    assert remote.exit_code == local.exit_code == 0 and remote.counts == local.counts == {"ok": 5}
    for t, keys in (("articles", ["id"]), ("translations", ["id", "field", "target_lang"])):
        a = io.read_table(tmp_path / "local", t).drop("run_id", "processed_at", "duration_ms", strict=False).sort(keys)
        b = io.read_table(io.as_path(s3_prefix), t).drop("run_id", "processed_at", "duration_ms", strict=False).sort(keys)
        assert a.to_dicts() == b.to_dicts(), t
