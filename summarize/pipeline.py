"""The pipeline: read articles -> detect -> plan -> generate -> align, shard by shard.

`Pipeline.run(articles)` yields one `ArticleResult` per article, in input order. Work is done
in shards of `RunOptions.shard_size` articles so memory stays flat however long the input;
within a shard every model call is batched across all articles (summary chunks, sentences).
No input is cut by the tokenizer: an article over the summarizer's limit is chunked on
sentence boundaries and summarized map-reduce (or cut at a word with `--long-input truncate`),
and a sentence over the translator's limit is split and its pieces' translations joined.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import guards, plan, routing
from .backends import Generator, ModelPool, Output
from .detect import Detector, make_detector, normalise_code, verify
from .errors import ModelError, SummarizeError, UnsupportedLanguageError
from .langcodes import language_name
from .options import GenerationOptions, RunOptions
from .prompts import Template, find_template
from .registry import Registry, Route
from .schema import ERROR, OK, SKIPPED, Article, ArticleResult, Detection, SegmentResult, TranslationResult
from .segment import reassemble, segment, split_long

log = logging.getLogger(__name__)

# Map-reduce rounds before the joined chunk summaries are cut to fit: each round divides the
# input by about (input limit / summary length), so six rounds cover any article.
MAX_REDUCE_ROUNDS = 6
IDENTITY = "identity"
# Room left for the target-language label a multi-target model takes in front of its input
# (">>de<< " is one to three tokens), which the backend adds after the pipeline has planned.
TARGET_LABEL_TOKENS = 4


def content_hash(article: Article) -> str:
    """Hash of what the model sees of an article (title and text), for resume."""
    h = hashlib.sha256()
    h.update((article.title or "").encode())
    h.update(b"\x00")
    h.update(article.text.encode())
    return h.hexdigest()[:16]


@dataclass
class _State:
    """Mutable per-article state while a shard is processed."""

    article: Article
    detection: Detection
    lang_source: str = "detected"
    status: str = OK
    error: str | None = None
    summary: str | None = None
    summary_model: str | None = None
    input_tokens: int = 0
    summary_tokens: int = 0
    n_chunks: int = 0
    truncated: bool = False
    flags: list[str] = field(default_factory=list)
    translations: list[TranslationResult] = field(default_factory=list)
    seconds: float = 0.0

    def fail(self, message: str) -> None:
        if self.status != ERROR:
            self.status, self.error = ERROR, message
        elif self.error and message not in self.error:
            self.error = f"{self.error}; {message}"


@dataclass
class _Translated:
    text: str
    model: str
    segments: list[SegmentResult]
    flags: list[str]


@dataclass
class _TReq:
    """One text to translate along a route of (model, source, target) steps."""

    text: str
    src: str
    tgt: str
    steps: tuple[tuple[str, str, str], ...]
    owners: list[_State]


@dataclass
class _Summary:
    text: str
    tokens: int
    input_tokens: int
    n_chunks: int
    truncated: bool
    model: str


class Pipeline:
    """Summarize and translate articles with the given options; reusable across runs.

    Models are loaded lazily through a `ModelPool` and kept for the pipeline's lifetime, so a
    notebook or an Airflow task can call `run` repeatedly without reloading them.
    """

    def __init__(self, options: RunOptions | None = None, *, pool: ModelPool | None = None,
                 registry: Registry | None = None, detector: Detector | None = None) -> None:
        self.options = options or RunOptions()
        self.pool = pool or ModelPool(
            device=self.options.device, backend=self.options.backend,
            compute_type=self.options.compute_type, max_loaded=self.options.max_loaded_models,
        )
        self.registry = registry or Registry.load(self.options.registry)
        self.detector = detector or make_detector(self.options.detect)
        self.models_used: dict[str, dict[str, Any]] = {}

    # ----------------------------------------------------------------- public

    def run(self, articles: Iterable[Article]) -> Iterator[ArticleResult]:
        """Yield one result per article, in input order, processing `shard_size` at a time."""
        shard: list[Article] = []
        for article in articles:
            shard.append(article)
            if len(shard) >= self.options.shard_size:
                yield from self.process(shard)
                shard = []
        if shard:
            yield from self.process(shard)

    def process(self, articles: Sequence[Article]) -> list[ArticleResult]:
        """Process one shard of articles and return their results in order."""
        states = [self._detect(a) for a in articles]
        live = [s for s in states if s.status == OK]
        self._summarize_all(live)
        self._translate_all([s for s in live if s.status == OK or s.summary is not None])
        return [self._result(s) for s in states]

    def detect(self, article: Article) -> Detection:
        """The article's language: the given one (trusted) or the detector's."""
        return self._detect(article).detection

    # ------------------------------------------------------------ detection

    def _detect(self, article: Article) -> _State:
        t0 = time.perf_counter()
        detection = routing.detection_of(article, self.detector)
        state = _State(article, detection, lang_source="given" if article.lang else "detected", flags=list(article.flags))
        if article.lang and self.options.detect.verify_lang:
            seen = self.detector.detect(article.text, article.title)
            if verify(detection.lang, seen, self.options.detect):
                state.flags.append(f"lang_mismatch:{seen.lang}")
        reason = routing.skip_reason(article, detection)
        if reason:
            state.status, state.error = SKIPPED, reason
        state.seconds += time.perf_counter() - t0
        return state

    def _model(self, model: str, task: str) -> Generator:
        gen = self.pool.get(model, task)
        if model not in self.models_used:
            info = self.registry.get(model)
            licence = info.licence if info else "unknown"
            self.models_used[model] = {
                "task": task, "family": gen.family, "revision": gen.revision, "licence": licence,
                "noncommercial": bool(info and info.noncommercial),
            }
            if info is None:
                log.warning("model %s is not in the registry: check its licence yourself", model)
            elif info.noncommercial:
                log.warning("model %s is licensed %s: non-commercial use only", model, licence)
        return gen

    def _generate(
        self,
        gen: Generator,
        texts: Sequence[str],
        owners: Sequence[list[_State]],
        options: GenerationOptions,
        *,
        sizes: Sequence[int] | None = None,
        budget: Callable[[int], int] | None = None,
        source_lang: str | None = None,
        target_lang: str | None = None,
    ) -> list[Output | None]:
        """Generate for every text: deduplicated, length-sorted, batched, restored to order.

        `sizes` are the texts' token counts when the caller already has them (else they are
        counted); `budget` turns the longest size in a batch into that batch's new-token limit.
        A batch that raises is retried item by item, so one bad input fails only the articles
        that own it (`owners[i]`), which get the error; its output is None.
        """
        distinct, where = plan.unique(texts)
        if sizes is None:
            counts = gen.count_tokens(distinct)
        else:
            counts = [0] * len(distinct)
            for i, j in enumerate(where):
                counts[j] = sizes[i]
        dist_owners: list[list[_State]] = [[] for _ in distinct]
        for i, j in enumerate(where):
            dist_owners[j].extend(owners[i])
        results: list[Output | None] = [None] * len(distinct)
        batches = plan.make_batches(counts, batch_size=options.batch_size, max_batch_tokens=options.max_batch_tokens)
        for batch in batches:
            limit = budget(max(counts[i] for i in batch)) if budget else None
            t0 = time.perf_counter()
            try:
                outs = gen.generate_batch([distinct[i] for i in batch], options, max_new_tokens=limit,
                                          source_lang=source_lang, target_lang=target_lang)
                for i, out in zip(batch, outs, strict=True):
                    results[i] = out
            except (MemoryError, KeyboardInterrupt):
                raise
            except Exception as exc:
                if isinstance(exc, ModelError):
                    raise
                log.warning("batch of %d failed (%s); retrying one by one", len(batch), exc)
                for i in batch:
                    try:
                        results[i] = gen.generate_batch([distinct[i]], options, max_new_tokens=limit,
                                                        source_lang=source_lang, target_lang=target_lang)[0]
                    except Exception as one:
                        for s in dist_owners[i]:
                            s.fail(f"{gen.name}: {type(one).__name__}: {one}")
            spent = time.perf_counter() - t0
            owners_in_batch = [s for i in batch for s in dist_owners[i]]
            for s in owners_in_batch:
                s.seconds += spent / max(1, len(owners_in_batch))
        return [results[j] for j in where]

    @staticmethod
    def _template_tokens(gen: Generator, render: Callable[[str], str]) -> int:
        """Tokens a prompt template adds to a text (special tokens are in both counts, so they cancel)."""
        with_template, bare = gen.count_tokens([render(""), ""])
        return max(0, with_template - bare)

    # ---------------------------------------------------------- summarization

    def _summary_route(self, state: _State) -> Route:
        # The same decision `summarize models plan` shows, so the plan matches the run.
        return routing.summary_route(state.detection.lang, self.options, self.registry)

    def _summarize_all(self, states: list[_State]) -> None:
        by_model: dict[str, list[_State]] = defaultdict(list)
        pivots: list[tuple[_State, Route]] = []
        for s in states:
            try:
                route = self._summary_route(s)
            except UnsupportedLanguageError as exc:
                s.fail(str(exc))
                continue
            if len(route.steps) == 1:
                by_model[route.steps[0].model.id].append(s)
            else:
                pivots.append((s, route))
        for model, group in by_model.items():
            texts = [self._summary_input(s.article) for s in group]
            langs = [s.detection.lang for s in group]
            out = self._summarize_texts(model, texts, langs, [[s] for s in group])
            for s, res, text in zip(group, out, texts, strict=True):
                self._apply_summary(s, res, text)
        if pivots:
            self._summarize_pivot(pivots)

    @staticmethod
    def _summary_input(article: Article) -> str:
        # The title is the densest statement of the story; models trained on news expect it first.
        if article.title and article.title.strip():
            return f"{article.title.strip()}\n\n{article.text.strip()}"
        return article.text.strip()

    def _apply_summary(self, s: _State, res: _Summary | None, source: str) -> None:
        if res is None:
            if s.status != ERROR:
                s.fail("summary failed")
            return
        s.summary, s.summary_model = res.text, res.model
        s.summary_tokens, s.input_tokens = res.tokens, res.input_tokens
        # Text cut while reading (`--max-chars`) was dropped too, even if the rest fit the model.
        s.n_chunks, s.truncated = res.n_chunks, res.truncated or "input_truncated" in s.article.flags
        if s.truncated:
            s.flags.append("truncated")
        s.flags.extend(guards.check(res.text, source, expected_lang=s.detection.lang,
                                    detect=self._detect_short, ratio_bounds=guards.SUMMARY_RATIO))

    def _detect_short(self, text: str) -> tuple[str, float]:
        d = self.detector.detect_short(text)
        return d.lang, d.score

    def _template(self, gen: Generator, task: str) -> Template | None:
        return find_template(self.options.prompt if task == "summarize" else None, family=gen.family, task=task)

    def _summary_renderer(self, gen: Generator) -> Callable[[str, str], str]:
        template = self._template(gen, "summarize")

        def render(text: str, lang: str) -> str:
            if template is None:
                return text
            name = language_name(lang) if lang != "und" else "the same language"
            return template.render(text=text, lang=lang, lang_name=name)

        return render

    def _summarize_texts(self, model: str, texts: list[str], langs: list[str],
                         owners: list[list[_State]]) -> list[_Summary | None]:
        """Summaries of `texts` with one model: chunked map-reduce for inputs over its limit.

        Each round summarizes every pending piece of every text in one batched call; a text whose
        pieces gave several summaries goes round again with the joined summaries as its input,
        until one summary is left. `--long-input truncate` instead keeps the longest prefix that
        fits, cut here at a word so that a prompt template around the text stays whole.
        """
        gen = self._model(model, "summarization")
        render = self._summary_renderer(gen)
        limits = {lang: max(16, gen.max_input_tokens - self._template_tokens(gen, partial_lang(render, lang)))
                  for lang in set(langs)}
        totals = gen.count_tokens(texts)
        pieces: list[list[str]] = []  # the current inputs of text i, one per chunk
        truncated = [False] * len(texts)
        for i, (text, lang, total) in enumerate(zip(texts, langs, totals, strict=True)):
            if total <= limits[lang]:
                pieces.append([text])
            elif self.options.long_input == "truncate":
                pieces.append([plan.fit_prefix(text, limits[lang], self._counter(gen))])
                truncated[i] = True
            else:
                pieces.append(self._chunk(gen, text, lang, limits[lang]))
        n_chunks = [len(p) for p in pieces]
        finals: list[Output | None] = [None] * len(texts)
        pending = list(range(len(texts)))
        for round_ in range(MAX_REDUCE_ROUNDS):
            flat = [(i, c) for i in pending for c in pieces[i]]
            outs = self._generate(gen, [render(c, langs[i]) for i, c in flat], [owners[i] for i, _ in flat],
                                  self.options.summary)
            collected: dict[int, list[Output | None]] = defaultdict(list)
            for (i, _), out in zip(flat, outs, strict=True):
                collected[i].append(out)
            still = []
            for i in pending:
                got = collected[i]
                if any(o is None for o in got):
                    continue  # the owners already carry the error
                done = [o for o in got if o is not None]
                if len(done) == 1:
                    finals[i] = done[0]
                    continue
                last = round_ >= MAX_REDUCE_ROUNDS - 2
                pieces[i], cut = self._reduce_input(gen, [o.text for o in done], langs[i], limits[langs[i]], last=last)
                truncated[i] = truncated[i] or cut
                still.append(i)
            pending = still
            if not pending:
                break
        return [
            None if out is None else _Summary(out.text, out.tokens, totals[i], n_chunks[i], truncated[i], model)
            for i, out in enumerate(finals)
        ]

    def _reduce_input(self, gen: Generator, summaries: list[str], lang: str, limit: int,
                      *, last: bool) -> tuple[list[str], bool]:
        """The next round's pieces for a text whose chunks gave `summaries`, and whether any was cut.

        Chunk summaries that do not shrink (a model that always writes `max_new_tokens` tokens,
        close to its input limit) would never reduce to one; when a round makes no progress, or
        the rounds run out, the joined summaries are cut to fit and the text counts as truncated.
        """
        joined = "\n".join(summaries)
        if gen.count_tokens([joined])[0] <= limit:
            return [joined], False
        chunks = self._chunk(gen, joined, lang, limit)
        if len(chunks) < len(summaries) and not last:
            return chunks, False
        return [plan.fit_prefix(joined, limit, self._counter(gen))], True

    @staticmethod
    def _counter(gen: Generator) -> Callable[[str], int]:
        return lambda text: gen.count_tokens([text])[0]

    def _chunk(self, gen: Generator, text: str, lang: str, limit: int) -> list[str]:
        """Sentence-bounded chunks of at most `limit` tokens each; a sentence over the limit is split.

        Sentences are packed greedily in order (paragraph breaks kept inside a chunk). Each
        sentence's count includes the special tokens once, so they are taken off before packing;
        and because a tokenizer need not be additive across a join, every chunk is counted
        again and halved until it fits.
        """
        units: list[tuple[int, str]] = []
        sentences = segment(text, lang)
        for sent, n in zip(sentences, gen.count_tokens([s.text for s in sentences]), strict=True):
            if n > limit:
                units.extend((sent.para_index, p) for p in split_long(sent.text, limit, self._counter(gen)))
            else:
                units.append((sent.para_index, sent.text))
        special = gen.count_tokens([""])[0]
        sizes = [n - special for n in gen.count_tokens([u for _, u in units])]
        chunks: list[str] = []
        for idx in plan.pack_chunks(sizes, limit - special):
            chunks.extend(self._fit_chunk(gen, [units[j] for j in idx], lang, limit))
        return chunks

    def _fit_chunk(self, gen: Generator, units: list[tuple[int, str]], lang: str, limit: int) -> list[str]:
        text = reassemble(units, lang=lang)
        if len(units) == 1 or gen.count_tokens([text])[0] <= limit:
            return [text]
        half = len(units) // 2
        return self._fit_chunk(gen, units[:half], lang, limit) + self._fit_chunk(gen, units[half:], lang, limit)

    def _summarize_pivot(self, pivots: list[tuple[_State, Route]]) -> None:
        """Languages no summarizer covers: translate to the pivot, summarize, translate back."""
        first = [(s, r.steps[0]) for s, r in pivots]
        inward = self._translate_texts([
            _TReq(s.article.text, step.source_lang, step.target_lang,
                  ((step.model.id, step.source_lang, step.target_lang),), [s])
            for s, step in first
        ])
        by_model: dict[str, list[tuple[_State, Route, str]]] = defaultdict(list)
        for (s, route), tr in zip(pivots, inward, strict=True):
            if tr is not None:
                by_model[route.steps[1].model.id].append((s, route, tr.text))
        back_requests = []
        for model, group in by_model.items():
            outs = self._summarize_texts(model, [t for _, _, t in group], [r.steps[1].source_lang for _, r, _ in group],
                                         [[s] for s, _, _ in group])
            for (s, route, pivot_text), res in zip(group, outs, strict=True):
                if res is None:
                    s.fail("pivot summary failed")
                    continue
                s.input_tokens, s.n_chunks, s.truncated = res.input_tokens, res.n_chunks, res.truncated
                if res.truncated:
                    s.flags.append("truncated")
                s.flags.append(f"pivot:{route.steps[1].source_lang}")
                back_requests.append((s, route, res, pivot_text))
        back = self._translate_texts([
            _TReq(res.text, r.steps[2].source_lang, r.steps[2].target_lang,
                  ((r.steps[2].model.id, r.steps[2].source_lang, r.steps[2].target_lang),), [s])
            for s, r, res, _ in back_requests
        ])
        for (s, route, _res, _), tr in zip(back_requests, back, strict=True):
            if tr is None:
                continue
            s.summary = tr.text
            s.summary_tokens = sum(seg.target_tokens for seg in tr.segments)
            s.summary_model = " > ".join(step.model.id for step in route.steps)
            s.flags.extend(guards.check(tr.text, s.article.text, expected_lang=s.detection.lang,
                                        detect=self._detect_short, ratio_bounds=guards.SUMMARY_RATIO))

    # ------------------------------------------------------------ translation

    def translate(self, texts: Sequence[str], source_lang: str, target_lang: str,
                  *, field: str = "text") -> list[TranslationResult]:
        """Translate texts sentence by sentence, all of them batched together; one result per text.

        The in-memory counterpart of `--translate`: each result has the translation (paragraph
        breaks kept), its flags and its sentence alignment (`segments`). A text that fails gets
        a result with status `error` instead of raising.
        """
        src, tgt = normalise_code(source_lang), normalise_code(target_lang)
        states = [_State(Article(str(i), i, "-", i + 1, t, lang=src), Detection(src, 1.0, ((src, 1.0),), "given"))
                  for i, t in enumerate(texts)]
        out: list[TranslationResult | None] = [None] * len(texts)
        requests: list[_TReq] = []
        keys: list[int] = []
        for i, (s, text) in enumerate(zip(states, texts, strict=True)):
            if not text.strip():
                out[i] = TranslationResult(field, src, tgt, text, None, SKIPPED, "empty text")
                continue
            try:
                steps = self._translation_steps(src, tgt)
            except UnsupportedLanguageError as exc:
                out[i] = TranslationResult(field, src, tgt, None, None, ERROR, str(exc))
                continue
            if not steps:
                out[i] = self._identity(field, src, text)
                continue
            requests.append(_TReq(text, src, tgt, steps, [s]))
            keys.append(i)
        for i, req, tr in zip(keys, requests, self._translate_texts(requests), strict=True):
            out[i] = self._translation_result(field, req, tr, states[i])
        return [r for r in out if r is not None]

    def _translation_steps(self, src: str, tgt: str) -> tuple[tuple[str, str, str], ...]:
        """The (model, source, target) steps of the pair's route; empty for the identity route."""
        route = routing.translation_route(src, tgt, self.options, self.registry)
        if route.is_identity:
            return ()
        return tuple((step.model.id, step.source_lang, step.target_lang) for step in route.steps)

    def _translate_all(self, states: list[_State]) -> None:
        """Every field of every article into every target language, in one batched pass per model."""
        requests: list[_TReq] = []
        keys: list[tuple[_State, str]] = []
        for s in states:
            src = s.detection.lang
            for fld in self.options.translate:
                text = s.summary if fld == "summary" else s.article.title if fld == "title" else s.article.text
                if not text or not text.strip():
                    continue
                for tgt in self.options.to:
                    try:
                        steps = self._translation_steps(src, tgt)
                    except UnsupportedLanguageError as exc:
                        s.translations.append(TranslationResult(fld, src, tgt, None, None, ERROR, str(exc)))
                        s.fail(f"{fld} -> {tgt}: {exc}")
                        continue
                    if not steps:
                        s.translations.append(self._identity(fld, src, text))
                        continue
                    requests.append(_TReq(text, src, tgt, steps, [s]))
                    keys.append((s, fld))
        outs = self._translate_texts(requests)
        for (s, fld), req, tr in zip(keys, requests, outs, strict=True):
            result = self._translation_result(fld, req, tr, s)
            s.translations.append(result)
            if result.status == ERROR:
                s.fail(f"{fld} -> {req.tgt} failed")

    @staticmethod
    def _translation_result(fld: str, req: _TReq, tr: _Translated | None, owner: _State) -> TranslationResult:
        if tr is None:
            model = " > ".join(m for m, _, _ in req.steps)
            return TranslationResult(fld, req.src, req.tgt, None, model, ERROR, owner.error or "translation failed")
        return TranslationResult(fld, req.src, req.tgt, tr.text, tr.model, OK, None, tuple(tr.flags),
                                 tuple(replace_field(tr.segments, fld)))

    @staticmethod
    def _identity(fld: str, lang: str, text: str) -> TranslationResult:
        segs = tuple(
            SegmentResult(fld, lang, s.para_index, s.seg_index, s.text, s.text, 0, 0) for s in segment(text, lang)
        )
        return TranslationResult(fld, lang, lang, text, IDENTITY, OK, None, (), segs)

    def _translate_texts(self, requests: Sequence[_TReq]) -> list[_Translated | None]:
        """Translate texts sentence by sentence, batched across all requests that share a model and pair.

        Every sentence of every request (all articles and fields of the shard) with the same
        (model, source, target) step goes to the model in one length-sorted, batched call, so
        batches are full and evenly padded however short each article is. Each sentence is one
        unit through every step of its route (a pivot route has two), so the alignment of source
        and target sentences survives pivoting; the translations are reassembled per request
        with the source's paragraph breaks.
        """
        sentences = [segment(r.text, r.src) for r in requests]
        units = [(k, si) for k, sents in enumerate(sentences) for si in range(len(sents))]
        current: list[str] = [sentences[k][si].text for k, si in units]
        src_tokens = [0] * len(units)
        tgt_tokens = [0] * len(units)
        failed: set[int] = set()
        depth = max((len(r.steps) for r in requests), default=0)
        for step in range(depth):
            groups: dict[tuple[str, str, str], list[int]] = defaultdict(list)
            for u, (k, _) in enumerate(units):
                if k not in failed and step < len(requests[k].steps):
                    groups[requests[k].steps[step]].append(u)
            for (model, src, tgt), members in groups.items():
                owners = [requests[units[u][0]].owners for u in members]
                try:
                    gen = self._model(model, "translation")
                    outs = self._translate_units(gen, src, tgt, [current[u] for u in members], owners)
                except UnsupportedLanguageError as exc:
                    for o in owners:
                        for s in o:
                            s.fail(f"{src} -> {tgt}: {exc}")
                    failed.update(units[u][0] for u in members)
                    continue
                for u, out in zip(members, outs, strict=True):
                    if out is None:
                        failed.add(units[u][0])
                        continue
                    current[u] = out[0]
                    if step == 0:
                        src_tokens[u] = out[1]
                    tgt_tokens[u] = out[2]
        by_request: dict[int, list[int]] = defaultdict(list)
        for u, (k, _) in enumerate(units):
            by_request[k].append(u)
        results: list[_Translated | None] = [None] * len(requests)
        for k, req in enumerate(requests):
            if k in failed:
                continue
            segs = [
                SegmentResult("", req.tgt, sent.para_index, sent.seg_index, sent.text, current[u],
                              src_tokens[u], tgt_tokens[u])
                for u in by_request[k]
                for sent in [sentences[k][units[u][1]]]
            ]
            results[k] = self._assemble(req, segs)
        return results

    def _assemble(self, req: _TReq, segs: list[SegmentResult]) -> _Translated:
        """One request's translation from its sentence rows: paragraphs restored, guards applied."""
        text = reassemble([(sg.para_index, sg.target_text) for sg in segs], lang=req.tgt)
        flags = guards.check(text, req.text, expected_lang=req.tgt, detect=self._detect_short,
                             ratio_bounds=guards.TRANSLATION_RATIO)
        if guards.EMPTY_OUTPUT not in flags and any(not sg.target_text for sg in segs):
            flags.append(guards.EMPTY_OUTPUT)  # a sentence vanished from the translation
        return _Translated(text, " > ".join(m for m, _, _ in req.steps), segs, flags)

    def _translation_renderer(self, gen: Generator, src: str, tgt: str) -> Callable[[str], str]:
        template = self._template(gen, "translate")

        def render(text: str) -> str:
            if template is None:
                return text
            return template.render(text=text, source_lang=src, target_lang=tgt,
                                   source_name=language_name(src), target_name=language_name(tgt))

        return render

    def _translate_units(self, gen: Generator, src: str, tgt: str, texts: list[str],
                         owners: list[list[_State]]) -> list[tuple[str, int, int] | None]:
        """Translate sentences with one model: (translation, source tokens, target tokens) each.

        Each batch's new-token limit is proportional to its longest sentence
        (`plan.translation_budget`); batches are length-sorted, so that is close to each
        sentence's own, and no sentence is cut by a fixed limit. A sentence longer than the model's input limit is split into
        pieces that fit (`segment.split_long`), translated piece by piece and joined, rather than
        truncated; its row keeps the whole sentence and its token count.
        """
        render = self._translation_renderer(gen, src, tgt)
        extra = self._template_tokens(gen, render)
        # The backend puts a multi-target model's label (">>de<< ") in front of the input after
        # this planning, so room is left for it.
        limit = max(8, gen.max_input_tokens - extra - TARGET_LABEL_TOKENS)
        counts = gen.count_tokens(texts)
        pieces: list[tuple[int, str, int]] = []  # (sentence, piece, tokens)
        for i, (text, n) in enumerate(zip(texts, counts, strict=True)):
            if n <= limit:
                pieces.append((i, text, n))
                continue
            parts = split_long(text, limit, self._counter(gen))
            pieces.extend((i, p, c) for p, c in zip(parts, gen.count_tokens(parts), strict=True))
        cap = self.options.translation.max_new_tokens
        outs = self._generate(
            gen, [render(p) for _, p, _ in pieces], [owners[i] for i, _, _ in pieces], self.options.translation,
            sizes=[c + extra for _, _, c in pieces], budget=lambda n: plan.translation_budget(n - extra, cap),
            source_lang=src, target_lang=tgt,
        )
        joined: dict[int, list[Output]] = defaultdict(list)
        bad: set[int] = set()
        for (i, _, _), out in zip(pieces, outs, strict=True):
            if out is None:
                bad.add(i)
            else:
                joined[i].append(out)
        results: list[tuple[str, int, int] | None] = []
        for i, n in enumerate(counts):
            if i in bad:
                results.append(None)
                continue
            # One line per sentence: the paragraph structure comes from the source, not the model.
            line = reassemble([(0, " ".join(o.text.split())) for o in joined[i]], lang=tgt)
            results.append((line, n, sum(o.tokens for o in joined[i])))
        return results

    # ---------------------------------------------------------------- results

    def _result(self, s: _State) -> ArticleResult:
        return ArticleResult(
            article=s.article, detection=s.detection, summary=s.summary, summary_model=s.summary_model,
            input_tokens=s.input_tokens, summary_tokens=s.summary_tokens, n_chunks=s.n_chunks,
            truncated=s.truncated, status=s.status, error=s.error, duration_ms=round(s.seconds * 1000, 3),
            flags=tuple(dict.fromkeys(s.flags)), translations=tuple(s.translations),
            lang_source=s.lang_source, content_hash=content_hash(s.article),
        )


def partial_lang(render: Callable[[str, str], str], lang: str) -> Callable[[str], str]:
    """A summary renderer with its language fixed."""
    return lambda text: render(text, lang)


def replace_field(segments: Iterable[SegmentResult], fld: str) -> Iterator[SegmentResult]:
    """The same segments, labelled with the field they belong to."""
    for sg in segments:
        yield SegmentResult(fld, sg.target_lang, sg.para_index, sg.seg_index, sg.source_text, sg.target_text,
                            sg.source_tokens, sg.target_tokens)


__all__ = ["Pipeline", "SummarizeError", "content_hash"]
