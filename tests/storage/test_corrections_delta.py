"""Corrections on Delta datasets, locally and on S3 (SeaweedFS): an upsert replaces every row of an
article, also when the new version has none; duplicate ids in an upsert batch; replayed rejects;
lineage in the tables; `summarize check`; a SIGKILL mid-run then `--resume`, also one that lands
between two table commits of a shard (and, for Parquet, between publishing two tables' parts)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from summarize import io
from tests.conftest import invoke, sample_articles, write_jsonl
from tests.s3server import S3Server
from tests.sigkill import cli_args, kill_after, kill_paused, many_articles, spawn

deltalake = pytest.importorskip("deltalake")
from deltalake import DeltaTable  # noqa: E402

DELTA = ["--table-format", "delta", "--shard-size", "2"]


@pytest.fixture(autouse=True)
def _no_storage_defaults(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ALLOW_HTTP"):
        monkeypatch.delenv(key, raising=False)
    yield
    io.configure_storage({})


@pytest.fixture(params=["local", "s3"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, list[str], dict[str, str] | None]:
    """An output location, the CLI flags that reach it, and deltalake's options for reading it."""
    if request.param == "local":
        return str(tmp_path / "out"), [], None
    server: S3Server = request.getfixturevalue("s3_server")
    prefix: str = request.getfixturevalue("s3_prefix")
    opts = server.object_store_options()
    return prefix, [x for k, v in opts.items() for x in ("--storage-option", f"{k}={v}")], opts


def table(out: str, name: str, opts: dict[str, str] | None) -> pl.DataFrame:
    return pl.read_delta(f"{out}/{name}", storage_options=opts)


def run(inp: Path, out: str, flags: list[str], fast_args: list[str], *extra: str) -> Any:
    return invoke(["run", str(inp), "--out", out, *DELTA, *fast_args, *flags, *extra])


def test_an_upsert_replaces_every_row_of_a_corrected_article_even_when_it_now_has_none(
        tmp_path: Path, fast_args: list[str], where: tuple[str, list[str], dict[str, str] | None]) -> None:
    out, flags, opts = where
    base = sample_articles(4)
    recs = [{**a, "id": f"a{i}"} for i, a in enumerate(base)]
    b0 = write_jsonl(tmp_path / "b0.jsonl", recs)
    wide = ["--to", "en,fr", "--translate", "summary,title", "--format", "wide"]
    assert (res := run(b0, out, flags, fast_args, *wide)).exit_code == 0, res.output
    before = table(out, "translations", opts)
    assert before.filter(pl.col("id") == "a1").height == 4
    # a1 emptied (skipped now), a2 corrected with one target only, a duplicate of a2 in the batch
    fix = [{**recs[1], "text": ""}, {**recs[2], "text": "Old."}, {**recs[2], "text": recs[2]["text"] + " Fixed."}]
    b1 = write_jsonl(tmp_path / "b1.jsonl", fix)
    res = run(b1, out, flags, fast_args, *wide, "--upsert")
    assert res.exit_code == 2 and "'a2'" in res.output and "Traceback" not in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1
    res = run(b1, out, flags, fast_args, "--to", "en", "--translate", "summary,title", "--format", "wide", "--upsert",
              "--on-duplicate-id", "last")
    assert res.exit_code == 0, res.output
    arts = table(out, "articles", opts)
    assert sorted(arts["id"].to_list()) == ["a0", "a1", "a2", "a3"]
    a1 = arts.filter(pl.col("id") == "a1")
    assert a1["status"].item() in ("skipped", "error") and a1["summary"].item() is None
    tr = table(out, "translations", opts)
    assert tr.filter(pl.col("id") == "a1").height == 0  # none of its old translations is left
    assert sorted(tr.filter(pl.col("id") == "a2")["target_lang"].to_list()) == ["en", "en"]
    assert tr.height == before.height - 4 - 2
    seg = table(out, "segments", opts)
    assert seg.filter(pl.col("id") == "a1").height == 0
    assert seg.filter(pl.col("id") == "a2")["target_lang"].unique().to_list() == ["en"]
    assert set(Counter(zip(seg["id"], seg["field"], seg["target_lang"], seg["seg_index"], strict=True)).values()) == {1}
    if opts is None:  # wide.parquet is local only
        w = pl.read_parquet(Path(out) / "wide.parquet")
        assert w.height == 4 and w["id"].n_unique() == 4
        row = w.filter(pl.col("id") == "a1")
        assert row["summary"].item() is None and row["summary_en"].item() is None
    # replaying the correction changes nothing: its rejects (the superseded a2) are keyed too
    rej = table(out, "rejects", opts)
    res = run(b1, out, flags, fast_args, "--to", "en", "--translate", "summary,title", "--upsert",
              "--on-duplicate-id", "last", "--allow-duplicate-batch")
    assert res.exit_code == 0, res.output
    again = table(out, "rejects", opts)
    assert again.height == rej.height == 1 and again["input_hash"].to_list() == rej["input_hash"].to_list()
    res = invoke(["check", out, *flags])
    assert res.exit_code == 0, res.output
    manifest = json.loads(io.as_path(f"{out}/run.json", opts).read_text())
    assert sum(manifest["counts"].values()) == 2  # this batch's two articles
    assert sum(manifest["dataset_counts"].values()) == 4  # the dataset's, labelled as totals


