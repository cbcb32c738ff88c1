"""Long articles and sentence-aligned translation, through the real backend and the tiny models.

A spy wraps each loaded `Generator`: it records every text handed to `generate_batch`, its
length in tokens as the model's own tokenizer counts it (without truncation, so a text over
the limit would show), the new-token limit and the outputs, and then runs the real model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from summarize import batching as plan
from summarize.backends import Generator, ModelPool, Output
from summarize.options import GenerationOptions, RunOptions
from summarize.pipeline import Pipeline
from summarize.schema import Article, ArticleResult, TranslationResult
from summarize.segment import reassemble, segment
from tests.conftest import SAMPLES, sample_articles

SUMMARY = GenerationOptions(max_new_tokens=8, num_beams=1)
TRANSLATION = GenerationOptions(max_new_tokens=16, num_beams=1, no_repeat_ngram_size=0)
PROMPT = "summarize: "  # the t5 family's template


# The tiny models run on one torch thread here (see the `one_torch_thread` fixture in conftest).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@dataclass
class Call:
    model: str
    texts: list[str]
    tokens: list[int]
    max_new_tokens: int | None
    outputs: list[str]


@dataclass
class Spy:
    """A `Generator` that records what it is asked and delegates to the real one."""

    inner: Generator
    calls: list[Call]
    name: str = field(init=False)
    family: str = field(init=False)
    revision: str | None = field(init=False)
    max_input_tokens: int = field(init=False)

    def __post_init__(self) -> None:
        self.name, self.family = self.inner.name, self.inner.family
        self.revision, self.max_input_tokens = self.inner.revision, self.inner.max_input_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def generate_batch(self, texts: Sequence[str], options: GenerationOptions, *, max_new_tokens: int | None = None,
                       source_lang: str | None = None, target_lang: str | None = None, **kw: Any) -> list[Output]:
        out = self.inner.generate_batch(texts, options, max_new_tokens=max_new_tokens, source_lang=source_lang,
                                        target_lang=target_lang, **kw)
        self.calls.append(Call(self.name, list(texts), self.inner.count_tokens(texts), max_new_tokens,
                               [o.text for o in out]))
        return out


class SpyPool(ModelPool):
    def __init__(self) -> None:
        super().__init__(device="cpu", max_loaded=4)
        self.calls: list[Call] = []

    def get(self, model: str, task: str) -> Generator:
        return Spy(super().get(model, task), self.calls)

    def of(self, model: Path) -> list[Call]:
        return [c for c in self.calls if c.model == str(model)]


@pytest.fixture(scope="module")
def pool() -> SpyPool:
    return SpyPool()


@pytest.fixture
def make(tiny: dict[str, Path], pool: SpyPool) -> Iterator[Any]:
    """A pipeline on the tiny t5 and m2m100 models sharing the module's loaded (spied) models."""

    def build(**fields: Any) -> Pipeline:
        defaults: dict[str, Any] = {
            "summary_model": str(tiny["t5"]), "translation_model": str(tiny["m2m100"]),
            "summary": SUMMARY, "translation": TRANSLATION, "device": "cpu",
        }
        return Pipeline(RunOptions(**{**defaults, **fields}), pool=pool)

    pool.calls.clear()
    yield build


def squash(text: str) -> str:
    return "".join(text.split())


def article(id: str, text: str, title: str | None = None, lang: str | None = None, row: int = 0) -> Article:
    return Article(id, row, "test", row + 1, text, title, lang)


def samples_by_id() -> dict[str, dict[str, Any]]:
    return {a["id"]: a for a in sample_articles()}


def long_text() -> str:
    """About 5,600 words of English news in many paragraphs, no paragraph repeated."""
    ferry = json.loads((SAMPLES / "edge_cases.jsonl").read_text(encoding="utf-8").splitlines()[3])["text"]
    paras = [p for p in ferry.split("\n\n") if p.strip()]
    english = [p for a in sample_articles() if a["id"].startswith("en-") for p in a["text"].split("\n\n")]
    # The ferry story again, every sentence numbered, so no sentence (and no chunk) repeats.
    numbered = [(s.para_index, f"Item {k}: {s.text}") for k, s in enumerate(segment(ferry, "en"))]
    second = reassemble(numbered, lang="en")
    text = "\n\n".join([*paras, *english, second])
    assert len(text.split()) >= 5000
    return text


