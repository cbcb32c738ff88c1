"""The reuse memory without models: keys, the store on disk, compaction, and model fingerprints."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from summarize import io
from summarize.backends.fingerprint import local_fingerprint, model_identity
from summarize.options import GenerationOptions, RunOptions
from summarize.reuse import Kind, Memory, counts


def _memory(options: RunOptions | None = None, idents: dict[str, str | None] | None = None, **kw: object) -> Memory:
    ids = idents if idents is not None else {"m": "rev1"}
    return Memory(options or RunOptions(), identity=ids.get, runtime={"backend": "ct2"}, **kw)  # type: ignore[arg-type]


def test_keys_follow_what_changes_the_output_and_nothing_else() -> None:
    base = _memory().key(Kind.SENTENCE, "m", "de", "en", "Hallo Welt.")
    assert base == _memory().key(Kind.SENTENCE, "m", "de", "en", "Hallo Welt.")
    # Batch sizes and the target languages of the run change no single output.
    faster = RunOptions(to=("en", "fr"), translation=GenerationOptions(max_new_tokens=512, num_beams=4,
                        no_repeat_ngram_size=0, batch_size=3, max_batch_tokens=99))
    assert _memory(faster).key(Kind.SENTENCE, "m", "de", "en", "Hallo Welt.") == base
    others = [
        _memory().key(Kind.SENTENCE, "m", "de", "fr", "Hallo Welt."),
        _memory().key(Kind.SENTENCE, "m", "de", "en", "Hallo Welt!"),
        _memory().key(Kind.SUMMARY, "m", "de", "en", "Hallo Welt."),
        _memory(idents={"m": "rev2"}).key(Kind.SENTENCE, "m", "de", "en", "Hallo Welt."),
        _memory(RunOptions(translation=GenerationOptions(num_beams=2))).key(Kind.SENTENCE, "m", "de", "en", "Hallo Welt."),
        Memory(RunOptions(), identity={"m": "rev1"}.get, runtime={"backend": "torch"}).key(
            Kind.SENTENCE, "m", "de", "en", "Hallo Welt."),
    ]
    assert base not in others and len(set(others)) == len(others)
    # Summary options are not translation options.
    assert _memory(RunOptions(summary=GenerationOptions(num_beams=1))).key(Kind.SENTENCE, "m", "de", "en", "x") == \
        _memory().key(Kind.SENTENCE, "m", "de", "en", "x")
    assert _memory(RunOptions(summary=GenerationOptions(num_beams=1))).key(Kind.SUMMARY, "m", "de", "x") != \
        _memory().key(Kind.SUMMARY, "m", "de", "x")


def test_a_model_of_unknown_identity_is_never_reused() -> None:
    memory = _memory(idents={"m": None})
    key = memory.key(Kind.SUMMARY, "m", "en", "text")
    assert key is None
    memory.put(key, Kind.SUMMARY, {"text": "s"})
    assert memory.get(key) is None and memory.drain() == []


def test_no_reuse_looks_nothing_up_but_still_stores() -> None:
    key = _memory().key(Kind.SUMMARY, "m", "en", "text")
    assert key is not None
    memory = _memory(entries={key: json.dumps({"text": "old"})}, enabled=False)
    assert memory.get(key) is None
    memory.put(key, Kind.SUMMARY, {"text": "new"})
    assert [e[0] for e in memory.drain()] == [key] and memory.drain() == []


def test_store_round_trip_newest_wins_and_limit(tmp_path: Path) -> None:
    assert io.memory.load(tmp_path) == {}
    io.memory.append(tmp_path, "20260101T000000000000-aaaa-000001", [("k1", "summary", '"a"'), ("k2", "sentence", '"b"')], "r1")
    io.memory.append(tmp_path, "20260102T000000000000-bbbb-000001", [("k1", "summary", '"c"')], "r2")
    assert io.memory.append(tmp_path, "nothing", [], "r3") == 0
    assert io.memory.load(tmp_path) == {"k1": '"c"', "k2": '"b"'}
    assert io.memory.load(tmp_path, limit=1) == {"k1": '"c"'}
    # No file of the store looks like data to a `**/*.parquet` glob.
    assert not list(tmp_path.rglob("*.parquet"))
    # A killed write's temporary file is not part of the store.
    (io.memory.folder(tmp_path) / ".x.memory.tmp-1").write_bytes(b"half")
    (io.memory.folder(tmp_path) / "20260103T000000000000-cccc-000001.memory").write_bytes(b"not parquet")
    assert io.memory.load(tmp_path) == {"k1": '"c"', "k2": '"b"'}


def test_compaction_keeps_each_key_once_and_prunes_by_age_and_size(tmp_path: Path) -> None:
    io.memory.append(tmp_path, "20260101T000000000000-aaaa-000001", [("k1", "summary", '"a"'), ("k2", "sentence", '"b"')], "r1")
    io.memory.append(tmp_path, "20260102T000000000000-bbbb-000001", [("k1", "summary", '"c"'), ("k3", "sentence", '"d"')], "r2")
    before = io.memory.load(tmp_path)
    done = io.memory.compact_memory(tmp_path, "20260103T000000000000-cccc-compact")
    assert (done.rows_before, done.rows_after, done.files_before, done.files_after) == (4, 3, 2, 1)
    assert io.memory.load(tmp_path) == before
    done = io.memory.compact_memory(tmp_path, "20260104T000000000000-dddd-compact", limit=2)
    assert done.rows_after == 2 and set(io.memory.load(tmp_path)) == {"k1", "k3"}  # the newest two
    done = io.memory.compact_memory(tmp_path, "20260105T000000000000-eeee-compact", max_age_days=0)
    assert done.rows_after == 0 and io.memory.load(tmp_path) == {}


def test_counts_split_generated_and_reused_per_table() -> None:
    from summarize.schema import Article, ArticleResult, Detection, SegmentResult, TranslationResult

    seg = SegmentResult("summary", "fr", 0, 0, "a", "b", 1, 1, reused=True)
    tr = TranslationResult("summary", "en", "fr", "b", "m", segments=(seg, SegmentResult("summary", "fr", 0, 1, "c", "d", 1, 1)))
    ident = TranslationResult("summary", "en", "en", "a", "identity")
    r = ArticleResult(Article("1", 0, "-", 1, "t"), Detection("en", 1.0), "a", "m", 1, 1, 1, False, "ok", None, 0.0,
                      translations=(tr, ident), reused=True)
    assert counts([r]) == {"articles": {"generated": 0, "reused": 1}, "translations": {"generated": 1, "reused": 0},
                           "segments": {"generated": 1, "reused": 1}}


def test_fingerprint_follows_weights_and_tokenizer_not_other_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMARIZE_CACHE", str(tmp_path / "cache"))
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights-1")
    (model / "tokenizer.json").write_text("{}")
    (model / "config.json").write_text("{}")
    first = local_fingerprint(model)
    assert first.startswith("sha256:") and model_identity(str(model)) == first
    assert (tmp_path / "cache" / "fingerprints.json").is_file()
    (model / "README.md").write_text("notes")
    assert local_fingerprint(model) == first
    (model / "model.safetensors").write_bytes(b"weights-2")
    second = local_fingerprint(model)
    assert second != first
    (model / "tokenizer.json").write_text('{"v": 2}')
    assert local_fingerprint(model) not in (first, second)
    # The cache is keyed by size and mtime: an unchanged file is not read again.
    cache = json.loads((tmp_path / "cache" / "fingerprints.json").read_text())
    key = str((model / "model.safetensors").resolve())
    st = os.stat(model / "model.safetensors")
    assert cache[key][:2] == [st.st_size, st.st_mtime_ns]
    # A Hub id that is not cached has no identity: it is never reused.
    assert model_identity("nobody/not-a-cached-model") is None


def test_options_hash_covers_fingerprints() -> None:
    opts = RunOptions(summary_model="/models/x")
    assert opts.output_hash() == RunOptions(summary_model="/models/x", reuse=False).output_hash()
    assert opts.output_hash({"/models/x": "sha256:1"}) != opts.output_hash({"/models/x": "sha256:2"})
