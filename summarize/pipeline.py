"""The pipeline: read articles -> detect -> plan -> generate -> align, shard by shard.

`Pipeline.run(articles)` yields one `ArticleResult` per article, in input order. Work is done
in shards of `RunOptions.shard_size` articles so memory stays flat however long the input;
within a shard every model call is batched across all articles (summary chunks, sentences).
This module only wires the stages together:

    detect (here, with `routing`)  ->  summarizer.py (chunks, map-reduce, pivot)
                                   ->  translator.py (sentence units, batched across articles)
    both call generate.py (dedupe, sort, token-budget batches, retry, restore order)
    align.py (per-article state, assembly, result records)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from .align import ArticleState, Translated, identity_translation
from .backends import Generator, ModelPool
from .backends.fingerprint import model_identity
from .detect.detector import Detector, make_detector, verify
from .errors import SummarizeError, UnsupportedLanguageError
from .models import routing
from .models.downloads import is_local
from .models.registry import Registry
from .options import RunOptions
from .reuse import Kind, Memory
from .schema import OK, SKIPPED, Article, ArticleResult, Detection, TranslationResult
from .summarizer import Summarizer
from .translator import Request, Translator, translation_error

log = logging.getLogger(__name__)


class Pipeline:
    """Summarize and translate articles with the given options; reusable across runs.

    Models are loaded lazily through a `ModelPool` and kept for the pipeline's lifetime (while
    they fit its memory budget), so later shards, and a notebook or an Airflow task that calls
    `run` repeatedly, do not load them again. `models_used` records, per model, its loads, the
    seconds they took and the backend that runs it (`ct2`, or `torch` after a failed conversion).
    """

    def __init__(self, options: RunOptions | None = None, *, pool: ModelPool | None = None,
                 registry: Registry | None = None, detector: Detector | None = None) -> None:
        self.options = options or RunOptions()
        self.pool = pool or ModelPool(
            device=self.options.device, backend=self.options.backend,
            compute_type=self.options.compute_type, max_loaded=self.options.max_loaded_models,
            memory_gib=self.options.model_memory,
        )
        self.registry = registry or Registry.load(self.options.registry)
        self._detector = detector
        self.models_used: dict[str, dict[str, Any]] = {}
        self.translator = Translator(self.options, self.registry, self._model, self._detect_short)
        self.summarizer = Summarizer(self.options, self.registry, self._model, self.translator, self._detect_short)
        self.memory: Memory | None = None

    def use_memory(self, entries: Mapping[str, str] | None = None, *, enabled: bool = True) -> Memory:
        """Reuse outputs by content from now on (`summarize.reuse`): `entries` are a store's
        (`io.memory.load`); what this pipeline generates is added to them."""
        self.memory = Memory(self.options, entries, runtime=self._runtime(), enabled=enabled)
        self.translator.memory = self.summarizer.memory = self.memory
        return self.memory

    def _runtime(self) -> dict[str, Any]:
        """What runs the models, as far as it changes their outputs (`ModelPool.runtime`)."""
        return self.pool.runtime()

    @property
    def detector(self) -> Detector:
        """The language detector, built on first use: a run whose languages are given, or whose
        texts the memory has seen, never loads the engines' profiles."""
        if self._detector is None:
            self._detector = make_detector(self.options.detect)
        return self._detector

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
        summaries = self.summarizer.summarize([s.article for s in live], [s.detection.lang for s in live])
        for s, summary in zip(live, summaries, strict=True):
            s.add_summary(summary)
        self._translate_articles([s for s in live if s.status == OK or s.summary is not None])
        return [s.result() for s in states]

    def detect(self, article: Article) -> Detection:
        """The article's language: the given one (trusted) or the detector's."""
        return self._detect(article).detection

    def translate(self, texts: Sequence[str], source_lang: str, target_lang: str,
                  *, field: str = "text") -> list[TranslationResult]:
        """Translate texts sentence by sentence, all of them batched together; one result per text.

        See `Translator.translate`: a text that fails gets a result with status `error`.
        """
        return self.translator.translate(texts, source_lang, target_lang, field=field)

    # ------------------------------------------------------------------ stages

    def _detect(self, article: Article) -> ArticleState:
        t0 = time.perf_counter()
        detection = self._detection_of(article)
        state = ArticleState(article, detection, lang_source="given" if article.lang else "detected",
                             flags=list(article.flags))
        if article.lang and self.options.detect.verify_lang:
            seen = self.detector.detect(article.text, article.title)
            if verify(detection.lang, seen, self.options.detect):
                state.flags.append(f"lang_mismatch:{seen.lang}")
        reason = routing.skip_reason(article, detection)
        if reason:
            state.status, state.error = SKIPPED, reason
        state.seconds += time.perf_counter() - t0
        return state

    def _detection_of(self, article: Article) -> Detection:
        """`routing.detection_of`, through the memory for a detected language (same title and text,
        same detection options: the same verdict)."""
        memory = self.memory
        if article.lang or memory is None:
            return routing.detection_of(article, self.detector)
        key = memory.detect_key(f"{article.title or ''}\x00{article.text}", unit="article")
        hit = memory.get(key)
        if hit is not None:
            return Detection(hit["lang"], hit["score"], tuple((lang, share) for lang, share in hit["mix"]),
                             hit["detector"], hit["reason"])
        d = routing.detection_of(article, self.detector)
        memory.put(key, Kind.DETECT, {"lang": d.lang, "score": d.score, "mix": [list(m) for m in d.mix],
                                      "detector": d.detector, "reason": d.reason})
        return d

    def _detect_short(self, text: str) -> tuple[str, float]:
        memory = self.memory
        key = memory.detect_key(text) if memory is not None else None
        hit = memory.get(key) if memory is not None else None
        if hit is not None:
            return str(hit["lang"]), float(hit["score"])
        d = self.detector.detect_short(text)
        if memory is not None:
            memory.put(key, Kind.DETECT, {"lang": d.lang, "score": d.score})
        return d.lang, d.score

    def _model(self, model: str, task: str) -> Generator:
        """The loaded model; the first use of each is recorded (with its licence) for the manifest."""
        gen = self.pool.get(model, task)
        if model not in self.models_used:
            info = self.registry.get(model)
            licence = info.licence if info else "unknown"
            self.models_used[model] = {
                "task": task, "family": gen.family, "revision": gen.revision, "licence": licence,
                "noncommercial": bool(info and info.noncommercial),
            }
            if is_local(model):  # a folder has no revision: its content says which weights made the outputs
                self.models_used[model]["fingerprint"] = model_identity(model)
            if info is None:
                log.warning("model %s is not in the registry: check its licence yourself", model)
            elif info.noncommercial:
                log.warning("model %s is licensed %s: non-commercial use only", model, licence)
        stats = self.pool.stats.get(model)
        if stats is not None:
            self.models_used[model].update(backend=stats.backend, loads=stats.loads,
                                           load_seconds=round(stats.seconds, 3))
        return gen

    def _translate_articles(self, states: list[ArticleState]) -> None:
        """Every field of every article into every target language, in one batched pass per model."""
        requests: list[Request] = []
        keys: list[tuple[ArticleState, str]] = []
        for s in states:
            src = s.detection.lang
            for fld in self.options.translate:
                text = s.summary if fld == "summary" else s.article.title if fld == "title" else s.article.text
                if not text or not text.strip():
                    continue
                for tgt in self.options.to:
                    try:
                        steps = self.translator.steps(src, tgt)
                    except UnsupportedLanguageError as exc:
                        s.translations.append(translation_error(fld, src, tgt, exc))
                        s.fail(f"{fld} -> {tgt}: {exc}")
                        continue
                    if not steps:
                        s.translations.append(identity_translation(fld, src, text))
                        continue
                    requests.append(Request(text, src, tgt, steps))
                    keys.append((s, fld))
        done: list[Translated] = self.translator.translate_requests(requests)
        for (s, fld), req, tr in zip(keys, requests, done, strict=True):
            s.add_translation(fld, req.src, req.tgt, tr)


__all__ = ["Pipeline", "SummarizeError"]