def translation(result: ArticleResult, fld: str, lang: str) -> TranslationResult:
    return next(t for t in result.translations if t.field == fld and t.target_lang == lang)


# ------------------------------------------------------------------------------------ summaries


def test_long_article_is_summarized_map_reduce_in_chunks_within_the_limit(make: Any, pool: SpyPool,
                                                                         tiny: dict[str, Path]) -> None:
    text, title = long_text(), "Ferry inquiry"
    short = samples_by_id()["en-002"]
    pipe = make(translate=())
    [res, other] = pipe.process([article("long", text, title), article("short", short["text"], short["title"], row=1)])
    assert res.status == "ok" and res.summary
    assert res.n_chunks > 1 and res.truncated is False and "truncated" not in res.flags
    calls = pool.of(tiny["t5"])
    limit = pipe.pool.get(str(tiny["t5"]), "summarization").max_input_tokens
    assert res.input_tokens > 5 * limit
    # Every input the real model got fits its limit, counted by its own tokenizer.
    assert max(n for c in calls for n in c.tokens) <= limit
    whole = squash(f"{title}\n\n{text}")
    inputs = [t.removeprefix(PROMPT) for c in calls for t in c.texts]
    chunks = [t for t in inputs if squash(t) in whole]
    reduce = [t for t in inputs if squash(t) not in whole and t != f"{short['title']}\n\n{short['text']}"]
    # The chunks, in article order, are the whole article: nothing was dropped.
    assert len(chunks) == res.n_chunks
    assert "".join(sorted((squash(c) for c in chunks), key=whole.index)) == whole
    # Chunks end on sentence boundaries and are filled close to the limit.
    assert all(c.rstrip()[-1] in '.!?"”' for c in chunks)
    assert sum(pipe.pool.get(str(tiny["t5"]), "summarization").count_tokens(chunks)) > res.n_chunks * limit * 0.6
    # The reduce step summarized the joined chunk summaries.
    assert reduce and all(len(r.split("\n")) > 1 for r in reduce[:1])
    assert other.n_chunks == 1 and other.truncated is False


def test_long_input_truncate_cuts_at_the_limit(make: Any, pool: SpyPool, tiny: dict[str, Path]) -> None:
    text = long_text()
    short = samples_by_id()["en-001"]
    pipe = make(translate=(), long_input="truncate")
    [res, other] = pipe.process([article("long", text), article("short", short["text"], row=1)])
    assert res.status == "ok" and res.truncated is True and res.n_chunks == 1 and "truncated" in res.flags
    assert other.truncated is False and other.n_chunks == 1 and "truncated" not in other.flags
    limit = pipe.pool.get(str(tiny["t5"]), "summarization").max_input_tokens
    [call] = pool.of(tiny["t5"])
    [cut] = [(t, n) for t, n in zip(call.texts, call.tokens, strict=True) if t != PROMPT + short["text"]]
    # A prefix of the article, cut by the pipeline (the prompt is whole) just under the limit.
    assert cut[0].startswith(PROMPT) and squash(text).startswith(squash(cut[0].removeprefix(PROMPT)))
    assert limit - 20 <= cut[1] <= limit


def test_fit_prefix_and_translation_budget() -> None:
    def words(t: str) -> int:
        return len(t.split())

    assert plan.fit_prefix("one two three four five", 3, words) == "one two three"
    assert plan.fit_prefix("one two", 5, words) == "one two"
    assert plan.fit_prefix("雨が降った。風も強い。", 4, len) == "雨が降っ"
    assert plan.translation_budget(10, 512) == 30 and plan.translation_budget(400, 512) == 512
    assert plan.translation_budget(3, 512) < plan.translation_budget(30, 512)


# ---------------------------------------------------------------------------------- translation


