"""Translation: texts cut into sentence units, batched across texts and articles, routed step by step.

A `Request` is one text to translate along a route of (model, source, target) steps; a pivot
route has two. `Translator.translate_requests` cuts every request into sentences and sends
every sentence of every request that shares a step to the generate stage in one call, so
batches are full and evenly padded however short each text is. Each sentence stays one unit
through every step of its route, so the alignment of source and target sentences survives
pivoting; `align.assemble_translation` puts each request back together with the source's
paragraph breaks. `Translator.translate` is the in-memory API over plain strings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from . import batching as plan
from .align import (
    DetectShort,
    Translated,
    assemble_translation,
    identity_translation,
    join_errors,
    translation_result,
    weighted_logprob,
)
from .backends import Generator, Loader
from .errors import UnsupportedLanguageError
from .generate import Generated, generate, template_tokens, token_counter
from .models import routing
from .models.langcodes import language_name, normalise
from .models.prompts import find_template
from .models.registry import Registry
from .options import RunOptions
from .reuse import Kind, Memory
from .schema import ERROR, SKIPPED, SegmentResult, TranslationResult
from .segment import reassemble, segment, split_long

# Room left for the target-language label a multi-target model takes in front of its input
# (">>de<< " is one to three tokens), which the backend adds after the translator has planned.
TARGET_LABEL_TOKENS = 4

Step = tuple[str, str, str]
"""One step of a translation route: (model id, source language, target language)."""


@dataclass(frozen=True, slots=True)
class Request:
    """One text to translate from `src` to `tgt` along `steps` (never empty: identity is not a request)."""

    text: str
    src: str
    tgt: str
    steps: tuple[Step, ...]

    @property
    def model(self) -> str:
        """The route's models, as the `model` column shows them."""
        return " > ".join(m for m, _, _ in self.steps)


@dataclass(frozen=True, slots=True)
class _Line:
    """One sentence translated by one step: the translation, or why it failed, and its confidence."""

    text: str | None
    source_tokens: int
    target_tokens: int
    error: str | None
    seconds: float
    logprob: float | None = None
    gen_tokens: int = 0
    reused: bool = False


