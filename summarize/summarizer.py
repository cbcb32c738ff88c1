"""Summarization: routing per language, token-aware chunks, map-reduce, and the pivot through English.

No input is cut by the tokenizer: an article over the summarizer's limit is chunked on sentence
boundaries and summarized map-reduce (or cut at a word with `--long-input truncate`). Articles
in a language no summarizer covers are translated to the pivot language, summarized, and the
summary translated back (`Translator`). Every model call goes through the generate stage, all
articles of a model at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace

from . import batching as plan
from . import guards
from .align import DetectShort, Summary, join_errors
from .backends import Generator, Loader
from .errors import UnsupportedLanguageError
from .generate import Generated, generate, template_tokens, token_counter
from .models import routing
from .models.langcodes import language_name
from .models.prompts import find_template
from .models.registry import Registry, Route
from .options import LongInput, RunOptions
from .quality import faithfulness
from .reuse import Kind, Memory
from .schema import Article
from .segment import reassemble, segment, split_long
from .translator import Request, Translator

# Map-reduce rounds before the joined chunk summaries are cut to fit: each round divides the
# input by about (input limit / summary length), so six rounds cover any article.
MAX_REDUCE_ROUNDS = 6


def summary_input(article: Article) -> str:
    """What the summarizer reads of an article: its title, a blank line, its text."""
    # The title is the densest statement of the story; models trained on news expect it first.
    if article.title and article.title.strip():
        return f"{article.title.strip()}\n\n{article.text.strip()}"
    return article.text.strip()


class Summarizer:
    """Summarizes articles with the models their languages route to, loaded through `load`.

    Args:
        options: The run's options (routing, `summary` decoding options, `long_input`, `prompt`).
        registry: The model registry the routes come from.
        load: Returns the loaded model for an id.
        translator: Translates in and out of the pivot language.
        detect_short: Language of a short output, for the wrong-language guard; None skips it.

    `memory` (a `reuse.Memory`, set by the pipeline for a run): a text it holds a summary of, for
    the same model and options, is not summarized again.
    """

    def __init__(self, options: RunOptions, registry: Registry, load: Loader, translator: Translator,
                 detect_short: DetectShort | None = None) -> None:
        self.options = options
        self.registry = registry
        self.load = load
        self.translator = translator
        self.detect_short = detect_short
        self.memory: Memory | None = None

    def summarize(self, articles: Sequence[Article], langs: Sequence[str]) -> list[Summary]:
        """One `Summary` per article (in `langs[i]`), in order; a failed one carries its error."""
        out: list[Summary | None] = [None] * len(articles)
        direct: dict[str, list[int]] = defaultdict(list)
        pivots: list[tuple[int, Route]] = []
        for i, lang in enumerate(langs):
            try:
                # The same decision `summarize models plan` shows, so the plan matches the run.
                route = routing.summary_route(lang, self.options, self.registry)
            except UnsupportedLanguageError as exc:
                out[i] = Summary(None, None, error=str(exc))
                continue
            if len(route.steps) == 1:
                direct[route.steps[0].model.id].append(i)
            else:
                pivots.append((i, route))
        for model, members in direct.items():
            texts = [summary_input(articles[i]) for i in members]
            done = self.summarize_texts(model, texts, [langs[i] for i in members])
            for i, text, res in zip(members, texts, done, strict=True):
                out[i] = self._finish(res, text, langs[i], articles[i])
        if pivots:
            for k, res in self._pivot([(articles[i], langs[i], route) for i, route in pivots]):
                out[pivots[k][0]] = res
        return [s if s is not None else Summary(None, None, error="summary failed") for s in out]

    def _finish(self, res: Summary, source: str, lang: str, article: Article) -> Summary:
        if res.text is None:
            return res
        # Text cut while reading (`--max-chars`) was dropped too, even if the rest fit the model.
        truncated = res.truncated or "input_truncated" in article.flags
        flags = ["truncated"] if truncated else []
        flags += guards.check(res.text, source, expected_lang=lang, detect=self.detect_short,
                              ratio_bounds=guards.SUMMARY_RATIO)
        flags += guards.confidence(res.logprob, self.options.min_logprob)
        faith = faithfulness.check_summary(res.text, source, lang)
        return replace(res, truncated=truncated, flags=(*flags, *faith.flags), unsupported=faith.unsupported)

    def _pivot(self, items: list[tuple[Article, str, Route]]) -> list[tuple[int, Summary]]:
        """Languages no summarizer covers: translate to the pivot, summarize, translate back."""
        def request(text: str, route: Route, k: int) -> Request:
            step = route.steps[k]
            return Request(text, step.source_lang, step.target_lang,
                           ((step.model.id, step.source_lang, step.target_lang),))

        done: list[tuple[int, Summary]] = []
        inward = self.translator.translate_requests([request(a.text, r, 0) for a, _, r in items])
        by_model: dict[str, list[tuple[int, str, float, bool]]] = defaultdict(list)
        for k, ((_, _, route), tr) in enumerate(zip(items, inward, strict=True)):
            if tr.text is None:
                done.append((k, Summary(None, None, error=tr.error, seconds=tr.seconds)))
            else:
                by_model[route.steps[1].model.id].append((k, tr.text, tr.seconds, tr.reused))
        back: list[tuple[int, Summary]] = []
        for model, group in by_model.items():
            outs = self.summarize_texts(model, [t for _, t, _, _ in group],
                                        [items[k][2].steps[1].source_lang for k, _, _, _ in group])
            for (k, _, spent, inward_reused), res in zip(group, outs, strict=True):
                res = replace(res, seconds=res.seconds + spent, reused=res.reused and inward_reused)
                if res.text is None:
                    done.append((k, replace(res, model=None, error=join_errors([res.error, "pivot summary failed"]))))
                    continue
                route = items[k][2]
                flags = (["truncated"] if res.truncated else []) + [f"pivot:{route.steps[1].source_lang}"]
                # The confidence of a pivot is its summary step's; translating back adds none.
                flags += guards.confidence(res.logprob, self.options.min_logprob)
                back.append((k, replace(res, flags=tuple(flags))))
        outward = self.translator.translate_requests([request(res.text or "", items[k][2], 2) for k, res in back])
        for (k, res), tr in zip(back, outward, strict=True):
            article, lang, route = items[k]
            spent = res.seconds + tr.seconds
            if tr.text is None:
                done.append((k, replace(res, text=None, model=None, tokens=0, error=tr.error, seconds=spent,
                                        logprob=None, gen_tokens=0)))
                continue
            flags = guards.check(tr.text, article.text, expected_lang=lang, detect=self.detect_short,
                                 ratio_bounds=guards.SUMMARY_RATIO)
            faith = faithfulness.check_summary(tr.text, summary_input(article), lang)
            done.append((k, replace(res, text=tr.text, model=routing.route_name(route), seconds=spent,
                                    reused=res.reused and tr.reused,
                                    tokens=sum(seg.target_tokens for seg in tr.segments),
                                    flags=(*res.flags, *flags, *faith.flags), unsupported=faith.unsupported)))
        return done

    def _renderer(self, gen: Generator) -> Callable[[str, str], str]:
        template = find_template(self.options.prompt, family=gen.family, task="summarize")

        def render(text: str, lang: str) -> str:
            if template is None:
                return text
            name = language_name(lang) if lang != "und" else "the same language"
            return template.render(text=text, lang=lang, lang_name=name)

        return render

    def summarize_texts(self, model: str, texts: Sequence[str], langs: Sequence[str]) -> list[Summary]:
        """Summaries of `texts` with one model (`_generate`), through the memory when there is one:
        a text it holds is taken from it, the others generated (the model is loaded only when one
        is left) and remembered."""
        memory = self.memory
        if memory is None:
            return self._generate(model, texts, langs)
        keys = [memory.key(Kind.SUMMARY, model, lang, text) for text, lang in zip(texts, langs, strict=True)]
        out: list[Summary | None] = [None] * len(texts)
        for i, key in enumerate(keys):
            hit = memory.get(key)
            if hit is not None:
                out[i] = Summary(hit["text"], model, hit["tokens"], hit["input_tokens"], hit["n_chunks"],
                                 hit["truncated"], logprob=hit["logprob"], gen_tokens=hit["gen_tokens"], reused=True)
        first: dict[tuple[str, str], int] = {}  # a text twice in this call (a re-delivered article) is made once
        for i, res in enumerate(out):
            if res is None:
                first.setdefault((texts[i], langs[i]), i)
        todo = sorted(first.values())
        if todo:
            fresh = self._generate(model, [texts[i] for i in todo], [langs[i] for i in todo])
            for i, res in zip(todo, fresh, strict=True):
                out[i] = res
                if res.text is not None:
                    memory.put(keys[i], Kind.SUMMARY, {
                        "text": res.text, "tokens": res.tokens, "input_tokens": res.input_tokens,
                        "n_chunks": res.n_chunks, "truncated": res.truncated, "logprob": res.logprob,
                        "gen_tokens": res.gen_tokens})
        for i, res in enumerate(out):
            if res is None:
                made = out[first[(texts[i], langs[i])]]
                assert made is not None
                out[i] = replace(made, seconds=0.0, reused=memory.enabled and made.text is not None)
        return [res for res in out if res is not None]

    def _generate(self, model: str, texts: Sequence[str], langs: Sequence[str]) -> list[Summary]:
        """Summaries of `texts` with one model: chunked map-reduce for inputs over its limit.

        Each round summarizes every pending piece of every text in one batched call; a text whose
        pieces gave several summaries goes round again with the joined summaries as its input,
        until one summary is left. `--long-input truncate` instead keeps the longest prefix that
        fits, cut here at a word so that a prompt template around the text stays whole. The
        summaries carry no flags yet.
        """
        gen = self.load(model, "summarization")
        render = self._renderer(gen)
        limits = {lang: max(16, gen.max_input_tokens - template_tokens(gen, _in(render, lang)))
                  for lang in set(langs)}
        totals = gen.count_tokens(texts)
        pieces: list[list[str]] = []  # the current inputs of text i, one per chunk
        truncated = [False] * len(texts)
        for i, (text, lang, total) in enumerate(zip(texts, langs, totals, strict=True)):
            if total <= limits[lang]:
                pieces.append([text])
            elif self.options.long_input == LongInput.truncate:
                pieces.append([plan.fit_prefix(text, limits[lang], token_counter(gen))])
                truncated[i] = True
            else:
                pieces.append(chunk(gen, text, lang, limits[lang]))
        n_chunks = [len(p) for p in pieces]
        finals: list[Generated | None] = [None] * len(texts)
        errors: list[list[str]] = [[] for _ in texts]
        seconds = [0.0] * len(texts)
        pending = list(range(len(texts)))
        for round_ in range(MAX_REDUCE_ROUNDS):
            flat = [(i, c) for i in pending for c in pieces[i]]
            outs = generate(gen, [render(c, langs[i]) for i, c in flat], self.options.summary)
            collected: dict[int, list[Generated]] = defaultdict(list)
            for (i, _), g in zip(flat, outs, strict=True):
                collected[i].append(g)
                seconds[i] += g.seconds
            still = []
            for i in pending:
                got = collected[i]
                if any(g.output is None for g in got):
                    errors[i] = [g.error or "summary failed" for g in got if g.output is None]
                    continue
                if len(got) == 1:
                    finals[i] = got[0]
                    continue
                last = round_ >= MAX_REDUCE_ROUNDS - 2
                pieces[i], cut = reduce_input(gen, [g.text or "" for g in got], langs[i], limits[langs[i]], last=last)
                truncated[i] = truncated[i] or cut
                still.append(i)
            pending = still
            if not pending:
                break
        results = []
        for i, final in enumerate(finals):
            if final is None or final.output is None:
                # A failed article reports no counts, as if it had not been summarized at all.
                results.append(Summary(None, None, error=join_errors(errors[i]) or "summary failed",
                                       seconds=seconds[i]))
            else:
                # A chunked article's confidence is its last reduce step's: the summary is that output.
                results.append(Summary(final.output.text, model, final.output.tokens, totals[i], n_chunks[i], truncated[i],
                                       seconds=seconds[i], logprob=final.logprob, gen_tokens=final.gen_tokens))
        return results


def _in(render: Callable[[str, str], str], lang: str) -> Callable[[str], str]:
    """A summary renderer with its language fixed."""
    return lambda text: render(text, lang)


def reduce_input(gen: Generator, summaries: list[str], lang: str, limit: int, *, last: bool) -> tuple[list[str], bool]:
    """The next round's pieces for a text whose chunks gave `summaries`, and whether any was cut.

    Chunk summaries that do not shrink (a model that always writes `max_new_tokens` tokens,
    close to its input limit) would never reduce to one; when a round makes no progress, or
    the rounds run out, the joined summaries are cut to fit and the text counts as truncated.
    """
    joined = "\n".join(summaries)
    if gen.count_tokens([joined])[0] <= limit:
        return [joined], False
    chunks = chunk(gen, joined, lang, limit)
    if len(chunks) < len(summaries) and not last:
        return chunks, False
    return [plan.fit_prefix(joined, limit, token_counter(gen))], True


def chunk(gen: Generator, text: str, lang: str, limit: int) -> list[str]:
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
            units.extend((sent.para_index, p) for p in split_long(sent.text, limit, token_counter(gen)))
        else:
            units.append((sent.para_index, sent.text))
    special = gen.count_tokens([""])[0]
    sizes = [n - special for n in gen.count_tokens([u for _, u in units])]
    chunks: list[str] = []
    for idx in plan.pack_chunks(sizes, limit - special):
        chunks.extend(_fit_chunk(gen, [units[j] for j in idx], lang, limit))
    return chunks


def _fit_chunk(gen: Generator, units: list[tuple[int, str]], lang: str, limit: int) -> list[str]:
    text = reassemble(units, lang=lang)
    if len(units) == 1 or gen.count_tokens([text])[0] <= limit:
        return [text]
    half = len(units) // 2
    return _fit_chunk(gen, units[:half], lang, limit) + _fit_chunk(gen, units[half:], lang, limit)


__all__ = ["MAX_REDUCE_ROUNDS", "Summarizer", "chunk", "reduce_input", "summary_input"]