def test_cjk_articles_are_split_at_the_full_stop(make: Any) -> None:
    rows = samples_by_id()
    pipe = make(translate=("text",), to=("en",))
    results = pipe.process([article(k, rows[k]["text"], row=i) for i, k in enumerate(("zh-001", "ja-001"))])
    for res in results:
        assert res.status == "ok", res.error
        tr = translation(res, "text", "en")
        text = res.article.text
        assert " " not in text.replace("\n\n", "")
        sources = [s.source_text for s in tr.segments]
        assert len(sources) == text.count("。") > 3
        assert all(re.fullmatch(r"[^。]+。[”」』]?", s) for s in sources), sources
        assert squash("".join(sources)) == squash(text)
        assert [s.seg_index for s in tr.segments] == list(range(len(sources)))
        assert all(s.target_text and s.source_tokens > 0 and s.target_tokens > 0 for s in tr.segments)


def test_arabic_article_round_trips(make: Any) -> None:
    row = samples_by_id()["ar-001"]
    [res] = make(translate=("title", "text"), to=("en",)).process([article("ar", row["text"], row["title"])])
    assert res.status == "ok" and res.detection.lang == "ar"
    tr = translation(res, "text", "en")
    assert squash("".join(s.source_text for s in tr.segments)) == squash(row["text"])
    assert len(tr.segments) == len(segment(row["text"], "ar")) > 4
    assert tr.text and len(tr.text.split("\n\n")) == len(row["text"].split("\n\n"))


def test_paragraphs_survive_translation(make: Any) -> None:
    row = samples_by_id()["en-001"]
    [res] = make(translate=("text",), to=("de",)).process([article("en", row["text"], row["title"])])
    tr = translation(res, "text", "de")
    assert tr.status == "ok" and tr.text
    paras = tr.text.split("\n\n")
    n_source = len([p for p in row["text"].split("\n\n") if p.strip()])
    assert n_source >= 4 and len(paras) == n_source
    expected = segment(row["text"], "en")
    assert [s.para_index for s in tr.segments] == [s.para_index for s in expected]
    for k, para in enumerate(paras):
        own = [s.target_text for s in tr.segments if s.para_index == k]
        assert para == " ".join(own)
        assert "\n" not in para


def test_segments_round_trip_for_every_sample_and_field(make: Any) -> None:
    to = "fr"  # the French samples take the identity path, all others the model
    rows = sample_articles()
    pipe = make(translate=("summary", "title", "text"), to=(to,))
    results = pipe.process([article(a["id"], a["text"], a["title"], row=i) for i, a in enumerate(rows)])
    assert len(results) == len(rows) == 27
    for res in results:
        assert res.status == "ok", (res.article.id, res.error)
        assert {t.field for t in res.translations} == {"summary", "title", "text"}
        for tr in res.translations:
            source = {"summary": res.summary, "title": res.article.title, "text": res.article.text}[tr.field]
            assert source and tr.status == "ok" and tr.text is not None
            joined = "".join(s.source_text for s in tr.segments)
            assert squash(joined) == squash(source), (res.article.id, tr.field)
            assert all(s.field == tr.field and s.target_lang == to for s in tr.segments)
            assert [s.seg_index for s in tr.segments] == list(range(len(tr.segments)))
            assert isinstance(tr.flags, tuple)
            if tr.model == "identity":
                assert res.detection.lang == to and tr.text == source


def test_sentences_are_batched_across_articles_with_proportional_limits(make: Any, pool: SpyPool,
                                                                        tiny: dict[str, Path]) -> None:
    rows = [a for a in sample_articles() if a["id"].startswith(("de-", "en-"))]
    pipe = make(translate=("text",), to=("fr",), translation=GenerationOptions(
        max_new_tokens=64, num_beams=1, no_repeat_ngram_size=0, batch_size=8))
    pipe.process([article(a["id"], a["text"], lang=a["id"][:2], row=i) for i, a in enumerate(rows)])
    calls = pool.of(tiny["m2m100"])
    owner = {s.text: a["id"] for a in rows for s in segment(a["text"], a["id"][:2])}
    n_sentences = len(owner)
    # Full batches: one model call per 8 sentences and language pair, not per article.
    assert len(calls) <= n_sentences // 8 + 2
    assert any(len({owner[t] for t in c.texts}) > 1 for c in calls)
    for c in calls:
        assert c.max_new_tokens == plan.translation_budget(max(c.tokens), 64)
    limits = {c.max_new_tokens or 0 for c in calls}
    assert len(limits) > 1 and min(limits) < 64  # short sentences get short limits


