"""Reuse by content through the real CLI on the tiny models: equal rows, what never reuses, kills,
shared sentences, compaction, and adding a target language to a Delta dataset."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from summarize import io
from tests.conftest import invoke, sample_articles, write_jsonl
from tests.sigkill import cli_args, kill_after, many_articles, spawn

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# What may differ between a reused row and a fresh one: who wrote it, when, how long it took, and the flag itself.
VOLATILE = ("run_id", "processed_at", "duration_ms", "reused")
KEYS = {"articles": ["id"], "translations": ["id", "field", "target_lang"],
        "segments": ["id", "field", "target_lang", "seg_index"]}


def _args(inp: Path, out: Path, tiny: dict[str, Path], *extra: str, summary_model: Path | None = None) -> list[str]:
    return ["run", str(inp), "--out", str(out), "--summary-model", str(summary_model or tiny["t5"]),
            "--translation-model", str(tiny["m2m100"]), "--to", "en,fr", "--translate", "summary,title",
            "--max-new-tokens", "6", "--beams", "1", "--translation-beams", "1", "--translation-max-new-tokens", "8",
            "--shard-size", "2", "--quiet", *extra]


def _run(args: list[str]) -> dict[str, Any]:
    res = invoke(args)
    assert res.exit_code == 0, res.output
    out = Path(args[args.index("--out") + 1])
    manifest: dict[str, Any] = json.loads((out / "run.json").read_text())
    return manifest


def _table(out: Path, name: str) -> pl.DataFrame:
    path = out / name
    df = pl.read_delta(str(path)) if (path / "_delta_log").is_dir() else pl.read_parquet(path)
    return df.sort(KEYS[name])


def _same_rows(a: Path, b: Path) -> None:
    for name in KEYS:
        x, y = _table(a, name), _table(b, name)
        assert x.drop(VOLATILE, strict=False).equals(y.drop(VOLATILE, strict=False)), name


def test_reused_rows_equal_fresh_ones_and_no_reuse_or_a_changed_option_regenerates(
        tmp_path: Path, tiny: dict[str, Path]) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", sample_articles(6))
    fresh, out = tmp_path / "fresh", tmp_path / "out"
    first = _run(_args(inp, out, tiny))
    assert first["reuse"]["articles"] == {"generated": 6, "reused": 0}
    shutil.copytree(out, fresh)
    assert not _table(out, "articles")["reused"].any()

    again = _run(_args(inp, out, tiny, "--overwrite"))
    assert again["reuse"]["articles"] == {"generated": 0, "reused": 6}
    assert again["reuse"]["translations"]["generated"] == 0 and again["reuse"]["translations"]["reused"] > 0
    _same_rows(fresh, out)
    assert _table(out, "articles")["reused"].all()
    trans = _table(out, "translations")
    assert trans.filter(pl.col("model") != "identity")["reused"].all()
    assert not trans.filter(pl.col("model") == "identity")["reused"].any()

    forced = _run(_args(inp, out, tiny, "--overwrite", "--no-reuse"))
    assert forced["reuse"]["articles"] == {"generated": 6, "reused": 0}
    assert forced["reuse"]["translations"]["reused"] == 0
    assert not _table(out, "segments")["reused"].any()

    # A summary option changes every summary's key; the titles' translations do not depend on it.
    changed = _run(_args(inp, out, tiny, "--overwrite", "--max-new-tokens", "5"))
    assert changed["reuse"]["articles"] == {"generated": 6, "reused": 0}
    titles = _table(out, "translations").filter((pl.col("field") == "title") & (pl.col("model") != "identity"))
    assert titles.height and titles["reused"].all()


def test_changed_weights_at_the_same_path_refuse_resume_and_never_reuse(tmp_path: Path, tiny: dict[str, Path]) -> None:
    from safetensors.numpy import load_file, save_file

    model = tmp_path / "t5-copy"
    shutil.copytree(tiny["t5"], model)
    inp = write_jsonl(tmp_path / "in.jsonl", sample_articles(4))
    out = tmp_path / "out"
    first = _run(_args(inp, out, tiny, summary_model=model))
    fp = first["fingerprints"][str(model)]
    assert fp.startswith("sha256:") and first["models"][str(model)]["fingerprint"] == fp

    weights = model / "model.safetensors"
    tensors = load_file(str(weights))
    name = next(k for k, v in tensors.items() if v.dtype.kind == "f" and v.ndim == 2)
    tensors[name] = tensors[name] * 1.5
    save_file(tensors, str(weights))

    res = invoke(_args(inp, out, tiny, "--resume", summary_model=model))
    assert res.exit_code == 2
    assert "fingerprints" in res.output and str(model) in res.output

    redo = _run(_args(inp, out, tiny, "--overwrite", summary_model=model))
    assert redo["fingerprints"][str(model)] != fp
    assert redo["reuse"]["articles"] == {"generated": 4, "reused": 0}


@pytest.mark.parametrize("shard_size", ["1", "2"])
def test_two_articles_that_share_sentences_translate_each_once(tmp_path: Path, tiny: dict[str, Path], shard_size: str) -> None:
    shared = "The council met on Tuesday evening. Members voted on the budget."
    recs = [{"id": "a", "lang": "en", "title": "One", "text": f"{shared} The first article ends here."},
            {"id": "b", "lang": "en", "title": "Two", "text": f"{shared} A different closing sentence follows."}]
    inp = write_jsonl(tmp_path / "in.jsonl", recs)
    out = tmp_path / "out"
    args = _args(inp, out, tiny, "--lang-col", "lang", "--to", "fr", "--translate", "text")
    args[args.index("--shard-size") + 1] = shard_size
    manifest = _run(args)
    segs = _table(out, "segments")
    a, b = segs.filter(pl.col("id") == "a"), segs.filter(pl.col("id") == "b")
    assert a.height == b.height == 3
    # The shared sentences: made for `a`, taken for `b` (the same text), each made once.
    assert b["reused"].to_list() == [True, True, False] and not a["reused"].any()
    assert a["target_text"][:2].to_list() == b["target_text"][:2].to_list()
    assert manifest["reuse"]["segments"] == {"generated": 4, "reused": 2}


def test_killed_run_leaves_the_store_consistent_and_it_survives_compact(tmp_path: Path, tiny: dict[str, Path]) -> None:
    recs = many_articles(12)
    inp = write_jsonl(tmp_path / "in.jsonl", recs)
    out = tmp_path / "out"
    assert kill_after(cli_args(inp, out, tiny), out, 2)
    stored = io.memory.load(out)
    assert stored, "the committed shards' outputs are in the store"
    assert all(isinstance(json.loads(v), dict) for v in stored.values())
    proc = spawn(cli_args(inp, out, tiny, "--resume"))
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()
    resumed = json.loads((out / "run.json").read_text())
    assert resumed["resumed"] >= 4
    after = io.memory.load(out)
    assert set(stored) <= set(after)
    values = [json.loads(v) for v in after.values()]
    assert all({"text", "gen_tokens", "logprob"} <= set(v) or {"lang", "score"} <= set(v) for v in values)
    assert any("text" in v for v in values)

    res = invoke(["compact", str(out)])
    assert res.exit_code == 0, res.output
    assert io.memory.load(out) == after and len(io.memory.memory_files(out)) == 1

    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    again = _run(cli_args(inp, out, tiny, "--overwrite"))
    assert again["reuse"]["articles"] == {"generated": 0, "reused": 12}
    assert again["reuse"]["segments"]["generated"] == 0
    _same_rows(copy, out)


def test_adding_a_target_language_to_a_delta_dataset_generates_only_the_new_translations(
        tmp_path: Path, tiny: dict[str, Path]) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", sample_articles(6))
    out = tmp_path / "out"
    base = _args(inp, out, tiny, "--table-format", "delta")
    base[base.index("--to") + 1] = "en"
    _run(base)
    before = _table(out, "translations")
    wider = _args(inp, out, tiny, "--table-format", "delta", "--upsert", "--allow-duplicate-batch")
    manifest = _run(wider)
    assert manifest["reuse"]["articles"] == {"generated": 0, "reused": 6}
    trans = _table(out, "translations")
    en, fr = trans.filter(pl.col("target_lang") == "en"), trans.filter(pl.col("target_lang") == "fr")
    assert en.filter(pl.col("model") != "identity")["reused"].all()
    assert fr.height == en.height
    assert en.drop(VOLATILE, strict=False).equals(before.drop(VOLATILE, strict=False))
    # No French existed before: a reused French sentence is one this run made for another article
    # (random-weight summaries repeat), never one from the memory of the first run.
    segs = _table(out, "segments").filter(pl.col("target_lang") == "fr")
    made_now = set(segs.filter(~pl.col("reused"))["source_text"].to_list())
    assert made_now and set(segs.filter(pl.col("reused"))["source_text"].to_list()) <= made_now
    french = fr.filter(pl.col("model") != "identity")
    english = en.filter(pl.col("model") != "identity").height
    assert manifest["reuse"]["translations"] == {"generated": int((~french["reused"]).sum()),
                                                 "reused": english + int(french["reused"].sum())}
