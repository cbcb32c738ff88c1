"""The pipeline: read articles -> detect -> plan -> generate -> align, shard by shard.

`Pipeline.run(articles)` yields one `ArticleResult` per article, in input order. Work is done
in shards of `RunOptions.shard_size` articles so memory stays flat however long the input;
within a shard every model call is batched across all articles (summary chunks, sentences).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from . import guards, plan
from .backends import Generator, ModelPool, Output
from .detect import Detector, make_detector, normalise_code, verify
from .errors import ModelError, SummarizeError, UnsupportedLanguageError
from .options import GenerationOptions, RunOptions
from .prompts import Template, find_template
from .registry import Registry, Route
from .schema import ERROR, OK, SKIPPED, Article, ArticleResult, Detection, SegmentResult, TranslationResult
from .segment import NO_SPACE_LANGS, reassemble, segment, split_long

log = logging.getLogger(__name__)

MAX_REDUCE_ROUNDS = 6
IDENTITY = "identity"


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
        self.models_used: dict[str, dict[str, str | None]] = {}

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
        flags = list(article.flags)
        if article.lang:
            given = normalise_code(article.lang)
            detection = Detection(given, 1.0, ((given, 1.0),), "given")
            state = _State(article, detection, lang_source="given", flags=flags)
            if self.options.detect.verify_lang:
                seen = self.detector.detect(article.text, article.title)
                if verify(given, seen, self.options.detect):
                    state.flags.append(f"lang_mismatch:{seen.lang}")
        else:
            state = _State(article, self.detector.detect(article.text, article.title), flags=flags)
        if not article.text.strip():
            state.status, state.error = SKIPPED, "empty text"
        elif state.detection.reason in ("empty", "no_letters") and not article.lang:
            state.status, state.error = SKIPPED, f"nothing to summarize ({state.detection.reason})"
        state.seconds += time.perf_counter() - t0
        return state

    # ------------------------------------------------------------ generation

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
        budget: Callable[[int], int] | None = None,
        source_lang: str | None = None,
        target_lang: str | None = None,
    ) -> list[Output | None]:
        """Generate for every text: deduplicated, length-sorted, batched, restored to order.

        A batch that raises is retried item by item, so one bad input fails only the articles
        that own it (`owners[i]`), which get the error; its output is None.
        """
        distinct, where = plan.unique(texts)
        counts = gen.count_tokens(distinct)
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

    # ---------------------------------------------------------- summarization

    def _summary_route(self, state: _State) -> Route:
        lang = state.detection.lang
        if self.options.summary_model and lang == "und":
            # A model the user forces is trusted with text of unknown language too.
            lang = "en"
        return self.registry.summary_route(
            lang, allow_noncommercial=self.options.allow_noncommercial, force_model=self.options.summary_model
        )

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
        s.n_chunks, s.truncated = res.n_chunks, res.truncated
        if res.truncated:
            s.flags.append("truncated")
        s.flags.extend(guards.check(res.text, source, expected_lang=s.detection.lang,
                                    detect=self._detect_short, ratio_bounds=guards.SUMMARY_RATIO))

    def _detect_short(self, text: str) -> tuple[str, float]:
        d = self.detector.detect_short(text)
        return d.lang, d.score

    def _template(self, gen: Generator, task: str) -> Template | None:
        return find_template(self.options.prompt if task == "summarize" else None, family=gen.family, task=task)

    def _summarize_texts(self, model: str, texts: list[str], langs: list[str],
                         owners: list[list[_State]]) -> list[_Summary | None]:
        """Summaries of `texts` with one model: chunked map-reduce for inputs over its limit."""
        gen = self._model(model, "summarization")
        template = self._template(gen, "summarize")
        opts = self.options.summary

        def render(text: str, lang: str) -> str:
            if template is None:
                return text
            from .langcodes import language_name

            return template.render(text=text, lang=lang, lang_name=language_name(lang) if lang != "und" else "the same language")

        overhead = gen.count_tokens([render("", "en")])[0] if template else 0
        limit = max(16, gen.max_input_tokens - overhead)
        results: list[_Summary | None] = [None] * len(texts)
        # pieces[i]: the current texts to summarize for input i (one per chunk).
        pieces: list[list[str]] = []
        input_tokens: list[int] = []
        truncated = [False] * len(texts)
        for i, (text, lang) in enumerate(zip(texts, langs, strict=True)):
            total = gen.count_tokens([text])[0]
            input_tokens.append(total)
            if total <= limit:
                pieces.append([text])
            elif self.options.long_input == "truncate":
                pieces.append([text])
                truncated[i] = True
            else:
                pieces.append(self._chunk(gen, text, lang, limit))
        n_chunks = [len(p) for p in pieces]
        finals: list[Output | None] = [None] * len(texts)
        pending = list(range(len(texts)))
        for _round in range(MAX_REDUCE_ROUNDS):
            flat = [(i, c) for i in pending for c in pieces[i]]
            outs = self._generate(gen, [render(c, langs[i]) for i, c in flat], [owners[i] for i, _ in flat], opts)
            collected: dict[int, list[Output | None]] = defaultdict(list)
            for (i, _), out in zip(flat, outs, strict=True):
                collected[i].append(out)
            still = []
            for i in pending:
                got = collected[i]
                if any(o is None for o in got):
                    continue
                done = [o for o in got if o is not None]
                if len(done) == 1:
                    finals[i] = done[0]
                    continue
                joined = "\n".join(o.text for o in done)
                if gen.count_tokens([joined])[0] <= limit:
                    pieces[i] = [joined]
                else:
                    pieces[i] = self._chunk(gen, joined, langs[i], limit)
                still.append(i)
            pending = still
            if not pending:
                break
        for i in pending:  # rounds exhausted: keep the reduce step's input, truncated
            for s in owners[i]:
                s.fail("summary did not converge within the reduce rounds")
        for i, out in enumerate(finals):
            if out is not None:
                results[i] = _Summary(out.text, out.tokens, input_tokens[i], n_chunks[i], truncated[i], model)
        return results

    def _chunk(self, gen: Generator, text: str, lang: str, limit: int) -> list[str]:
        """Sentence-bounded chunks of at most `limit` tokens; over-long sentences are split."""
        units: list[str] = []
        for sent in segment(text, lang):
            if gen.count_tokens([sent.text])[0] > limit:
                units.extend(split_long(sent.text, limit, lambda t: gen.count_tokens([t])[0]))
            else:
                units.append(sent.text)
        counts = gen.count_tokens(units)
        sep = "" if lang in NO_SPACE_LANGS else " "
        return [sep.join(units[j] for j in idx) for idx in plan.pack_chunks(counts, limit)]

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

    def _translation_steps(self, src: str, tgt: str) -> tuple[tuple[str, str, str], ...]:
        route = self.registry.translation_route(
            src, tgt, allow_noncommercial=self.options.allow_noncommercial, force_model=self.options.translation_model
        )
        return tuple((step.model.id, step.source_lang, step.target_lang) for step in route.steps)

    def _translate_all(self, states: list[_State]) -> None:
        requests: list[_TReq] = []
        keys: list[tuple[_State, str]] = []
        for s in states:
            src = s.detection.lang
            for fld in self.options.translate:
                text = s.summary if fld == "summary" else s.article.title if fld == "title" else s.article.text
                if not text or not text.strip():
                    continue
                for tgt in self.options.to:
                    if src == tgt:
                        s.translations.append(self._identity(fld, src, text))
                        continue
                    try:
                        if src == "und":
                            raise UnsupportedLanguageError("source language unknown (und); give it with --lang-col")
                        steps = self._translation_steps(src, tgt)
                    except UnsupportedLanguageError as exc:
                        s.translations.append(TranslationResult(fld, src, tgt, None, None, ERROR, str(exc)))
                        s.fail(f"{fld} -> {tgt}: {exc}")
                        continue
                    requests.append(_TReq(text, src, tgt, steps, [s]))
                    keys.append((s, fld))
        outs = self._translate_texts(requests)
        for (s, fld), req, tr in zip(keys, requests, outs, strict=True):
            model = " > ".join(m for m, _, _ in req.steps)
            if tr is None:
                s.translations.append(TranslationResult(fld, req.src, req.tgt, None, model, ERROR, s.error or "translation failed"))
                s.fail(f"{fld} -> {req.tgt} failed")
                continue
            s.translations.append(TranslationResult(fld, req.src, req.tgt, tr.text, tr.model, OK, None,
                                                    tuple(tr.flags), tuple(replace_field(tr.segments, fld))))

    @staticmethod
    def _identity(fld: str, lang: str, text: str) -> TranslationResult:
        segs = tuple(
            SegmentResult(fld, lang, s.para_index, s.seg_index, s.text, s.text, 0, 0) for s in segment(text, lang)
        )
        return TranslationResult(fld, lang, lang, text, IDENTITY, OK, None, (), segs)

    def _translate_texts(self, requests: Sequence[_TReq]) -> list[_Translated | None]:
        """Translate texts sentence by sentence, batched across all requests that share a model and pair.

        Each sentence is one unit through every step of its route (a pivot route has two), so
        the alignment of source and target sentences survives pivoting.
        """
        sentences = [segment(r.text, r.src) for r in requests]
        units = [(k, si) for k, sents in enumerate(sentences) for si in range(len(sents))]
        current: list[str | None] = [sentences[k][si].text for k, si in units]
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
                    outs = self._translate_units(gen, src, tgt, [current[u] or "" for u in members], owners)
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
        results: list[_Translated | None] = [None] * len(requests)
        by_request: dict[int, list[int]] = defaultdict(list)
        for u, (k, _) in enumerate(units):
            by_request[k].append(u)
        for k, req in enumerate(requests):
            if k in failed:
                continue
            segs = [
                SegmentResult("", req.tgt, sentences[k][si].para_index, sentences[k][si].seg_index,
                              sentences[k][si].text, current[u] or "", src_tokens[u], tgt_tokens[u])
                for u in by_request[k]
                for si in [units[u][1]]
            ]
            text = reassemble([(sg.para_index, sg.target_text) for sg in segs], lang=req.tgt)
            flags = guards.check(text, req.text, expected_lang=req.tgt, detect=self._detect_short,
                                 ratio_bounds=guards.TRANSLATION_RATIO)
            results[k] = _Translated(text, " > ".join(m for m, _, _ in req.steps), segs, flags)
        return results

    def _translate_units(self, gen: Generator, src: str, tgt: str, texts: list[str],
                         owners: list[list[_State]]) -> list[tuple[str, int, int] | None]:
        """Translate sentences with one model: (translation, source tokens, target tokens) each.

        A sentence longer than the model's input limit is split into pieces that fit, translated
        piece by piece and joined, rather than truncated.
        """
        template = self._template(gen, "translate")
        from .langcodes import language_name

        def render(text: str) -> str:
            if template is None:
                return text
            return template.render(text=text, source_lang=src, target_lang=tgt,
                                   source_name=language_name(src), target_name=language_name(tgt))

        overhead = gen.count_tokens([render("")])[0] if template else 0
        limit = max(8, gen.max_input_tokens - overhead - 4)
        pieces: list[tuple[int, str]] = []
        counts = gen.count_tokens(texts)
        for i, (text, n) in enumerate(zip(texts, counts, strict=True)):
            if n + overhead > limit:
                pieces.extend((i, p) for p in split_long(text, limit, lambda t: gen.count_tokens([render(t)])[0]))
            else:
                pieces.append((i, text))
        cap = self.options.translation.max_new_tokens
        outs = self._generate(
            gen, [render(p) for _, p in pieces], [owners[i] for i, _ in pieces], self.options.translation,
            budget=lambda n: plan.translation_budget(n, cap), source_lang=src, target_lang=tgt,
        )
        piece_counts = gen.count_tokens([p for _, p in pieces])
        joined: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
        bad: set[int] = set()
        for (i, _), out, n in zip(pieces, outs, piece_counts, strict=True):
            if out is None:
                bad.add(i)
            else:
                joined[i].append((out.text, n, out.tokens))
        sep = "" if tgt in NO_SPACE_LANGS else " "
        return [
            None if i in bad else (sep.join(p[0] for p in joined[i] if p[0]), sum(p[1] for p in joined[i]),
                                   sum(p[2] for p in joined[i]))
            for i in range(len(texts))
        ]

    # ---------------------------------------------------------------- results

    def _result(self, s: _State) -> ArticleResult:
        return ArticleResult(
            article=s.article, detection=s.detection, summary=s.summary, summary_model=s.summary_model,
            input_tokens=s.input_tokens, summary_tokens=s.summary_tokens, n_chunks=s.n_chunks,
            truncated=s.truncated, status=s.status, error=s.error, duration_ms=round(s.seconds * 1000, 3),
            flags=tuple(dict.fromkeys(s.flags)), translations=tuple(s.translations),
            lang_source=s.lang_source, content_hash=content_hash(s.article),
        )


def replace_field(segments: Iterable[SegmentResult], fld: str) -> Iterator[SegmentResult]:
    """The same segments, labelled with the field they belong to."""
    for sg in segments:
        yield SegmentResult(fld, sg.target_lang, sg.para_index, sg.seg_index, sg.source_text, sg.target_text,
                            sg.source_tokens, sg.target_tokens)


__all__ = ["Pipeline", "SummarizeError", "content_hash"]