class Translator:
    """Translates with the models the routes name, loaded through `load(model, task)`.

    Args:
        options: The run's options (routing, `translation` decoding options).
        registry: The model registry the routes come from.
        load: Returns the loaded model for an id (the pipeline records which models it used).
        detect_short: Language of a short output, for the wrong-language guard; None skips it.

    `memory` (a `reuse.Memory`, set by the pipeline for a run) is the translation memory: a
    sentence it holds for the same step is not generated again.
    """

    def __init__(self, options: RunOptions, registry: Registry, load: Loader,
                 detect_short: DetectShort | None = None) -> None:
        self.options = options
        self.registry = registry
        self.load = load
        self.detect_short = detect_short
        self.memory: Memory | None = None

    def steps(self, src: str, tgt: str) -> tuple[Step, ...]:
        """The steps of the pair's route; empty for the identity route.

        Raises UnsupportedLanguageError when nothing translates the pair.
        """
        route = routing.translation_route(src, tgt, self.options, self.registry)
        if route.is_identity:
            return ()
        return tuple((step.model.id, step.source_lang, step.target_lang) for step in route.steps)

    def translate(self, texts: Sequence[str], source_lang: str, target_lang: str,
                  *, field: str = "text") -> list[TranslationResult]:
        """Translate texts sentence by sentence, all of them batched together; one result per text.

        The in-memory counterpart of `--translate`: each result has the translation (paragraph
        breaks kept), its flags and its sentence alignment (`segments`). An empty text gets
        status `skipped`; a text that fails, or a pair nothing translates, gets status `error`
        instead of raising.
        """
        src, tgt = normalise(source_lang), normalise(target_lang)
        out: list[TranslationResult | None] = [None] * len(texts)
        requests: list[Request] = []
        keys: list[int] = []
        unsupported: UnsupportedLanguageError | None = None
        steps: tuple[Step, ...] = ()
        try:
            steps = self.steps(src, tgt)
        except UnsupportedLanguageError as exc:
            unsupported = exc
        for i, text in enumerate(texts):
            if not text.strip():
                out[i] = TranslationResult(field, src, tgt, text, None, SKIPPED, "empty text")
            elif unsupported is not None:
                out[i] = translation_error(field, src, tgt, unsupported)
            elif not steps:
                out[i] = identity_translation(field, src, text)
            else:
                requests.append(Request(text, src, tgt, steps))
                keys.append(i)
        for i, tr in zip(keys, self.translate_requests(requests), strict=True):
            out[i] = translation_result(field, src, tgt, tr)
        return [r for r in out if r is not None]

    def translate_requests(self, requests: Sequence[Request]) -> list[Translated]:
        """Translate every request sentence by sentence, batched across all requests per step.

        Returns one `Translated` per request, in order; a request any of whose sentences failed
        has `text=None` and the error. A sentence is not sent to the next step of its route once
        its request has failed.
        """
        sentences = [segment(r.text, r.src) for r in requests]
        units = [(k, si) for k, sents in enumerate(sentences) for si in range(len(sents))]
        current = [sentences[k][si].text for k, si in units]
        src_tokens = [0] * len(units)
        tgt_tokens = [0] * len(units)
        # A sentence's confidence covers every model call that made it: both steps of a pivot.
        scores: list[list[tuple[float | None, int]]] = [[] for _ in units]
        reused = [True] * len(units)  # until a step generates the sentence
        errors: list[list[str]] = [[] for _ in requests]
        seconds = [0.0] * len(requests)
        depth = max((len(r.steps) for r in requests), default=0)
        for step in range(depth):
            groups: dict[Step, list[int]] = defaultdict(list)
            for u, (k, _) in enumerate(units):
                if not errors[k] and step < len(requests[k].steps):
                    groups[requests[k].steps[step]].append(u)
            for (model, src, tgt), members in groups.items():
                lines = self._remembered(model, src, tgt, [current[u] for u in members])
                for u, line in zip(members, lines, strict=True):
                    k = units[u][0]
                    seconds[k] += line.seconds
                    reused[u] = reused[u] and line.reused
                    if line.text is None:
                        errors[k].append(line.error or "translation failed")
                        continue
                    current[u] = line.text
                    scores[u].append((line.logprob, line.gen_tokens))
                    if step == 0:
                        src_tokens[u] = line.source_tokens
                    tgt_tokens[u] = line.target_tokens
        by_request: dict[int, list[int]] = defaultdict(list)
        for u, (k, _) in enumerate(units):
            by_request[k].append(u)
        results: list[Translated] = []
        for k, req in enumerate(requests):
            if errors[k]:
                results.append(Translated(None, req.model, error=join_errors(errors[k]), seconds=seconds[k]))
                continue
            segs = [
                SegmentResult("", req.tgt, sent.para_index, sent.seg_index, sent.text, current[u],
                              src_tokens[u], tgt_tokens[u], *weighted_logprob(scores[u]), reused=reused[u])
                for u in by_request[k]
                for sent in [sentences[k][units[u][1]]]
            ]
            results.append(assemble_translation(req.text, req.tgt, req.model, segs, detect=self.detect_short,
                                                seconds=seconds[k], min_logprob=self.options.min_logprob))
        return results

    def _remembered(self, model: str, src: str, tgt: str, texts: list[str]) -> list[_Line]:
        """`_translate_sentences` through the translation memory: sentences it holds for this step are
        taken from it, the rest generated (the model is loaded only when one is left) and remembered."""
        memory = self.memory
        keys = [memory.key(Kind.SENTENCE, model, src, tgt, t) for t in texts] if memory else [None] * len(texts)
        out: list[_Line | None] = [None] * len(texts)
        if memory is not None:
            for i, key in enumerate(keys):
                hit = memory.get(key)
                if hit is not None:
                    out[i] = _Line(hit["text"], hit["source_tokens"], hit["target_tokens"], None, 0.0,
                                   hit["logprob"], hit["gen_tokens"], reused=True)
        # A sentence twice in this call (boilerplate shared by articles) is generated once; with a
        # memory, its other occurrences count as reused, as they would in a later call.
        first: dict[str, int] = {}
        for i, line in enumerate(out):
            if line is None:
                first.setdefault(texts[i], i)
        todo = sorted(first.values())
        if todo:
            gen = self.load(model, "translation")
            fresh = self._translate_sentences(gen, src, tgt, [texts[i] for i in todo])
            for i, line in zip(todo, fresh, strict=True):
                out[i] = line
                if memory is not None and line.text is not None:
                    memory.put(keys[i], Kind.SENTENCE, {
                        "text": line.text, "source_tokens": line.source_tokens, "target_tokens": line.target_tokens,
                        "logprob": line.logprob, "gen_tokens": line.gen_tokens})
        for i, line in enumerate(out):
            if line is None:
                made = out[first[texts[i]]]
                assert made is not None
                out[i] = replace(made, seconds=0.0, reused=memory is not None and memory.enabled and made.text is not None)
        return [line for line in out if line is not None]

    def _renderer(self, gen: Generator, src: str, tgt: str) -> Callable[[str], str]:
        template = find_template(None, family=gen.family, task="translate")

        def render(text: str) -> str:
            if template is None:
                return text
            return template.render(text=text, source_lang=src, target_lang=tgt,
                                   source_name=language_name(src), target_name=language_name(tgt))

        return render

    def _translate_sentences(self, gen: Generator, src: str, tgt: str, texts: list[str]) -> list[_Line]:
        """Translate sentences with one model, one `_Line` each.

        Each batch's new-token limit is proportional to its longest sentence
        (`plan.translation_budget`); batches are length-sorted, so that is close to each
        sentence's own, and no sentence is cut by a fixed limit. A sentence longer than the
        model's input limit is split into pieces that fit (`segment.split_long`), translated
        piece by piece and joined, rather than truncated; its line keeps the whole sentence's
        token count.
        """
        render = self._renderer(gen, src, tgt)
        extra = template_tokens(gen, render)
        # The backend puts a multi-target model's label (">>de<< ") in front of the input after
        # this planning, so room is left for it.
        limit = max(8, gen.max_input_tokens - extra - TARGET_LABEL_TOKENS)
        counts = gen.count_tokens(texts)
        pieces: list[tuple[int, str, int]] = []  # (sentence, piece, tokens)
        for i, (text, n) in enumerate(zip(texts, counts, strict=True)):
            if n <= limit:
                pieces.append((i, text, n))
                continue
            parts = split_long(text, limit, token_counter(gen))
            pieces.extend((i, p, c) for p, c in zip(parts, gen.count_tokens(parts), strict=True))
        cap = self.options.translation.max_new_tokens
        outs = generate(
            gen, [render(p) for _, p, _ in pieces], self.options.translation,
            sizes=[c + extra for _, _, c in pieces], budget=lambda n: plan.translation_budget(n - extra, cap),
            source_lang=src, target_lang=tgt,
        )
        by_sentence: dict[int, list[Generated]] = defaultdict(list)
        for (i, _, _), g in zip(pieces, outs, strict=True):
            by_sentence[i].append(g)
        lines: list[_Line] = []
        for i, n in enumerate(counts):
            got = by_sentence[i]
            spent = sum(g.seconds for g in got)
            if any(g.output is None for g in got):
                lines.append(_Line(None, n, 0, join_errors(g.error for g in got), spent))
                continue
            # One line per sentence: the paragraph structure comes from the source, not the model.
            line = reassemble([(0, " ".join((g.text or "").split())) for g in got], lang=tgt)
            # A sentence split into pieces: its confidence weighs each piece by its tokens.
            logprob, gen_tokens = weighted_logprob((g.logprob, g.gen_tokens) for g in got)
            lines.append(_Line(line, n, sum(g.output.tokens for g in got if g.output), None, spent, logprob, gen_tokens))
        return lines


def translation_error(fld: str, src: str, tgt: str, exc: UnsupportedLanguageError) -> TranslationResult:
    """The result row of a pair that nothing translates."""
    return TranslationResult(fld, src, tgt, None, None, ERROR, str(exc))


__all__ = ["TARGET_LABEL_TOKENS", "Request", "Step", "Translator", "translation_error"]