def test_a_delta_append_of_held_ids_is_refused_and_tables_say_who_wrote_them(
        tmp_path: Path, fast_args: list[str]) -> None:
    recs = [{**a, "id": f"a{i}"} for i, a in enumerate(sample_articles(2))]
    b0 = write_jsonl(tmp_path / "b0.jsonl", recs)
    b1 = write_jsonl(tmp_path / "b1.jsonl", [{**recs[0], "text": recs[0]["text"] + " Neu."}])
    out = str(tmp_path / "out")
    assert run(b0, out, [], fast_args, "--to", "en", "--translate", "summary").exit_code == 0
    res = run(b1, out, [], fast_args, "--to", "en", "--translate", "summary", "--append")
    assert res.exit_code == 2 and "'a0'" in res.output and "--upsert" in res.output, res.output
    # one consistent version set from the commit markers: the same rows as the latest versions here
    from summarize.io.delta import consistent_versions, read_consistent

    versions = consistent_versions(io.as_path(out))
    assert {"articles", "translations", "segments"} <= set(versions)
    assert sorted(read_consistent(out, "articles")["id"].to_list()) == ["a0", "a1"]
    assert read_consistent(out, "translations").height == table(out, "translations", None).height
    run_id = json.loads((Path(out) / "run.json").read_text())["run_id"]
    for t in ("articles", "translations", "segments", "rejects"):
        dt = DeltaTable(f"{out}/{t}")
        meta = dt.metadata()
        assert meta.name == t and "summarize" in (meta.description or ""), t
        commit = dt.history(1)[0]
        assert commit.get("run_id") == run_id and commit.get("schema_version") and commit.get("tool_version"), commit
    # a file the current version lists, deleted: `check` names it
    dt = DeltaTable(f"{out}/articles")
    gone = Path(dt.file_uris()[0].removeprefix("file://"))
    gone.unlink()
    res = invoke(["check", out])
    assert res.exit_code == 1 and gone.name in res.output and "missing" in res.output, res.output


