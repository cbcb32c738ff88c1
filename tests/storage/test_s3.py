"""Inputs and --out on a real S3 server (SeaweedFS, started by the `s3_server` fixture): runs,
the lock, a kill followed by --resume, and the Ray engine writing its own parts there.

No mocks: every byte goes through s3fs to the server. Tiny models and a few articles keep each
test to seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from summarize import api, io
from summarize.errors import OutputError
from tests.conftest import invoke, write_jsonl
from tests.s3server import S3Server

from .test_ray import articles, options  # the same tiny-model options and articles as the Ray tests

IGNORED = ("run_id", "duration_ms", "processed_at", "reused")  # `reused`: each Ray actor has its own memory
SORT = {"articles": ["id"], "translations": ["id", "field", "target_lang"],
        "segments": ["id", "field", "target_lang", "seg_index"], "rejects": ["source", "line"]}


@pytest.fixture(autouse=True)
def _no_storage_defaults() -> Iterator[None]:
    # `configure_storage` is per process: never let one test's options leak into the next.
    yield
    io.configure_storage({})


def tables(out: Any) -> dict[str, pl.DataFrame]:
    root = io.as_path(out) if isinstance(out, str) else out
    return {t: io.read_table(root, t).drop(IGNORED, strict=False).sort(keys) for t, keys in SORT.items()}


def assert_same_tables(a: Any, b: Any) -> None:
    ta, tb = tables(a), tables(b)
    for name in SORT:
        assert ta[name].height == tb[name].height, name
        assert ta[name].to_dicts() == tb[name].to_dicts(), name


def keys(server: S3Server, prefix: str) -> list[str]:
    import s3fs

    fs = s3fs.S3FileSystem(**server.s3fs_options())
    root = prefix.removeprefix("s3://")
    return sorted(k[len(root) + 1:] for k in fs.find(root))


def test_a_run_to_s3_writes_the_same_tables_as_to_disk(tmp_path: Path, tiny: dict[str, Path], s3_server: S3Server,
                                                        s3_prefix: str) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", [*articles(5), '{"id": "broken", "text": '])
    opts = options(tiny)
    local = api.run([inp], tmp_path / "local", opts)
    remote = api.run([inp], s3_prefix, opts, storage_options=s3_server.object_store_options())
    assert remote.exit_code == local.exit_code == 1 and remote.counts == local.counts == {"ok": 5}
    assert_same_tables(tmp_path / "local", s3_prefix)
    found = keys(s3_server, s3_prefix)
    assert "_summarize/dataset.json" in found and "run.json" in found
    assert "_summarize/lock" not in found  # released
    # one marker per shard, superseded at the run's end by the merge's single marker
    assert [k.rsplit("/", 1)[1] for k in found if k.startswith("_summarize/commits/")] == [f"{remote.run_id}-final.json"]
    assert not [k for k in found if k.endswith(".staged")]  # nothing left under a staging name
    manifest = json.loads(io.as_path(f"{s3_prefix}/run.json").read_text())
    assert manifest["state"] == "done" and manifest["out_dir"] == s3_prefix
    # A second run without --resume/--overwrite is refused, as on disk; --overwrite replaces it.
    with pytest.raises(OutputError, match="not empty"):
        api.run([inp], s3_prefix, opts)
    again = api.run([inp], s3_prefix, opts, overwrite=True)
    assert again.counts == {"ok": 5}
    assert sum(k.startswith("_summarize/commits/") for k in keys(s3_server, s3_prefix)) == 1


def test_input_on_s3_and_credentials_from_the_environment_only(tmp_path: Path, tiny: dict[str, Path],
                                                               s3_server: S3Server, s3_prefix: str,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               fast_args: list[str]) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(**s3_server.s3fs_options())
    body = "\n".join(json.dumps(a) for a in articles(3)) + "\n"
    fs.pipe_file(f"{s3_prefix.removeprefix('s3://')}/in/articles.jsonl", body.encode())
    for k, v in s3_server.env().items():
        monkeypatch.setenv(k, v)
    # No --storage-option at all: s3fs reads AWS_ENDPOINT_URL and the keys from the environment.
    res = invoke(["run", f"{s3_prefix}/in/articles.jsonl", "--out", f"{s3_prefix}/out", *fast_args, "--quiet"])
    assert res.exit_code == 0, res.output
    assert io.read_table(io.as_path(f"{s3_prefix}/out"), "articles")["id"].sort().to_list() == ["a000", "a001", "a002"]


def test_storage_option_flag_sets_the_endpoint(tmp_path: Path, s3_server: S3Server, s3_prefix: str,
                                               fast_args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(k, raising=False)
    inp = write_jsonl(tmp_path / "in.jsonl", articles(2))
    flags = [x for k, v in s3_server.object_store_options().items() for x in ("--storage-option", f"{k}={v}")]
    res = invoke(["run", str(inp), "--out", s3_prefix, *flags, *fast_args, "--quiet"])
    assert res.exit_code == 0, res.output
    assert "run.json" in keys(s3_server, s3_prefix)
    bad = invoke(["run", str(inp), "--out", s3_prefix, "--storage-option", "no-equals-sign", *fast_args])
    assert bad.exit_code == 2 and "KEY=VALUE" in bad.output


def test_the_lock_on_s3_is_a_create_only_write(s3_server: S3Server, s3_prefix: str) -> None:
    from summarize.io.lock import Lock

    io.configure_storage(s3_server.object_store_options())
    book = io.as_path(s3_prefix) / "_summarize"
    first = Lock.acquire(book, "run-1", s3_prefix)
    with pytest.raises(OutputError, match="in use by another summarize run"):
        Lock.acquire(book, "run-2", s3_prefix)
    first.release()
    assert "_summarize/lock" not in keys(s3_server, s3_prefix)
    second = Lock.acquire(book, "run-2", s3_prefix)  # free again
    second.release()
    # Leases, heartbeats and takeovers: tests/storage/test_s3_lock.py.


_KILLED_RUN = """
import sys, time
from summarize import api
from summarize.options import GenerationOptions, RunOptions
opts = RunOptions(to=("en", "fr"), translate=("summary", "title"), summary_model=sys.argv[3],
                  translation_model=sys.argv[4], summary=GenerationOptions(max_new_tokens=6, num_beams=1),
                  translation=GenerationOptions(max_new_tokens=8, num_beams=1, no_repeat_ngram_size=0), shard_size=2)
