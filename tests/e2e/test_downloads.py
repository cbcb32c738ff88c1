"""Download plans: sizes (Hub metadata, registry, disk), cache status in a fake HF cache, totals,
the fast offline check, and a plan that names exactly the models a run uses."""

from __future__ import annotations

import http.server
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from summarize.errors import UsageError
from summarize.models import downloads
from summarize.models.downloads import DownloadPlan, ModelDownload, format_size, load_files, plan_downloads
from summarize.models.registry import Registry
from tests.conftest import invoke, read, sample_articles, write_jsonl

XLSUM = "csebuetnlp/mT5_multilingual_XLSum"
DE_EN = "Helsinki-NLP/opus-mt-de-en"
MUL_EN = "Helsinki-NLP/opus-mt-mul-en"


def _snapshot(cache: Path, model_id: str, files: dict[str, bytes | str], commit: str = "a" * 40) -> Path:
    """Lay out `files` the way huggingface_hub caches a repo: blobs behind a snapshot, refs/main."""
    repo = cache / ("models--" + model_id.replace("/", "--"))
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    for name, body in files.items():
        data = body.encode() if isinstance(body, str) else body
        (snap / name).write_bytes(data)
    return snap


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty HF cache, set the way users set it (HF_HUB_CACHE); huggingface_hub's own default
    is pointed there too, in case it was first imported while another test's cache was set."""
    from huggingface_hub import constants

    path = tmp_path / "hf-cache"
    path.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(path))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(path))
    return path


@pytest.fixture
def online_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo the suite's offline mode, so the reachability check really tries."""
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    downloads._reach_memo.clear()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _FakeHub(http.server.BaseHTTPRequestHandler):
    """Answers the one Hub API call a size lookup makes (`/api/models/ORG/NAME`), from `repos`."""

    repos: ClassVar[dict[str, dict[str, Any]]] = {}

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.end_headers()

    def do_GET(self) -> None:
        m = re.match(r"/api/models/([^/?]+/[^/?]+)", self.path)
        doc = self.repos.get(m.group(1)) if m else None
        if doc is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "RepoNotFound")
            self.end_headers()
            return
        body = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_hub(online_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_FakeHub]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    _FakeHub.repos = {}
    try:
        yield _FakeHub
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------------- registry sizes


def test_every_shipped_size_has_a_source_and_a_date() -> None:
    reg = Registry.load()
    assert reg.sizes
    for s in reg.sizes:
        assert s.bytes > 0, s.id
        assert re.search(r"\b20\d\d-\d\d-\d\d\b", s.size_source), f"{s.id}: no date in {s.size_source!r}"
        assert "huggingface.co" in s.size_source or "file listings" in s.size_source, s.id
    # Every model the shipped routing can name has a figure, except the tc-base models (none found).
    for m in reg.models():
        size = reg.size_of(m.id)
        if "tc-base" in m.id:
            assert size is None, m.id
        else:
            assert size is not None, m.id
    # Exact ids win over the family globs, and a family figure is marked as an estimate.
    de_en, ja_en = reg.size_of(DE_EN), reg.size_of("Helsinki-NLP/opus-mt-ja-en")
    assert de_en is not None and de_en.id == DE_EN and not de_en.estimate
    assert ja_en is not None and ja_en.estimate and ja_en.id != "Helsinki-NLP/opus-mt-ja-en"


