"""The align stage: outputs put back together per article, in source order, and turned into results.

The summarizer and the translator hand back small records (`Summary`, `Translated`) that say
what came out of the models for one text, or why nothing did. This module assembles a
translation from its sentence rows (paragraph breaks from the source, guards on the whole),
keeps the mutable state of each article of a shard (`ArticleState`), attaches summaries,
translations and errors to it, and makes the frozen `ArticleResult` the writer gets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from . import guards
from .options import DEFAULT_MIN_LOGPROB
from .schema import ERROR, OK, Article, ArticleResult, Detection, SegmentResult, TranslationResult
from .segment import reassemble, segment
from .text import content_hash

IDENTITY = "identity"

DetectShort = Callable[[str], tuple[str, float]]


def weighted_logprob(parts: Iterable[tuple[float | None, int]]) -> tuple[float | None, int]:
    """The token-weighted mean of several outputs' mean log-probabilities, and their total tokens.

    `parts` are (mean log-probability, tokens) pairs. An unscored part (None, which a backend
    gives only when it reports no score) stays out of the mean but its tokens count in the
    total. The mean is None when no part is scored.
    """
    total, scored, tokens = 0.0, 0, 0
    for logprob, n in parts:
        tokens += n
        if logprob is not None and n > 0:
            total, scored = total + logprob * n, scored + n
    return (total / scored if scored else None), tokens


def join_errors(errors: Iterable[str | None]) -> str | None:
    """Distinct error messages joined with `; `, in order; None when there are none."""
    distinct = list(dict.fromkeys(e for e in errors if e))
    return "; ".join(distinct) if distinct else None


# ----------------------------------------------------------------------------- stage outputs


@dataclass(frozen=True, slots=True)
class Summary:
    """One article's summary as the summarizer made it, or why there is none.

    Attributes:
        text: The summary, or None when it failed.
        model: The model (a pivot's models joined with ` > `), None when it failed.
        tokens: Tokens of the summary.
        input_tokens: Tokens of the summarizer's input (the whole article, before chunking).
        n_chunks: Chunks the input was summarized in (1 when it fit the model).
        truncated: Whether any of the input was dropped.
        flags: Output flags (`truncated`, `pivot:en`, the guards' flags).
        error: Why it failed, else None.
        seconds: Model time spent on this article's summary.
        logprob: The summary model's mean log-probability per generated token (of the final
            reduce step when chunked, of the summary step of a pivot); None when it failed.
        gen_tokens: Tokens `logprob` averages over.
        unsupported: Figures and names of the summary its source does not mention.
        reused: Whether it came from the reuse memory (`summarize.reuse`) rather than a model.
    """

    text: str | None
    model: str | None
    tokens: int = 0
    input_tokens: int = 0
    n_chunks: int = 0
    truncated: bool = False
    flags: tuple[str, ...] = ()
    error: str | None = None
    seconds: float = 0.0
    logprob: float | None = None
    gen_tokens: int = 0
    unsupported: tuple[str, ...] = ()
    reused: bool = False


@dataclass(frozen=True, slots=True)
class Translated:
    """One text's translation assembled from its sentences, or why there is none.

    Attributes:
        text: The translation with the source's paragraph breaks, or None when it failed.
        model: The model, or a route's models joined with ` > `.
        segments: One row per source sentence, in source order (field not yet set).
        flags: The guards' flags on the whole translation.
        error: Why it failed, else None.
        seconds: Model time spent on this text.
        logprob: The segments' mean log-probabilities weighted by their generated tokens.
        gen_tokens: Tokens generated for the whole text.
        reused: Whether every sentence came from the translation memory.
    """

    text: str | None
    model: str
    segments: tuple[SegmentResult, ...] = ()
    flags: tuple[str, ...] = ()
    error: str | None = None
    seconds: float = 0.0
    logprob: float | None = None
    gen_tokens: int = 0
    reused: bool = False


def assemble_translation(source: str, target_lang: str, model: str, segments: Sequence[SegmentResult],
                         *, detect: DetectShort | None, seconds: float = 0.0,
                         min_logprob: float = DEFAULT_MIN_LOGPROB) -> Translated:
    """A translation from its sentence rows: paragraphs restored from the source, guards applied.

    Its confidence is the segments' weighted by their generated tokens, so a long sentence
    counts for what it is; below `min_logprob` it is flagged `low_confidence`.
    """
    text = reassemble([(sg.para_index, sg.target_text) for sg in segments], lang=target_lang)
    flags = guards.check(text, source, expected_lang=target_lang, detect=detect, ratio_bounds=guards.TRANSLATION_RATIO)
    if guards.EMPTY_OUTPUT not in flags and any(not sg.target_text for sg in segments):
        flags.append(guards.EMPTY_OUTPUT)  # a sentence vanished from the translation
    logprob, gen_tokens = weighted_logprob((sg.logprob, sg.gen_tokens) for sg in segments)
    flags += guards.confidence(logprob, min_logprob)
    return Translated(text, model, tuple(segments), tuple(flags), seconds=seconds, logprob=logprob,
                      gen_tokens=gen_tokens, reused=bool(segments) and all(sg.reused for sg in segments))


def identity_translation(fld: str, lang: str, text: str) -> TranslationResult:
    """A text already in the target language: itself, with one row per sentence.

    Nothing is generated, so its rows have no confidence (`logprob` None, `gen_tokens` 0).
    """
    segs = tuple(
        SegmentResult(fld, lang, s.para_index, s.seg_index, s.text, s.text, 0, 0) for s in segment(text, lang)
    )
    return TranslationResult(fld, lang, lang, text, IDENTITY, OK, None, (), segs)


def translation_result(fld: str, source_lang: str, target_lang: str, tr: Translated) -> TranslationResult:
    """The result row of field `fld` translated as `tr` (status `error` when it failed)."""
    if tr.text is None:
        return TranslationResult(fld, source_lang, target_lang, None, tr.model, ERROR, tr.error or "translation failed")
    segs = tuple(dataclasses.replace(sg, field=fld) for sg in tr.segments)
    return TranslationResult(fld, source_lang, target_lang, tr.text, tr.model, OK, None, tr.flags, segs,
                             logprob=tr.logprob, gen_tokens=tr.gen_tokens, reused=tr.reused)


# ----------------------------------------------------------------------------- article state


@dataclass
class ArticleState:
    """Mutable per-article state while a shard goes through the stages."""

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
    summary_logprob: float | None = None
    summary_gen_tokens: int = 0
    unsupported: tuple[str, ...] = ()
    summary_reused: bool = False

    def fail(self, message: str) -> None:
        """Mark the article failed; a second, different message is appended to the first."""
        if self.status != ERROR:
            self.status, self.error = ERROR, message
        elif self.error and message not in self.error:
            self.error = f"{self.error}; {message}"

    def add_summary(self, summary: Summary) -> None:
        """Attach the summarizer's outcome: the summary and its counts, or its error."""
        self.seconds += summary.seconds
        self.input_tokens, self.n_chunks, self.truncated = summary.input_tokens, summary.n_chunks, summary.truncated
        self.flags.extend(summary.flags)
        if summary.text is None:
            self.fail(summary.error or "summary failed")
            return
        self.summary, self.summary_model, self.summary_tokens = summary.text, summary.model, summary.tokens
        self.summary_logprob, self.summary_gen_tokens = summary.logprob, summary.gen_tokens
        self.unsupported = summary.unsupported
        self.summary_reused = summary.reused

    def add_translation(self, fld: str, source_lang: str, target_lang: str, tr: Translated) -> None:
        """Attach one field's translation into one language; a failed one fails the article."""
        self.seconds += tr.seconds
        result = translation_result(fld, source_lang, target_lang, tr)
        self.translations.append(result)
        if result.status == ERROR:
            if tr.error:
                self.fail(tr.error)
            self.fail(f"{fld} -> {target_lang} failed")

    def result(self) -> ArticleResult:
        """The article's frozen result record."""
        return ArticleResult(
            article=self.article, detection=self.detection, summary=self.summary, summary_model=self.summary_model,
            input_tokens=self.input_tokens, summary_tokens=self.summary_tokens, n_chunks=self.n_chunks,
            truncated=self.truncated, status=self.status, error=self.error,
            duration_ms=round(self.seconds * 1000, 3), flags=tuple(dict.fromkeys(self.flags)),
            translations=tuple(self.translations), lang_source=self.lang_source,
            content_hash=content_hash(self.article.title, self.article.text),
            unsupported=self.unsupported, summary_logprob=self.summary_logprob,
            summary_gen_tokens=self.summary_gen_tokens, reused=self.summary_reused,
        )


__all__ = [
    "IDENTITY", "ArticleState", "Summary", "Translated", "assemble_translation",
    "identity_translation", "join_errors", "translation_result", "weighted_logprob",
]