def test_sentence_over_the_limit_is_split_not_truncated(make: Any, pool: SpyPool, tiny: dict[str, Path]) -> None:
    clauses = [f"the council of district {k} asked for {k + 3} new buses and a bigger depot near the river"
               for k in range(60)]
    sentence = "Officials said that " + ", ".join(clauses) + "."
    text = f"The plan was approved on Monday.\n\n{sentence} The vote was close."
    pipe = make(translate=("text",), to=("fr",))
    [tr] = pipe.translate([text], "en", "fr")
    gen = pipe.pool.get(str(tiny["m2m100"]), "translation")
    limit = gen.max_input_tokens
    assert gen.count_tokens([sentence])[0] > limit
    assert tr.status == "ok" and len(tr.segments) == 3
    long_row = tr.segments[1]
    assert long_row.source_text == sentence and long_row.para_index == 1
    assert long_row.source_tokens == gen.count_tokens([sentence])[0]
    calls = pool.of(tiny["m2m100"])
    assert max(n for c in calls for n in c.tokens) <= limit
    pieces = [(t, o) for c in calls for t, o in zip(c.texts, c.outputs, strict=True) if squash(t) in squash(sentence)]
    pieces.sort(key=lambda p: squash(sentence).index(squash(p[0])))
    assert len(pieces) >= 2
    assert "".join(squash(t) for t, _ in pieces) == squash(sentence)
    assert long_row.target_text == " ".join(" ".join(o.split()) for _, o in pieces if o)
    assert tr.text == "\n\n".join([tr.segments[0].target_text, f"{long_row.target_text} {tr.segments[2].target_text}"])


class Words:
    """A stand-in summarizer that counts words as tokens and writes `length` words per summary."""

    name, family, max_input_tokens = "words", "words", 60
    revision: str | None = None

    def __init__(self, length: int) -> None:
        self.length = length
        self.inputs: list[str] = []

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) + 1 for t in texts]  # +1: the end token

    def generate_batch(self, texts: Sequence[str], options: GenerationOptions, **kw: Any) -> list[Output]:
        self.inputs.extend(texts)
        return [Output(" ".join(f"w{k}" for k in range(self.length)) + ".", self.length) for _ in texts]


class OnePool(ModelPool):
    def __init__(self, gen: Words) -> None:
        super().__init__()
        self.gen = gen

    def get(self, model: str, task: str) -> Generator:
        return self.gen


@pytest.mark.parametrize(("length", "truncated"), [(6, False), (45, True)])
def test_map_reduce_rounds_and_summaries_that_do_not_shrink(length: int, truncated: bool) -> None:
    gen = Words(length)
    text = " ".join(f"Sentence {k} of the report has eight words." for k in range(150))
    pipe = Pipeline(RunOptions(summary_model="words", translate=()), pool=OnePool(gen))
    [res] = pipe.process([article("a", text, lang="en")])
    assert res.status == "ok" and res.summary and res.n_chunks >= 20
    assert max(gen.count_tokens(gen.inputs)) <= gen.max_input_tokens
    assert res.truncated is truncated and ("truncated" in res.flags) is truncated
    if not truncated:
        # 20+ chunks -> 20+ short summaries -> a few chunks of them -> one: several rounds.
        assert len(gen.inputs) > res.n_chunks + 2


def test_translate_api_identity_and_empty(make: Any) -> None:
    pipe = make()
    [same] = pipe.translate(["Rain. More rain."], "en", "en")
    [empty, other] = pipe.translate([" ", "Regen. Mehr Regen."], "de", "en")
    assert same.model == "identity" and same.text == "Rain. More rain." and len(same.segments) == 2
    assert empty.status == "skipped" and not empty.segments
    assert other.status == "ok" and other.text and [s.source_text for s in other.segments] == ["Regen.", "Mehr Regen."]