def slow(_n):
    print("shard", flush=True)
    time.sleep(30)  # the parent kills us here, after the first committed shard
api.run([sys.argv[1]], sys.argv[2], opts, progress=slow)
"""


@pytest.mark.parametrize("compact", [False, True], ids=["resume", "compact-then-resume"])
def test_kill_then_resume_on_s3_writes_every_article_once(tmp_path: Path, tiny: dict[str, Path],
                                                          s3_server: S3Server, s3_prefix: str, compact: bool) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", articles(6))
    env = {**os.environ, **s3_server.env(), "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
           "SUMMARIZE_LOCK_LEASE_S": "2"}  # the lease the killed run's lock records
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_RUN, str(inp), s3_prefix, str(tiny["t5"]), str(tiny["m2m100"])],
                            stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the first shard is committed when progress is reported
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert line.strip() == b"shard"
    found = keys(s3_server, s3_prefix)
    assert "_summarize/lock" in found  # a SIGKILL leaves the lock behind
    assert sum(k.startswith("_summarize/commits/") for k in found) == 1
    # The lock of the killed run is stale only a lease after its last renewal (pids mean nothing remotely).
    opts = options(tiny)
    io.configure_storage(s3_server.object_store_options())
    with pytest.raises(OutputError, match="in use"):
        api.run([inp], s3_prefix, opts, resume=True)
    stale = time.monotonic() + 2.5
    # The store holds a run's parts back until its end: a glob sees nothing of the killed run,
    # and summarize's own readers and `check` see its committed shard through the marker.
    assert not [k for k in found if k.endswith(".parquet")]
    assert [k for k in found if k.startswith("articles/") and k.endswith(".staged")]
    held = io.read_table(io.as_path(s3_prefix, s3_server.object_store_options()), "articles")
    assert held.height == 2
    flags = [x for k, v in s3_server.object_store_options().items() for x in ("--storage-option", f"{k}={v}")]
    res = invoke(["check", s3_prefix, *flags])
    assert "commit" not in res.output and "missing" not in res.output, res.output
    time.sleep(max(0.0, stale - time.monotonic()))
    shown: set[str] = set()
    if compact:  # `compact` shows a killed run's held shard too
        assert invoke(["compact", s3_prefix, *flags]).exit_code == 0
        found = keys(s3_server, s3_prefix)
        shown = {k for k in found if k.endswith(".parquet")}
        assert shown and not [k for k in found if k.endswith(".staged")]
        assert pl.read_parquet(f"{s3_prefix}/articles/**/*.parquet",
                               storage_options=s3_server.object_store_options()).height == 2
    second = api.run([inp], s3_prefix, opts, resume=True)
    assert second.exit_code == 0 and second.resumed == 2 and second.counts == {"ok": 6}
    # The resume merges what is still held (with no compact: the killed run's shard too) into one
    # file per folder, and leaves a file a reader could see (the compacted one) as it is.
    found = keys(s3_server, s3_prefix)
    parts = [k for k in found if k.endswith(".parquet")]
    assert shown <= set(parts) and not [k for k in found if k.endswith(".staged")]
    assert len(parts) == len({k.rsplit("/", 1)[0] for k in parts}) + len({k.rsplit("/", 1)[0] for k in shown})
    api.run([inp], tmp_path / "local", opts)
    assert_same_tables(tmp_path / "local", s3_prefix)  # every article exactly once


@pytest.mark.ray
def test_ray_with_two_workers_writing_to_s3_matches_the_local_engine(tmp_path: Path, tiny: dict[str, Path],
                                                                     s3_server: S3Server, s3_prefix: str) -> None:
    ray = pytest.importorskip("ray")
    from summarize.engines.ray import RayEngine

    inp = write_jsonl(tmp_path / "in.jsonl", [*articles(7), '{"id": "broken", "text": ', {"id": "empty", "text": ""}])
    opts = options(tiny)
    local = api.run([inp], tmp_path / "local", opts)
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        engine = RayEngine(opts, workers=2)
        remote = api.run([inp], s3_prefix, opts, engine=engine, storage_options=s3_server.object_store_options())
    finally:
        ray.shutdown()
    assert remote.exit_code == local.exit_code == 1 and remote.counts == local.counts
    assert_same_tables(tmp_path / "local", s3_prefix)
    found = keys(s3_server, s3_prefix)
    markers = [k for k in found if k.startswith("_summarize/commits/")]
    listed = {p["path"] for k in markers for p in json.loads(io.as_path(f"{s3_prefix}/{k}").read_text())["parts"]}
    parts = {k for k in found if k.endswith(".parquet")}
    assert parts == listed  # every part on the store is committed, none twice
    # 4 shards (8 articles, one empty and skipped, in shards of 2), merged at the end: one marker
    assert [m.rsplit("/", 1)[1] for m in markers] == [f"{remote.run_id}-final.json"]


def test_append_on_s3_adds_a_batch_and_refuses_the_same_one_again(tmp_path: Path, tiny: dict[str, Path],
                                                                  s3_server: S3Server, s3_prefix: str) -> None:
    opts = options(tiny)
    first = write_jsonl(tmp_path / "day1.jsonl", articles(3))
    second = write_jsonl(tmp_path / "day2.jsonl", [{**a, "id": f"b{i}"} for i, a in enumerate(articles(2))])
    store = s3_server.object_store_options()
    one = api.run([first], s3_prefix, opts, storage_options=store)
    two = api.run([second], s3_prefix, opts, append=True)
    assert one.exit_code == two.exit_code == 0
    arts = io.read_table(io.as_path(s3_prefix), "articles")
    assert sorted(arts["id"].to_list()) == ["a000", "a001", "a002", "b0", "b1"]
    assert arts["run_id"].n_unique() == 2  # both runs' rows, each run's own
    runs = [k for k in keys(s3_server, s3_prefix) if k.startswith("_summarize/runs/")]
    assert len(runs) == 2
    with pytest.raises(OutputError, match="already"):
        api.run([second], s3_prefix, opts, append=True)


def test_an_unusable_url_is_a_usage_error_naming_the_extra(tmp_path: Path, fast_args: list[str]) -> None:
    from summarize.errors import UsageError

    with pytest.raises(UsageError, match="nosuch://"):
        io.as_path("nosuch://bucket/out")
    inp = write_jsonl(tmp_path / "in.jsonl", articles(1))
    res = invoke(["run", str(inp), "--out", "nosuch://bucket/out", *fast_args])
    assert res.exit_code == 2 and "install its package" in res.output


def test_file_operations_on_an_fsspec_memory_store() -> None:
    from summarize.io import files

    root = io.as_path("memory://summarize-test/ops")
    assert files.is_remote(root) and not files.exists(root)
    assert files.create_exclusive(root / "a" / "m.json", b"{}")
    assert not files.create_exclusive(root / "a" / "m.json", b"[]")  # create-only: the first stays
    files.write_json(root / "b.json", {"x": 1})
    assert files.read_json(root / "b.json") == {"x": 1} and files.read_json(root / "a" / "m.json") == {}
    assert [f.name for f in files.files_under(root, ".json")] == ["m.json", "b.json"]
    files.remove(root / "a" / "m.json")
    files.remove(root / "a" / "m.json")  # absent: no error
    assert [f.name for f in files.files_under(root)] == ["b.json"]


class _Glob:
    """What a glob reader (`TABLE/**/*.parquet`, read by Polars) sees on the store after each
    rename and delete the tool makes there; `touched` lists the paths those calls named."""

    def __init__(self, server: S3Server, prefix: str) -> None:
        import s3fs

        self.fs = s3fs.S3FileSystem(**server.s3fs_options())
        self.root = prefix.removeprefix("s3://")
        self.seen: list[dict[str, pl.DataFrame]] = []
        self.touched: list[str] = []

    def files(self) -> set[str]:
        self.fs.invalidate_cache()
        return {k for k in self.fs.find(self.root) if k.endswith(".parquet") and "/_summarize/" not in k}

    def look(self) -> None:
        self.fs.invalidate_cache()
        found: dict[str, pl.DataFrame] = {}
        for t, cols in (("articles", ["id"]), ("translations", ["id", "field", "target_lang"])):
            paths = sorted(k for k in self.fs.find(f"{self.root}/{t}") if k.endswith(".parquet"))
            frames = [pl.read_parquet(self.fs.cat_file(k), columns=cols) for k in paths]
            found[t] = pl.concat(frames) if frames else pl.DataFrame(schema={c: pl.String for c in cols})
        self.seen.append(found)

    def wrap(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in ("rename", "remove"):
            real = getattr(io.files, name)

            def call(*args: Any, _real: Any = real) -> Any:
                done = _real(*args)
                self.touched += [str(a) for a in args]
                self.look()
                return done

            monkeypatch.setattr(io.files, name, call)


def test_on_s3_a_glob_never_sees_a_folder_twice_nor_an_article_before_its_translations(
        tmp_path: Path, tiny: dict[str, Path], s3_server: S3Server, s3_prefix: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An object store has no folder switch: runs there hold their parts back until they end, and
    the end-of-run merge shows only files no reader has seen, translations before articles. A
    glob is read after every rename and delete of an interrupted run, its resume and an append."""
    opts = options(tiny)
    io.configure_storage(s3_server.object_store_options())
    glob = _Glob(s3_server, s3_prefix)
    glob.wrap(monkeypatch)
    day1 = write_jsonl(tmp_path / "day1.jsonl", articles(6))
    calls = 0

    def stop_after_two(_n: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt  # as a second Ctrl-C does

    first = api.run([day1], s3_prefix, opts, progress=stop_after_two)
    assert first.interrupted == "SIGINT"
    shown = glob.seen[-1]  # an interrupted run shows what it committed, merged
    assert shown["articles"].height == 4 and shown["translations"].height == 16
    assert len({k.rsplit("/", 1)[0] for k in glob.files()}) == len(glob.files())  # one file per folder
    api.run([day1], s3_prefix, opts, resume=True)
    before = glob.files()
    day2 = write_jsonl(tmp_path / "day2.jsonl", [{**a, "id": f"b{i}"} for i, a in enumerate(articles(3))])
    glob.touched.clear()
    api.run([day2], s3_prefix, opts, append=True)
    # the append never renamed or deleted a file a reader could already see
    assert not {t.removeprefix("s3://") for t in glob.touched} & before
    final = glob.seen[-1]
    assert sorted(final["articles"]["id"].to_list()) == [*(f"a{i:03d}" for i in range(6)), "b0", "b1", "b2"]
    want = final["translations"].group_by("id").len()
    want = dict(zip(want["id"].to_list(), want["len"].to_list(), strict=True))
    assert len(glob.seen) > 10
    for seen in glob.seen:
        arts, tr = seen["articles"], seen["translations"]
        assert arts["id"].is_unique().all() and not tr.is_duplicated().any()  # no folder twice
        have = tr.group_by("id").len()
        have = dict(zip(have["id"].to_list(), have["len"].to_list(), strict=True))
        assert all(have.get(i) == want[i] for i in arts["id"].to_list())  # every article with all of its own


@pytest.mark.parametrize("copied", [False, True], ids=["before-a-rename", "between-copy-and-delete"])
def test_on_s3_a_run_killed_in_its_end_of_run_merge_is_finished_by_the_resume(
        tmp_path: Path, tiny: dict[str, Path], s3_server: S3Server, s3_prefix: str,
        monkeypatch: pytest.MonkeyPatch, copied: bool) -> None:
    """The end-of-run merge dies after renaming two merged files into place (with `copied`, in the
    middle of the third: an object store's rename is a copy, then a delete). The resume shows the
    rest; the merged files already shown stay as they are, and no staging copy is left behind."""
    opts = options(tiny)
    io.configure_storage(s3_server.object_store_options())
    inp = write_jsonl(tmp_path / "in.jsonl", articles(8))
    real = io.files.rename
    done: list[str] = []

    class Died(BaseException):
        pass

    def rename(src: Any, dst: Any) -> None:
        if "-final-" in dst.name:
            if len(done) == 2:
                if copied:
                    src.fs.copy(src.path, dst.path)
                raise Died
            done.append(dst.name)
        real(src, dst)

    monkeypatch.setattr(io.files, "rename", rename)
    with pytest.raises(Died):
        api.run([inp], s3_prefix, opts)
    monkeypatch.setattr(io.files, "rename", real)
    shown = {k for k in keys(s3_server, s3_prefix) if k.endswith(".parquet")}
    assert len([k for k in shown if "-final-" in k]) == 2 + copied
    again = api.run([inp], s3_prefix, opts, resume=True)
    assert again.exit_code == 0 and again.resumed == 8 and again.counts == {"ok": 8}
    found = keys(s3_server, s3_prefix)
    parts = {k for k in found if k.endswith(".parquet")}
    assert shown <= parts and not [k for k in found if k.endswith(".staged")]
    assert len(parts) == len({k.rsplit("/", 1)[0] for k in parts})  # one merged file per folder
    arts = pl.read_parquet(f"{s3_prefix}/articles/**/*.parquet", storage_options=s3_server.object_store_options())
    assert arts.height == 8 and arts["id"].n_unique() == 8
    flags = [x for k, v in s3_server.object_store_options().items() for x in ("--storage-option", f"{k}={v}")]
    res = invoke(["check", s3_prefix, *flags])
    assert res.exit_code == 0, res.output


def test_a_page_on_s3_named_as_an_input_is_one_article(s3_server: S3Server, s3_prefix: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(**s3_server.s3fs_options())
    page = ("<html><head><title>Harbour reopens | The Post</title><meta property='og:site_name' content='The Post'>"
            "</head><body><nav>Home Sport Login</nav><article><p>The harbour reopened this morning after the storm, "
            "and the first ferries left on time.</p><p>Repairs to the sea wall will take until spring.</p></article>"
            "<footer>Contact us</footer></body></html>")
    fs.pipe_file(f"{s3_prefix.removeprefix('s3://')}/pages/harbour.html", page.encode())
    for k, v in s3_server.env().items():
        monkeypatch.setenv(k, v)
    name = f"{s3_prefix}/pages/harbour.html"
    res = invoke(["extract", name, "--out", "-", "-q"])
    assert res.exit_code == 0, res.output
    (row,) = [json.loads(line) for line in res.stdout.splitlines()]
    assert (row["id"], row["source"], row["title"], row["site_name"]) == ("harbour.html", name, "Harbour reopens", "The Post")
    assert "first ferries" in row["text"] and "Contact us" not in row["text"] and "html_extracted" in row["flags"]
