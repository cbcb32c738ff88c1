"""The generate stage through the real tiny models: batching, order, and what a failure does.

Failures are injected by a wrapper around a real loaded model whose `generate_batch` raises
when one chosen input text is in the batch (a fake of the failure only; every output still
comes from the real model). What must hold: only the failing input's articles get an error;
`MemoryError`, model-load errors and `KeyboardInterrupt` stop the call instead.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from summarize import batching as plan
from summarize.backends import Generator, ModelPool, Output
from summarize.backends.hf import TransformersGenerator
from summarize.errors import ModelError, UnsupportedLanguageError
from summarize.generate import Generated, generate
from summarize.options import GenerationOptions, RunOptions
from summarize.pipeline import Pipeline
from summarize.schema import Article
from tests.conftest import ROOT, sample_articles

GREEDY = GenerationOptions(max_new_tokens=8, num_beams=1, no_repeat_ngram_size=0, batch_size=4)
TEXTS = [
    "The city council approved the new budget for schools and public transport on Monday.",
    "Short.",
    "Heavy rain caused flooding in several towns, forcing hundreds of families to leave their homes.",
    "Officials said the plan would cost about two billion dollars.",
    "The vote was close.",
    "Markets rose.",
]


# The tiny models run on one torch thread here (see the `one_torch_thread` fixture in conftest).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def t5(tiny: dict[str, Path]) -> TransformersGenerator:
    return TransformersGenerator.load(str(tiny["t5"]), device="cpu")


@pytest.fixture(scope="module")
def m2m(tiny: dict[str, Path]) -> TransformersGenerator:
    return TransformersGenerator.load(str(tiny["m2m100"]), device="cpu")


Raises = Callable[[Sequence[str]], "BaseException | None"]


class Failing:
    """A real model whose `generate_batch` raises `error(batch)` when a text of the batch contains `bad`.

    `error` gets the batch's texts, so a test can raise one exception for a batch of several and
    another (or none: None) for the bad text alone. Every batch the model is asked for is recorded.
    """

    def __init__(self, inner: Generator, bad: str, error: Raises) -> None:
        self.inner, self.bad, self.error = inner, bad, error
        self.name, self.family, self.revision = inner.name, inner.family, inner.revision
        self.max_input_tokens = inner.max_input_tokens
        self.batches: list[list[str]] = []

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def generate_batch(self, texts: Sequence[str], options: GenerationOptions, **kw: Any) -> list[Output]:
        self.batches.append(list(texts))
        if any(self.bad in t for t in texts):
            exc = self.error(texts)
            if exc is not None:
                raise exc
        return self.inner.generate_batch(texts, options, **kw)


class WrappingPool(ModelPool):
    """A pool that loads real models and hands each out wrapped by `wrap`."""

    def __init__(self, wrap: Callable[[Generator], Generator]) -> None:
        super().__init__(device="cpu", max_loaded=4)
        self.wrap = wrap

    def get(self, model: str, task: str) -> Generator:
        return self.wrap(super().get(model, task))


def alone(gen: Generator, texts: Sequence[str], **kw: Any) -> list[Output]:
    return [gen.generate_batch([t], GREEDY, **kw)[0] for t in texts]


# ------------------------------------------------------------------------------ batching


def test_generate_dedupes_sorts_batches_and_restores_order(t5: TransformersGenerator) -> None:
    spy = Failing(t5, bad="\x00never", error=lambda _: AssertionError("unreachable"))
    texts = [*TEXTS, TEXTS[1], TEXTS[0]]
    got = generate(spy, texts, GREEDY)
    assert [g.output for g in got] == alone(t5, texts)
    assert all(g.error is None and g.seconds > 0 for g in got)
    # Each distinct text ran once, longest first, in batches of at most `batch_size`.
    seen = [t for b in spy.batches for t in b]
    assert sorted(seen) == sorted(set(texts)) and len(seen) == len(TEXTS)
    counts = t5.count_tokens(seen)
    assert counts == sorted(counts, reverse=True)
    assert [len(b) for b in spy.batches] == [4, 2]


def test_token_budget_packs_batches_and_limits_new_tokens(t5: TransformersGenerator) -> None:
    spy = Failing(t5, bad="\x00never", error=lambda _: AssertionError("unreachable"))
    counts = t5.count_tokens(TEXTS)
    options = GenerationOptions(max_new_tokens=8, num_beams=1, no_repeat_ngram_size=0, batch_size=64,
                                max_batch_tokens=2 * max(counts))
    limits: list[int] = []

    def budget(longest: int) -> int:
        limits.append(longest)
        return longest // 4 + 1

    got = generate(spy, TEXTS, options, budget=budget)
    assert all(len(b) * max(t5.count_tokens(b)) <= 2 * max(counts) for b in spy.batches)
    assert len(spy.batches) == len(plan.make_batches(counts, batch_size=64, max_batch_tokens=2 * max(counts))) > 1
    # The budget got each batch's longest input, and the outputs kept to that batch's limit.
    assert limits == [max(t5.count_tokens(b)) for b in spy.batches]
    for batch, n in zip(spy.batches, limits, strict=True):
        for text in batch:
            out = got[TEXTS.index(text)].output
            assert out is not None and out.tokens <= n // 4 + 1


# ------------------------------------------------------------------------------ failures


def test_a_failing_batch_is_retried_one_by_one_and_only_the_bad_input_fails(t5: TransformersGenerator) -> None:
    bad = TEXTS[3]
    spy = Failing(t5, bad=bad, error=lambda _: RuntimeError("index out of range in self"))
    got = generate(spy, TEXTS, GREEDY)
    expected = alone(t5, TEXTS)
    for text, g, want in zip(TEXTS, got, expected, strict=True):
        if text == bad:
            assert g.output is None and g.error == f"{t5.name}: RuntimeError: index out of range in self"
        else:
            assert g.output == want and g.error is None
    # The bad text's batch ran once whole, then each of its texts on its own.
    [whole] = [b for b in spy.batches if bad in b and len(b) > 1]
    assert [b for b in spy.batches if len(b) == 1] == [[t] for t in whole]


@pytest.mark.parametrize("exc", [MemoryError(), ModelError("cannot load"), KeyboardInterrupt()],
                         ids=["MemoryError", "ModelError", "KeyboardInterrupt"])
def test_memory_model_and_interrupt_errors_propagate_from_a_batch(t5: TransformersGenerator,
                                                                  exc: BaseException) -> None:
    spy = Failing(t5, bad=TEXTS[3], error=lambda _: exc)
    with pytest.raises(type(exc)):
        generate(spy, TEXTS, GREEDY)
    assert all(len(b) > 1 for b in spy.batches)  # no one-by-one retry was tried


@pytest.mark.parametrize("exc", [MemoryError(), ModelError("cannot load"), KeyboardInterrupt()],
                         ids=["MemoryError", "ModelError", "KeyboardInterrupt"])
def test_memory_model_and_interrupt_errors_propagate_from_the_retry(t5: TransformersGenerator,
                                                                    exc: BaseException) -> None:
    # The batch fails for an ordinary reason; the bad text alone then raises `exc`, which must not
    # become that text's per-article error.
    spy = Failing(t5, bad=TEXTS[3], error=lambda batch: exc if len(batch) == 1 else RuntimeError("batch"))
    with pytest.raises(type(exc)):
        generate(spy, TEXTS, GREEDY)
    assert [TEXTS[3]] in spy.batches


def test_device_out_of_memory_retries_smaller_and_stops_on_one_input(t5: TransformersGenerator) -> None:
    import torch

    # A batch the device cannot hold: its texts run one by one and all succeed.
    spy = Failing(t5, bad="", error=lambda b: torch.OutOfMemoryError("CUDA out of memory") if len(b) > 1 else None)
    got = generate(spy, TEXTS, GREEDY)
    assert [g.output for g in got] == alone(t5, TEXTS)
    assert sum(len(b) == 1 for b in spy.batches) == len(TEXTS)
    # One input the device cannot hold: nothing smaller exists, so the call stops.
    only = Failing(t5, bad=TEXTS[1], error=lambda _: torch.OutOfMemoryError("CUDA out of memory"))
    with pytest.raises(torch.OutOfMemoryError):
        generate(only, TEXTS, GREEDY)


def test_unsupported_language_fails_the_batch_without_retry(m2m: TransformersGenerator) -> None:
    spy = Failing(m2m, bad="\x00never", error=lambda _: AssertionError("unreachable"))
    got = generate(spy, TEXTS, GREEDY, source_lang="en", target_lang="xx")
    assert all(g.output is None and g.error and "UnsupportedLanguageError" in g.error for g in got)
    # The real model raised before generating; no batch was retried text by text.
    assert all(len(b) > 1 for b in spy.batches)
    with pytest.raises(UnsupportedLanguageError):
        m2m.generate_batch(TEXTS[:1], GREEDY, source_lang="en", target_lang="xx")


# ------------------------------------------------------------------------------ through the pipeline


def _articles(n: int) -> list[Article]:
    rows = [a for a in sample_articles() if a["id"].startswith("en-")][:n]
    return [Article(a["id"], i, "test", i + 1, a["text"], a["title"], lang="en") for i, a in enumerate(rows)]


def _options(tiny: dict[str, Path], **fields: Any) -> RunOptions:
    return RunOptions(**{
        "summary_model": str(tiny["t5"]), "translation_model": str(tiny["m2m100"]), "device": "cpu",
        "summary": GREEDY, "translation": GenerationOptions(max_new_tokens=12, num_beams=1, no_repeat_ngram_size=0),
        **fields,
    })


def test_a_failing_summary_input_fails_only_its_article(tiny: dict[str, Path]) -> None:
    arts = _articles(3)
    bad = arts[1].title or ""
    pool = WrappingPool(lambda g: Failing(g, bad=bad, error=lambda _: ValueError("bad input"))
                        if g.family == "t5" else g)
    results = Pipeline(_options(tiny, translate=("title",), to=("de",)), pool=pool).process(arts)
    assert [r.status for r in results] == ["ok", "error", "ok"]
    assert results[1].error == f"{tiny['t5']}: ValueError: bad input" and results[1].summary is None
    assert not results[1].translations  # an article that failed is not translated further
    assert all(r.summary and r.translations[0].status == "ok" for r in (results[0], results[2]))


def test_a_failing_sentence_fails_only_its_articles_translation(tiny: dict[str, Path]) -> None:
    arts = _articles(3)
    bad = arts[2].title or ""
    pool = WrappingPool(lambda g: Failing(g, bad=bad, error=lambda _: ValueError("bad sentence"))
                        if g.family == "m2m100" else g)
    results = Pipeline(_options(tiny, translate=("title",), to=("de",)), pool=pool).process(arts)
    assert [r.status for r in results] == ["ok", "ok", "error"]
    [tr] = results[2].translations
    message = f"{tiny['m2m100']}: ValueError: bad sentence"
    assert tr.status == "error" and tr.text is None and tr.error == message
    assert results[2].error == f"{message}; title -> de failed" and results[2].summary
    assert all(r.translations[0].status == "ok" and r.translations[0].text for r in results[:2])


def test_translate_api_gives_an_error_row_for_the_failing_text_only(tiny: dict[str, Path]) -> None:
    pool = WrappingPool(lambda g: Failing(g, bad="Gewitter", error=lambda _: ValueError("no")))
    pipe = Pipeline(_options(tiny), pool=pool)
    texts = ["Regen am Montag.", "Ein Gewitter zog auf. Es war kalt.", "Die Sonne schien."]
    results = pipe.translate(texts, "de", "en")
    assert [r.status for r in results] == ["ok", "error", "ok"]
    assert results[1].error == f"{tiny['m2m100']}: ValueError: no" and results[1].model == str(tiny["m2m100"])
    assert [s.source_text for s in results[0].segments] == ["Regen am Montag."]


@pytest.mark.parametrize("exc", [MemoryError(), ModelError("weights are corrupt")], ids=["MemoryError", "ModelError"])
def test_memory_and_model_errors_stop_the_pipeline(tiny: dict[str, Path], exc: BaseException) -> None:
    arts = _articles(2)
    bad = arts[1].title or ""
    pool = WrappingPool(lambda g: Failing(g, bad=bad, error=lambda batch: exc if len(batch) == 1 else OSError("x")))
    with pytest.raises(type(exc)):
        list(Pipeline(_options(tiny, translate=()), pool=pool).run(arts))


def test_generated_is_a_record_not_a_string(t5: TransformersGenerator) -> None:
    [g] = generate(t5, TEXTS[:1], GREEDY)
    assert isinstance(g, Generated) and isinstance(g.output, Output) and g.text == g.output.text


# ------------------------------------------------------------------------------ layout


STAGES = ["generate", "align", "translator", "summarizer", "pipeline"]  # lowest first


def _imports(module: str) -> set[str]:
    tree = ast.parse((ROOT / "summarize" / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.update([node.module] if node.module else [a.name for a in node.names])
    return {m.split(".")[0] for m in found}


def test_stage_modules_import_downward_only() -> None:
    for k, module in enumerate(STAGES):
        above = set(STAGES[k + 1 :])
        assert not _imports(module) & above, (module, _imports(module) & above)
        assert len((ROOT / "summarize" / f"{module}.py").read_text(encoding="utf-8").splitlines()) <= 450
