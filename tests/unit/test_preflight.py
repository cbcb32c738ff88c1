"""The pre-flight plans a run's models from a bounded sample of the input, never from all of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from summarize.models import preflight
from summarize.options import ReadOptions, RunOptions
from tests.conftest import write_jsonl


def _articles(n: int, langs: tuple[str, ...] = ("en",)) -> list[dict[str, Any]]:
    return [{"id": f"a{i}", "lang": langs[i % len(langs)], "text": f"Article number {i} says something."}
            for i in range(n)]


@pytest.mark.parametrize("size", [50, 5_000])
def test_the_planner_reads_at_most_the_sample(tmp_path: Path, counted_reads: list[int], size: int) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", _articles(size, ("en", "de")))
    plan = preflight.sample_plan([str(inp)], RunOptions(to=("en",)), ReadOptions(lang_col="lang"), limit=300)
    assert counted_reads[0] == min(size, 300) == plan.articles
    assert set(plan.languages) == {"en", "de"} and plan.model_ids()


def test_the_sample_is_shared_over_the_inputs(tmp_path: Path, counted_reads: list[int]) -> None:
    # Each input's first records: a language only the second file has is still planned for.
    a = write_jsonl(tmp_path / "a.jsonl", _articles(1_000, ("en",)))
    b = write_jsonl(tmp_path / "b.jsonl", _articles(1_000, ("fr",)))
    plan = preflight.sample_plan([str(a), str(b)], RunOptions(to=("en",)), ReadOptions(lang_col="lang"), limit=200)
    assert counted_reads[0] == 200 and plan.languages == {"en": 100, "fr": 100}


def test_forced_local_models_read_nothing(tmp_path: Path, counted_reads: list[int]) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", _articles(10))
    model = tmp_path / "model"
    model.mkdir()
    pre = preflight.plan_models([str(inp)], RunOptions(summary_model=str(model), translation_model=str(model)))
    assert counted_reads[0] == 0 and pre.plan is None and [m.status for m in pre.downloads.models] == ["local"]


def test_the_pre_flight_memory_does_not_grow_with_the_input(tmp_path: Path) -> None:
    import tracemalloc

    peaks = []
    for n in (2_000, 40_000):
        inp = write_jsonl(tmp_path / f"in{n}.jsonl", _articles(n, ("en", "de", "fr")))
        tracemalloc.start()
        preflight.sample_plan([str(inp)], RunOptions(to=("en",)), ReadOptions(lang_col="lang"), limit=1_000)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < peaks[0] * 1.5 + 1_000_000, peaks


def test_a_model_the_sample_missed_is_announced_at_its_first_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from summarize.backends.pool import _announce_download

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with caplog.at_level(logging.INFO, logger="summarize.backends.pool"):
        _announce_download("csebuetnlp/mT5_multilingual_XLSum")  # offline: the registry's recorded size
        _announce_download(str(tmp_path))  # a local folder downloads nothing
    assert caplog.messages == ["downloading csebuetnlp/mT5_multilingual_XLSum (2.3 GB): first needed now"]