def test_check_names_a_missing_delta_file_and_a_planted_parquet_part(
        tmp_path: Path, fast_args: list[str], where: tuple[str, list[str], dict[str, str] | None]) -> None:
    out, flags, opts = where
    inp = write_jsonl(tmp_path / "in.jsonl", [{**a, "id": f"a{i}"} for i, a in enumerate(sample_articles(3))])
    fast = ["--to", "en", "--translate", "summary", *fast_args]
    # Delta: a file the current version lists, deleted from the store
    delta = f"{out}/delta"
    assert (res := run(inp, delta, flags, fast)).exit_code == 0, res.output
    assert (res := invoke(["check", delta, *flags])).exit_code == 0, res.output
    uri = DeltaTable(f"{delta}/articles", storage_options=opts).file_uris()[0]
    io.files.remove(io.as_path(uri, opts))
    res = invoke(["check", delta, *flags])
    assert res.exit_code == 1 and f"commit: articles: {uri}: in version" in res.output and "missing" in res.output, res.output
    # Parquet: a copy of a committed part, first unlisted, then listed by a marker of its own
    parquet = f"{out}/parquet"
    res = invoke(["run", str(inp), "--out", parquet, "--shard-size", "2", *fast, *flags])
    assert res.exit_code == 0, res.output
    root = io.as_path(parquet, opts)
    part = next(io.files.files_under(root / "articles", ".parquet"))
    planted = part.with_name("part-planted-00000.parquet")
    planted.write_bytes(part.read_bytes())
    res = invoke(["check", parquet, *flags])
    assert res.exit_code == 1 and "articles/part-planted-00000.parquet is a part no commit marker lists" in res.output, \
        res.output
    marker = {"run_id": "planted", "parts": [{"path": "articles/part-planted-00000.parquet", "table": "articles",
                                              "rows": 3, "bytes": io.files.size(planted)}]}
    (root / "_summarize" / "commits" / "planted.json").write_text(json.dumps(marker))
    res = invoke(["check", parquet, *flags])
    assert res.exit_code == 1 and "key: articles: (id='a0') occurs 2 times" in res.output, res.output
    assert "no commit marker lists" not in res.output


def test_a_sigkilled_upsert_resumes_to_a_dataset_that_passes_check(tmp_path: Path, tiny: dict[str, Path]) -> None:
    recs = many_articles(8)
    inp = write_jsonl(tmp_path / "in.jsonl", recs)
    out = tmp_path / "out"
    assert invoke(cli_args(inp, out, tiny, "--table-format", "delta")).exit_code == 0
    fixed = write_jsonl(tmp_path / "fix.jsonl", [{**r, "text": r["text"] + " Korrigiert."} for r in recs])
    args = cli_args(fixed, out, tiny, "--table-format", "delta", "--upsert")
    assert kill_after(args, out, 1 + len(list((out / "_summarize" / "commits").glob("*.json")))), "finished first"
    proc = spawn([*args, "--resume"])
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()
    res = invoke(["check", str(out)])
    assert res.exit_code == 0, res.output
    arts = pl.read_delta(str(out / "articles"))
    assert arts.height == 8 and arts["run_id"].n_unique() <= 2
    tr = pl.read_delta(str(out / "translations"))
    assert tr.height == 8 * 2 * 2
    joined = tr.join(arts.select("id", pl.col("run_id").alias("a")), on="id")
    assert (joined["run_id"] == joined["a"]).all()  # every translation is of its article's current version


def _resume(args: list[str], flags: list[str], env: dict[str, str]) -> None:
    if flags:
        time.sleep(2.5)  # on the store the killed run's lock frees itself after one lease (2 s)
    proc = spawn([*args, "--resume"], env)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()


def _whole(out: str, opts: dict[str, str] | None, n: int, flags: list[str]) -> None:
    """After the resume: check passes, every translation key once, of its article's version."""
    res = invoke(["check", out, *flags])
    assert res.exit_code == 0, res.output
    arts = io.read_table(io.as_path(out, opts), "articles")
    assert arts.height == n and arts["id"].n_unique() == n
    tr = io.read_table(io.as_path(out, opts), "translations")
    per = Counter(zip(tr["id"], tr["field"], tr["target_lang"], strict=True))
    assert len(per) == n * 2 * 2 and set(per.values()) == {1}
    joined = tr.join(arts.select("id", pl.col("run_id").alias("article_run")), on="id")
    assert joined.height == tr.height and (joined["run_id"] == joined["article_run"]).all()
    manifest = json.loads(io.as_path(f"{out}/run.json", opts).read_text())
    assert manifest["state"] == "done" and manifest["counts"] == {"ok": n} and manifest["dataset_counts"] == {"ok": n}