def test_user_registry_sizes_come_first_and_need_a_source(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text(
        f'replace = true\n[[sizes]]\nid = "{DE_EN}"\nbytes = 123\nsize_source = "measured 2026-11-29"\n', encoding="utf-8"
    )
    reg = Registry.load(mine)
    assert reg.size_of(DE_EN).bytes == 123  # type: ignore[union-attr]
    assert reg.size_of(XLSUM) is not None  # the shipped sizes stay under `replace = true`
    bad = tmp_path / "bad.toml"
    bad.write_text('[[sizes]]\nid = "a/b"\nbytes = 5\n', encoding="utf-8")
    with pytest.raises(UsageError, match="size_source is required"):
        Registry.load(bad)
    bad.write_text('[[sizes]]\nid = "a/b"\nbytes = "5 GB"\nsize_source = "x"\n', encoding="utf-8")
    with pytest.raises(UsageError, match="bytes must be a positive integer"):
        Registry.load(bad)


# ---------------------------------------------------------------------- sizes and cache


def test_offline_plan_uses_registry_sizes_and_the_fake_cache(cache: Path) -> None:
    reg = Registry.load()
    _snapshot(cache, XLSUM, {"config.json": "{}", "spiece.model": b"s" * 10, "pytorch_model.bin": b"w" * 100})
    # Config only: a half-fetched repo is not cached.
    _snapshot(cache, DE_EN, {"config.json": "{}"})
    plan = plan_downloads([XLSUM, DE_EN, MUL_EN, XLSUM], registry=reg, online=False)
    by = {m.id: m for m in plan.models}
    assert list(by) == [XLSUM, DE_EN, MUL_EN]  # duplicates dropped, order kept
    assert by[XLSUM].cached and by[XLSUM].status == "cached"
    assert not by[DE_EN].cached and not by[MUL_EN].cached
    for m in plan.models:
        rec = reg.size_of(m.id)
        assert rec is not None and m.size_bytes == rec.bytes and m.size_source == "registry"
        assert m.source_note == rec.size_source
    assert [m.id for m in plan.to_download] == [DE_EN, MUL_EN]
    assert plan.download_bytes == by[DE_EN].size_bytes + by[MUL_EN].size_bytes  # type: ignore[operator]
    assert plan.cached_count == 1 and plan.unknown_sizes == 0 and not plan.hub_checked
    assert plan.text() == f"will download 2 models, {format_size(plan.download_bytes)}; 1 cached"
    doc = plan.to_dict()
    assert doc["to_download"] == 2 and doc["download_bytes"] == plan.download_bytes and doc["cached"] == 1
    assert [m["status"] for m in doc["models"]] == ["cached", "download", "download"]
    # An explicit cache folder gives the same answer as the environment.
    assert downloads.is_cached(XLSUM, cache_dir=cache)


def test_cache_follows_hf_home(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert downloads.hub_cache_dir() == tmp_path / "home" / "hub"
    _snapshot(tmp_path / "home" / "hub", DE_EN, {"config.json": "{}", "source.spm": "x", "model.safetensors": "w"})
    assert plan_downloads([DE_EN], online=False).models[0].cached


def test_sharded_weights_are_cached_only_when_every_shard_is(cache: Path) -> None:
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    files: dict[str, bytes | str] = {
        "config.json": "{}", "tokenizer.json": "{}", "model.safetensors.index.json": json.dumps(index),
        "model-00001-of-00002.safetensors": "w",
    }  # fmt: skip
    _snapshot(cache, "org/sharded", files)
    assert not downloads.is_cached("org/sharded")
    _snapshot(cache, "org/sharded", {"model-00002-of-00002.safetensors": "w"})
    assert downloads.is_cached("org/sharded")
    # No tokenizer file: a load would still fetch one.
    _snapshot(cache, "org/no-tok", {"config.json": "{}", "pytorch_model.bin": "w"})
    assert not downloads.is_cached("org/no-tok")


def test_local_folders_and_unknown_sizes(tmp_path: Path, cache: Path, tiny: dict[str, Path]) -> None:
    folder = tiny["marian"]
    on_disk = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    plan = plan_downloads([str(folder), "some-org/never-recorded", XLSUM], online=False)
    local, unknown, xlsum = plan.models
    assert (local.status, local.size_source, local.size_bytes, local.cached) == ("local", "local", on_disk, False)
    assert (unknown.size_bytes, unknown.size_source, unknown.to_dict()["size"]) == (None, "unknown", "?")
    assert plan.unknown_sizes == 1 and plan.download_bytes == xlsum.size_bytes and plan.local_count == 1
    assert plan.text() == f"will download 2 models, {format_size(xlsum.size_bytes)} + 1 of unknown size; 0 cached; 1 local"
    # A family figure makes the total an estimate; only local folders: nothing to download.
    fam = plan_downloads(["Helsinki-NLP/opus-mt-ja-en"], online=False)
    assert fam.models[0].estimate and fam.text().startswith("will download 1 model, ~")
    assert plan_downloads([str(folder)], online=False).text() == "nothing to download; 0 cached; 1 local"
    assert DownloadPlan(()).text() == "nothing to download; 0 cached"


def test_format_size() -> None:
    assert [format_size(n) for n in (None, 512, 4_310, 312_919_737, 2_334_311_170)] == [
        "?", "512 B", "4 kB", "313 MB", "2.3 GB",
    ]  # fmt: skip
    assert format_size(310_000_000, estimate=True) == "~310 MB"


def test_load_files_picks_one_weight_format() -> None:
    repo = [
        ".gitattributes", "README.md", "config.json", "generation_config.json", "model.safetensors",
        "pytorch_model.bin", "tf_model.h5", "flax_model.msgpack", "rust_model.ot", "onnx/encoder_model.onnx",
        "source.spm", "target.spm", "vocab.json", "tokenizer_config.json", "metadata.json",
    ]  # fmt: skip
    assert load_files(repo) == sorted([
        "config.json", "generation_config.json", "model.safetensors", "source.spm", "target.spm",
        "tokenizer_config.json", "vocab.json",
    ])  # fmt: skip
    legacy = [n for n in repo if n != "model.safetensors"]
    assert "pytorch_model.bin" in load_files(legacy) and "model.safetensors" not in load_files(legacy)
    sharded = ["config.json", "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin",
               "pytorch_model.bin.index.json", "spiece.model"]
    assert load_files(sharded) == sorted(sharded)


# ------------------------------------------------------------------------------- the Hub


def test_hub_sizes_come_from_file_metadata(fake_hub: type[_FakeHub], cache: Path) -> None:
    commit = "b" * 40
    siblings = {"config.json": 700, "model.safetensors": 300_000_000, "pytorch_model.bin": 300_000_000,
                "tf_model.h5": 310_000_000, "source.spm": 800_000, "vocab.json": 1_300_000, "README.md": 4_000}
    fake_hub.repos[DE_EN] = {
        "id": DE_EN, "sha": commit, "siblings": [{"rfilename": k, "size": v} for k, v in siblings.items()],
    }
    fake_hub.repos["org/small"] = {
        "id": "org/small", "sha": commit, "siblings": [{"rfilename": "config.json", "size": 10},
                                                        {"rfilename": "pytorch_model.bin", "size": 90},
                                                        {"rfilename": "spiece.model", "size": 5}],
    }
    # Cached at the Hub's revision: every load file present.
    _snapshot(cache, "org/small", {"config.json": "x", "pytorch_model.bin": "w", "spiece.model": "s"}, commit)
    plan = plan_downloads([DE_EN, "org/small", "org/not-on-this-hub"])
    de_en, small, missing = plan.models
    assert plan.hub_checked
    assert (de_en.size_source, de_en.size_bytes, de_en.cached) == ("hub", 700 + 300_000_000 + 800_000 + 1_300_000, False)
    assert (small.size_source, small.size_bytes, small.cached) == ("hub", 105, True)
    # The Hub does not know it: the registry has no figure either.
    assert (missing.size_source, missing.size_bytes) == ("unknown", None)
    assert plan.text() == f"will download 2 models, {format_size(de_en.size_bytes)} + 1 of unknown size; 1 cached"
    # A snapshot of another revision is not what a load would use.
    _snapshot(cache, DE_EN, {n: "x" for n in siblings}, "c" * 40)
    assert not plan_downloads([DE_EN]).models[0].cached


def test_reachability_fails_fast_against_a_closed_port(
    online_env: None, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    start = time.monotonic()
    assert downloads.hub_reachable(timeout=3.0, refresh=True) is False
    assert time.monotonic() - start < 5
    # The plan falls back to the registry, still within seconds.
    start = time.monotonic()
    plan = plan_downloads([XLSUM])
    assert time.monotonic() - start < 5
    assert plan.models[0].size_source == "registry" and not plan.hub_checked
    # A run can fail before loading anything: the model to download cannot be fetched.
    assert plan.hub_online is False and [m.id for m in plan.unfetchable] == [XLSUM]


def test_nothing_is_unfetchable_when_everything_is_cached_or_local(cache: Path, tiny: dict[str, Path]) -> None:
    _snapshot(cache, XLSUM, {"config.json": "{}", "spiece.model": "s", "pytorch_model.bin": "w"})
    plan = plan_downloads([XLSUM, str(tiny["t5"])], online=False)
    assert plan.hub_online is False and plan.to_download == () and plan.unfetchable == ()
    only_local = plan_downloads([str(tiny["t5"])])
    assert only_local.hub_online is None and only_local.unfetchable == ()


def test_reachability_is_false_at_once_offline_and_true_for_a_live_endpoint(
    fake_hub: type[_FakeHub], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert downloads.hub_reachable(refresh=True) is True
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    assert downloads.hub_reachable(refresh=True) is False  # the live endpoint is not even asked
    assert time.monotonic() - start < 0.5


# --------------------------------------------------------------- the plan names the run's models


def _tiny_registry(tmp_path: Path, tiny: dict[str, Path]) -> Path:
    """Tiny local models standing in for real ones: mT5 summarizes es/fr, T5 English and pivots
    German and Russian; Marian translates de->en, M2M100 the rest among en/de/fr/es/ru."""
    path = tmp_path / "tiny-registry.toml"
    path.write_text(
        f"""replace = true

[[summarization]]
id = "{tiny["mt5"]}"
family = "mt5"
languages = ["es", "fr"]
licence = "apache-2.0"

[[summarization]]
id = "{tiny["t5"]}"
family = "t5"
languages = ["en"]
english_pivot = true
licence = "apache-2.0"

[[translation]]
id = "{tiny["marian"]}"
family = "marian"
languages = ["de"]
targets = ["en"]
target_token = "required"
licence = "cc-by-4.0"

[[translation]]
id = "{tiny["m2m100"]}"
family = "m2m100"
languages = ["en", "de", "fr", "es", "ru"]
licence = "mit"
""",
        encoding="utf-8",
    )
    return path


def test_the_plan_names_exactly_the_models_the_run_uses(tmp_path: Path, tiny: dict[str, Path]) -> None:
    # One article per language keeps the run short; two of the five languages pivot.
    first: dict[str, dict[str, Any]] = {}
    for row in sample_articles():
        first.setdefault(row["id"].split("-")[0], row)
    langs = ["en", "de", "fr", "es", "ru"]
    inp = write_jsonl(tmp_path / "in.jsonl", [first[lang] for lang in langs])
    options = ["--registry", str(_tiny_registry(tmp_path, tiny)), "--to", "en,de", "--translate", "summary,title"]

    res = invoke(["models", "plan", str(inp), *options, "--json"])
    assert res.exit_code == 0, res.output
    plan = json.loads(res.stdout)
    assert not plan["unserved"]
    planned_summary = {a["source_lang"]: a["model"] for a in plan["summaries"]}
    planned_tr = {(a["field"], a["source_lang"], a["target_lang"]): a["model"] for a in plan["translations"]}
    planned_ids = {m["id"] for m in plan["models"]}
    assert set(planned_summary) == set(langs) and sum(" > " in m for m in planned_summary.values()) == 2

    out = tmp_path / "out"
    fast = ["--max-new-tokens", "8", "--beams", "1", "--translation-beams", "1", "--translation-max-new-tokens", "12"]
    res = invoke(["run", str(inp), "--out", str(out), *options, *fast, "--quiet"])
    assert res.exit_code == 0, res.output
    arts = read(out, "articles")
    run_summary = {(lang, model) for lang, model in zip(arts["lang"], arts["summary_model"], strict=True)}
    assert run_summary == set(planned_summary.items())
    tr = read(out, "translations")
    run_tr = {(r["field"], r["source_lang"], r["target_lang"]): r["model"] for r in tr.iter_rows(named=True)}
    # Every translation row used its planned model, and every planned title/summary pair ran.
    assert run_tr == planned_tr
    # The models a run records are the models the plan named (identity is no model).
    manifest = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert set(manifest["models"]) == planned_ids
    used_in_tables = {m for v in [*planned_summary.values(), *run_tr.values()] for m in v.split(" > ")} - {"identity"}
    assert used_in_tables == planned_ids
    # So the download plan of the plan's models covers the run's models: here all local folders.
    dl = plan_downloads([m["id"] for m in plan["models"]], online=False)
    assert {m.id for m in dl.models} == set(manifest["models"]) and all(m.status == "local" for m in dl.models)
    assert dl.to_download == () and isinstance(dl.models[0], ModelDownload)


# -------------------------------------------------------------- make demo and its docs page


def test_make_demo_downloads_what_the_docs_say(cache: Path) -> None:
    from summarize.models import routing
    from summarize.options import RunOptions

    root = Path(__file__).resolve().parents[2]
    makefile = (root / "Makefile").read_text(encoding="utf-8")
    line = re.search(r"^DEMO_MODELS \?= (.+)$", makefile, re.M)
    assert line, "Makefile has no DEMO_MODELS"
    flags = dict(re.findall(r"--(summary-model|translation-model) (\S+)", line.group(1)))
    samples = [str(root / "samples" / "articles.jsonl")]
    demo = routing.plan_inputs(samples, RunOptions(to=("en",), summary_model=flags["summary-model"],
                                                   translation_model=flags["translation-model"]))
    # Every article of samples/ is served, by exactly the two demo models.
    assert not demo.unserved and demo.skipped == 0
    assert demo.model_ids() == [flags["summary-model"], flags["translation-model"]]
    # Getting started (docs/index.md) has the demo's models and sizes; the README repeats the total.
    readme = (root / "docs" / "index.md").read_text(encoding="utf-8")
    dl = plan_downloads(demo.model_ids(), online=False)
    assert dl.download_bytes < 3_000_000_000  # the budget for a first run
    assert f"downloads two models, about **{format_size(dl.download_bytes)}**" in readme
    assert f"downloads two models, about **{format_size(dl.download_bytes)}**" in (root / "README.md").read_text(encoding="utf-8")
    for m in dl.models:
        assert f"| `{m.id}` |" in readme and format_size(m.size_bytes) in readme, m.id
    full = routing.plan_inputs(samples, RunOptions(to=("en",)))
    full_dl = plan_downloads(full.model_ids(), online=False)
    n = len(full.model_ids())
    assert f"{n} models, about {format_size(full_dl.download_bytes)}" in readme
    assert f"{n} models, about {format_size(full_dl.download_bytes)}" in makefile


# ----------------------------------------------------------------- run: the pre-flight


DEMO_ARGS = ["--to", "en", "--summary-model", XLSUM, "--translation-model", MUL_EN]


@pytest.fixture
def no_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every model a run tries to load, and refuses: the pre-flight must come first."""
    from summarize.backends import ModelPool

    tried: list[str] = []

    def refuse(self: Any, model: str, task: str) -> Any:
        tried.append(model)
        raise AssertionError(f"a model was loaded: {model}")

    monkeypatch.setattr(ModelPool, "_load", refuse)
    return tried


def _samples() -> str:
    return str(Path(__file__).resolve().parents[2] / "samples" / "articles.jsonl")


def test_run_says_what_it_will_download_and_fails_before_loading_offline(
    tmp_path: Path, cache: Path, no_loads: list[str]
) -> None:
    res = invoke(["run", _samples(), "--out", str(tmp_path / "out"), *DEMO_ARGS])
    assert res.exit_code == 2
    dl = plan_downloads([XLSUM, MUL_EN], online=False)
    lines = res.stderr.strip().splitlines()
    assert lines[0] == f"summarize: {dl.text()}" == "summarize: will download 2 models, 2.6 GB; 0 cached"
    assert lines[-1].startswith(f"summarize: error: Could not fetch model '{XLSUM}' from the Hugging Face Hub")
    assert no_loads == [] and not (tmp_path / "out" / "articles").exists()
    # --quiet keeps the line off stderr, not the error.
    res = invoke(["run", _samples(), "--out", str(tmp_path / "out"), *DEMO_ARGS, "--quiet"])
    assert res.exit_code == 2 and res.stderr.strip().splitlines() == lines[-1:]


def test_run_with_local_models_says_nothing_to_download(tmp_path: Path, tiny: dict[str, Path]) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", sample_articles(2))
    res = invoke(["run", str(inp), "--out", str(tmp_path / "out"), "--to", "fr", "--summary-model", str(tiny["t5"]),
                  "--translation-model", str(tiny["m2m100"]), "--max-new-tokens", "8", "--beams", "1",
                  "--translation-beams", "1", "--translation-max-new-tokens", "12"])
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines()[0] == "summarize: nothing to download; 0 cached; 2 local"


def test_forced_local_models_skip_the_reading_pass(tmp_path: Path, tiny: dict[str, Path],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # Both models forced and on disk: nothing can be downloaded, so the pre-flight names them
    # without reading and detecting the inputs a second time; a registry route needs the pass.
    from summarize.models import routing

    passes: list[int] = []
    real = routing.plan_inputs
    monkeypatch.setattr(routing, "plan_inputs", lambda *a, **k: passes.append(1) or real(*a, **k))
    inp = write_jsonl(tmp_path / "in.jsonl", sample_articles(2))
    base = ["run", str(inp), "--to", "fr", "--summary-model", str(tiny["t5"]), "--max-new-tokens", "8",
            "--beams", "1", "--translation-beams", "1", "--translation-max-new-tokens", "12"]
    res = invoke([*base, "--out", str(tmp_path / "a"), "--translation-model", str(tiny["m2m100"])])
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines()[0] == "summarize: nothing to download; 0 cached; 2 local" and passes == []
    res = invoke([*base, "--out", str(tmp_path / "b"), "--translation-model", "nobody/not-a-local-folder"])
    assert passes == [1], res.output


def _prompted(res: Any) -> bool:
    return "Continue?" in res.output


def test_a_pipeline_is_never_asked_and_a_terminal_is(
    tmp_path: Path, fake_hub: type[_FakeHub], cache: Path, no_loads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fake Hub answers (reachable) but knows no model: sizes come from the registry (2.6 GB,
    # over the 1 GB bar) and every fetch fails, which shows how far a run got.
    args = ["run", _samples(), "--out", str(tmp_path / "out"), *DEMO_ARGS]
    fetch_failed = f"summarize: error: cannot fetch model '{XLSUM}': no such model on the Hub"

    res = invoke(args, input="y\n")  # CliRunner's stdin is not a terminal: no question, whatever it holds
    assert res.exit_code == 2 and not _prompted(res)
    assert "summarize: will download 2 models, 2.6 GB; 0 cached" in res.stderr
    assert f"summarize: downloading 1/2: {XLSUM} (2.3 GB)" in res.stderr and fetch_failed in res.stderr

    from summarize.cli import models

    monkeypatch.setattr(models, "_interactive", lambda: True)
    res = invoke(args, input="n\n")
    assert res.exit_code == 1 and _prompted(res) and "[y/N]" in res.output
    assert "nothing downloaded" in res.stderr and "downloading" not in res.stderr
    res = invoke(args, input="\n")  # the default is no
    assert res.exit_code == 1 and "downloading" not in res.stderr
    res = invoke(args, input="y\n")
    assert res.exit_code == 2 and _prompted(res) and fetch_failed in res.stderr
    for extra in (["--yes"], ["-y"]):
        res = invoke([*args, *extra])
        assert res.exit_code == 2 and not _prompted(res) and fetch_failed in res.stderr
    assert no_loads == []


def test_yes_comes_from_the_environment_and_the_config(
    tmp_path: Path, fake_hub: type[_FakeHub], cache: Path, no_loads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from summarize.cli import app, models
    from summarize.cli.app import build_default_map

    monkeypatch.setattr(models, "_interactive", lambda: True)
    args = ["run", _samples(), "--out", str(tmp_path / "out"), *DEMO_ARGS]
    config = tmp_path / "summarize.toml"
    config.write_text("[run]\nyes = true\n", encoding="utf-8")
    for argv, env in ((args, {"SUMMARIZE_YES": "1"}), ([*args, "--config", str(config)], {})):
        default_map = build_default_map(argv, env=env, cwd=tmp_path)
        res = CliRunner().invoke(app, argv, input="n\n", default_map=default_map, catch_exceptions=False)
        assert res.exit_code == 2 and not _prompted(res), (argv, env)
        assert f"cannot fetch model '{XLSUM}'" in res.stderr


def test_small_downloads_are_not_asked_about(
    tmp_path: Path, fake_hub: type[_FakeHub], cache: Path, no_loads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from summarize.cli import models

    monkeypatch.setattr(models, "_interactive", lambda: True)
    _snapshot(cache, XLSUM, {"config.json": "{}", "spiece.model": "s", "pytorch_model.bin": "w"})
    # Only opus-mt-mul-en (313 MB) is left to download: under the bar, so no question.
    res = invoke(["run", _samples(), "--out", str(tmp_path / "out"), *DEMO_ARGS], input="n\n")
    assert not _prompted(res) and "will download 1 model, 313 MB; 1 cached" in res.stderr
    assert f"cannot fetch model '{MUL_EN}'" in res.stderr


def test_make_demo_without_network_fails_in_seconds(tmp_path: Path) -> None:
    """The demo's command, as `make demo` runs it, with the Hub at a closed port, HF_HUB_OFFLINE
    unset and an empty cache: one sentence, well under the issue's 10 s (20 s here for a loaded
    machine; the real figure is in the report)."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    makefile = (root / "Makefile").read_text(encoding="utf-8")
    line = re.search(r"^DEMO_MODELS \?= (.+)$", makefile, re.M)
    recipe = re.search(r"^demo: .*\n\t\$\(VENV\)/bin/summarize (run .+)$", makefile, re.M)
    assert line and recipe
    argv = recipe.group(1).replace("$(DEMO_MODELS)", line.group(1)).replace("$(OUT)", str(tmp_path)).split()
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HOME")}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}", HF_HUB_CACHE=str(tmp_path / "empty-cache"),
               PYTHONPATH=str(root))
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "summarize.cli", *argv], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120)
    elapsed = time.monotonic() - start
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0] == "summarize: will download 2 models, 2.6 GB; 0 cached"
    assert re.fullmatch(r"summarize: error: Could not fetch model '[^']+' from the Hugging Face Hub \(\w+\); "
                        r"download it where the Hub is reachable .+\.", lines[-1]), lines[-1]
    assert elapsed < 20, f"took {elapsed:.1f} s"
