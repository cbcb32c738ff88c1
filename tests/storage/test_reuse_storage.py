"""Reuse on object storage (the SeaweedFS test server), with Delta there, and on the Ray engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from summarize import api, io
from tests.conftest import articles, options, write_jsonl

VOLATILE = ("run_id", "processed_at", "duration_ms", "reused")
SORT = {"articles": ["id"], "translations": ["id", "field", "target_lang"],
        "segments": ["id", "field", "target_lang", "seg_index"]}


@pytest.fixture(autouse=True)
def _no_storage_defaults() -> Iterator[None]:
    yield
    io.configure_storage({})


def _same(a: object, b: object) -> None:
    for t, keys in SORT.items():
        x = io.read_table(a, t).drop(VOLATILE, strict=False).sort(keys)
        y = io.read_table(b, t).drop(VOLATILE, strict=False).sort(keys)
        assert x.to_dicts() == y.to_dicts(), t


def test_reuse_on_s3_parquet_and_delta_and_the_memory_survives_compact(
        tmp_path: Path, tiny: dict[str, Path], s3_prefix: str, s3_server: object) -> None:
    storage = s3_server.object_store_options()  # type: ignore[attr-defined]
    inp = write_jsonl(tmp_path / "in.jsonl", articles(4))
    opts = options(tiny)
    out = f"{s3_prefix}/pq"
    first = api.run([inp], out, opts, storage_options=storage)
    assert first.reuse["articles"] == {"generated": 4, "reused": 0}
    assert io.memory.memory_files(io.as_path(out))
    local = tmp_path / "local"
    api.run([inp], local, opts)
    again = api.run([inp], out, opts, overwrite=True, storage_options=storage)
    assert again.reuse["articles"] == {"generated": 0, "reused": 4}
    assert again.reuse["segments"]["generated"] == 0
    _same(local, io.as_path(out))
    before = io.memory.load(io.as_path(out))
    from summarize.io.compact import compact

    compact(io.as_path(out))
    assert io.memory.load(io.as_path(out)) == before and len(io.memory.memory_files(io.as_path(out))) == 1

    # Delta on S3: a target language added by upsert makes only the new translations.
    delta = f"{s3_prefix}/delta"
    api.run([inp], delta, options(tiny, to=("en",)), table_format="delta", storage_options=storage)
    wider = api.run([inp], delta, opts, table_format="delta", upsert=True, allow_duplicate_batch=True,
                    storage_options=storage)
    assert wider.reuse["articles"] == {"generated": 0, "reused": 4}
    trans = io.read_table(io.as_path(delta), "translations")
    assert trans.filter((trans["target_lang"] == "fr") & (trans["model"] != "identity"))["reused"].sum() == 0
    assert trans.filter((trans["target_lang"] == "en") & (trans["model"] != "identity"))["reused"].all()


@pytest.mark.ray
def test_ray_workers_read_the_memory_and_store_what_they_make(tmp_path: Path, tiny: dict[str, Path]) -> None:
    ray = pytest.importorskip("ray")
    from summarize.engines.ray import RayEngine

    inp = write_jsonl(tmp_path / "in.jsonl", articles(6))
    opts = options(tiny)
    out = tmp_path / "ray"
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        first = api.run([inp], out, opts, engine=RayEngine(opts, workers=2))
        assert first.reuse["articles"]["generated"] == 6
        assert len(io.memory.memory_files(out)) == 3  # one file per shard, written by the workers
        again = api.run([inp], out, opts, engine=RayEngine(opts, workers=2), overwrite=True)
        assert again.reuse["articles"] == {"generated": 0, "reused": 6}
        assert again.reuse["translations"]["generated"] == 0
        delta = tmp_path / "delta"
        api.run([inp], delta, opts, engine=RayEngine(opts, workers=2), table_format="delta")
        redo = api.run([inp], delta, opts, engine=RayEngine(opts, workers=2), table_format="delta", upsert=True,
                       allow_duplicate_batch=True)
        assert redo.reuse["articles"] == {"generated": 0, "reused": 6}
    finally:
        ray.shutdown()
    local = tmp_path / "local"
    api.run([inp], local, opts)
    _same(local, out)