@pytest.mark.parametrize("upsert", [False, True], ids=["fresh", "upsert"])
def test_a_sigkill_between_two_table_commits_is_seen_by_check_hidden_from_a_consistent_read_and_resumed(
        tmp_path: Path, tiny: dict[str, Path], where: tuple[str, list[str], dict[str, str] | None],
        upsert: bool) -> None:
    """A real kill inside a shard: its translations are committed, its articles are not."""
    from summarize.io.delta import app_id, read_consistent

    out, flags, opts = where
    env = {"SUMMARIZE_LOCK_LEASE_S": "2"} if flags else {}
    recs = many_articles(4)  # two shards: the kill lands in the last
    inp = write_jsonl(tmp_path / "in.jsonl", recs)
    if upsert:
        assert (res := invoke(cli_args(inp, out, tiny, "--table-format", "delta", *flags))).exit_code == 0, res.output
        inp = write_jsonl(tmp_path / "fix.jsonl", [{**r, "text": r["text"] + " Korrigiert."} for r in recs])
    args = cli_args(inp, out, tiny, "--table-format", "delta", *flags, *(("--upsert",) if upsert else ()))
    kill_paused(args, "translations", 2, tmp_path / "paused", env)
    # the half state is real: the second shard is in translations, not in articles
    killed = io.files.read_json(io.as_path(f"{out}/_summarize/lock", opts))  # a SIGKILL leaves the lock behind
    assert killed is not None
    run_id = killed["run_id"]
    versions = {t: DeltaTable(f"{out}/{t}", storage_options=opts).transaction_version(app_id(run_id, t))
                for t in ("segments", "translations", "articles")}
    assert versions == {"segments": 2, "translations": 2, "articles": 1}, versions
    half = [r["id"] for r in recs[2:4]]
    res = invoke(["check", out, *flags])
    assert res.exit_code == 1 and "orphan: translations" in res.output and repr(half[0]) in res.output, res.output
    # read at the recorded version set, no child row lacks its article (of the same version)
    arts = read_consistent(out, "articles", opts).select("id", pl.col("run_id").alias("article_run"))
    for t in ("translations", "segments"):
        rows = read_consistent(out, t, opts)
        joined = rows.join(arts, on="id", how="left")
        assert (joined["run_id"] == joined["article_run"]).all(), t
    assert not set(half) & set(read_consistent(out, "translations", opts).filter(pl.col("run_id") == run_id)["id"])
    _resume(args, flags, env)
    _whole(out, opts, len(recs), flags)


def test_a_sigkill_between_publishing_a_parquet_shards_tables_never_shows_a_glob_an_article_without_translations(
        tmp_path: Path, tiny: dict[str, Path]) -> None:
    """On local disk, where each shard is published as it commits. (An object store publishes
    nothing until the run ends: tests/storage/test_s3.py reads a glob after its every step.)"""
    out, flags, opts = str(tmp_path / "out"), [], None
    env: dict[str, str] = {}
    recs = many_articles(4)
    args = cli_args(write_jsonl(tmp_path / "in.jsonl", recs), out, tiny, *flags)
    kill_paused(args, "translations", 2, tmp_path / "paused", env)
    # the second shard is committed (its marker exists) and its translations are in place; its
    # articles are still under their hidden staging name
    res = invoke(["check", out, *flags])
    assert res.exit_code == 1 and "(committed, still under its staging name)" in res.output, res.output
    glob = lambda t: pl.read_parquet(f"{out}/{t}/**/*.parquet", storage_options=opts)  # noqa: E731
    arts, tr = glob("articles"), glob("translations")
    assert sorted(arts["id"].to_list()) == [r["id"] for r in recs[:2]]
    assert set(tr["id"].to_list()) == {r["id"] for r in recs}  # ahead of their articles: allowed
    per = tr.join(arts.select("id", pl.col("run_id").alias("article_run")), on="id").group_by("id").len()
    assert per.height == arts.height and set(per["len"].to_list()) == {4}  # every article its four
    _resume(args, flags, env)
    _whole(out, opts, len(recs), flags)
