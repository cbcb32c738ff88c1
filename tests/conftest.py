"""Shared fixtures: offline by default, tiny real models built once per session, CLI helpers."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

# A real S3 server (SeaweedFS, dev extra) for the object-storage tests, started on first use.
from tests.s3server import s3_prefix, s3_server  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"

# Offline before anything imports huggingface_hub: tests never reach a model host.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


# A command run in-process (CliRunner) sets the root logger's level and puts its stderr handler
# there, for its process; so does a module-scoped fixture that runs one before its module's first
# test. Every test ends with the session's level back and no command's handler left, so one
# module's fixture cannot leave its handler for later modules. pytest's own capture handlers,
# which come and go with each test phase, are left alone.
_ROOT_LEVEL = logging.getLogger().level


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    from summarize.cli.common import _StderrHandler

    root = logging.getLogger()
    root.setLevel(_ROOT_LEVEL)
    for handler in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(handler)
    logging.captureWarnings(False)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny random-weight models of every family, with sentencepiece tokenizers trained on samples/."""
    from summarize.testing.tiny import build_tiny_models

    cache = os.environ.get("SUMMARIZE_TINY_DIR")
    out = Path(cache) if cache else tmp_path_factory.mktemp("tiny")
    return build_tiny_models(out)


def write_jsonl(path: Path, records: Sequence[dict[str, Any] | str]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n")
    return path


def sample_articles(n: int | None = None) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (SAMPLES / "articles.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[:n] if n else rows


@pytest.fixture
def fast_args(tiny: dict[str, Path]) -> list[str]:
    """CLI options that make runs with tiny models quick."""
    return [
        "--summary-model", str(tiny["t5"]), "--translation-model", str(tiny["m2m100"]),
        "--max-new-tokens", "12", "--beams", "1", "--translation-beams", "1",
        "--translation-max-new-tokens", "24", "--quiet",
    ]


def invoke(args: Sequence[str], input: str | bytes | None = None) -> Any:
    from typer.testing import CliRunner

    from summarize.cli import app

    runner = CliRunner()
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


def read(out: Path, table: str) -> Any:
    import polars as pl

    return pl.read_parquet(out / table)


@pytest.fixture
def articles_file(tmp_path: Path) -> Iterator[Path]:
    yield write_jsonl(tmp_path / "in.jsonl", sample_articles(6))


def options(tiny: dict[str, Path], **kw: Any) -> Any:
    """Run options for quick runs on the tiny models (Ray and object-storage tests), `kw` on top."""
    from summarize.options import GenerationOptions, RunOptions

    fields: dict[str, Any] = {
        "to": ("en", "fr"), "translate": ("summary", "title"), "summary_model": str(tiny["t5"]),
        "translation_model": str(tiny["m2m100"]), "summary": GenerationOptions(max_new_tokens=6, num_beams=1),
        "translation": GenerationOptions(max_new_tokens=8, num_beams=1, no_repeat_ngram_size=0), "shard_size": 2,
    }
    return RunOptions(**{**fields, **kw})


def articles(n: int) -> list[dict[str, Any]]:
    """`n` articles cycling through the samples' languages, with ids of their own."""
    base = sample_articles()
    return [{**base[(i * 5) % len(base)], "id": f"a{i:03d}"} for i in range(n)]


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """One torch thread for a module's tiny-model tests (use with `pytest.mark.usefixtures`).

    Models this small gain nothing from intra-op threads, and on a busy machine threads that
    spin-wait make them tens of times slower. The backend sets its thread count when it loads a
    model, so that call is held off while the module runs.
    """
    import torch

    before = torch.get_num_threads()
    real = torch.set_num_threads
    real(1)
    setattr(torch, "set_num_threads", lambda n: None)  # noqa: B010
    yield
    setattr(torch, "set_num_threads", real)  # noqa: B010
    real(before)


@pytest.fixture
def counted_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every record the readers build from an input, counted in `[0]`, whoever reads it (the
    pre-flight, an id scan, the run); set it back to 0 between runs."""
    from summarize.io import records

    seen = [0]
    real = records.Builder.build

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen[0] += 1
        return real(self, *args, **kwargs)

    monkeypatch.setattr(records.Builder, "build", counting)
    return seen
