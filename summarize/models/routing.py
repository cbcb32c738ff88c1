"""Routing a run's work to models: which model summarizes each language, which translates each pair.

Pure functions over detected languages, `RunOptions` and a `Registry`; nothing is loaded. The
pipeline and `summarize models plan` both decide through `summary_route` and
`translation_route`, so a plan shows exactly what a run with the same options will do.
`plan_jobs` folds the per-article decisions into a `RoutePlan`: one `Assignment` per summary
language and per (field, source, target), with article counts, the models and their licences,
and the work nothing can serve; `plan_inputs` reads and detects input files into one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from ..detect.detector import EMPTY, NO_LETTERS
from ..errors import UnsupportedLanguageError
from ..options import ReadOptions, RunOptions
from ..schema import Article, Detection, Reject
from . import langcodes
from .downloads import is_local
from .registry import (
    ENGLISH,
    IDENTITY,
    IDENTITY_FAMILY,
    SUMMARIZATION,
    TRANSLATION,
    UND,
    ModelInfo,
    Registry,
    Route,
    Step,
)

# Detection reasons that leave nothing to summarize.
_NOTHING = (EMPTY, NO_LETTERS)


class _Detects(Protocol):
    def detect(self, text: str | None, title: str | None = None) -> Detection: ...


# ----------------------------------------------------------------------------- decisions


def summary_route(lang: str, options: RunOptions, registry: Registry) -> Route:
    """The route that summarizes text in `lang`. A forced `--summary-model` is trusted with text of
    unknown language too (routed as English, which a forced route ignores); otherwise the registry
    decides. Raises UnsupportedLanguageError when nothing can summarize `lang`."""
    if options.summary_model and lang == UND:
        lang = ENGLISH
    return registry.summary_route(
        lang, allow_noncommercial=options.allow_noncommercial, force_model=options.summary_model
    )


def translation_route(src: str, tgt: str, options: RunOptions, registry: Registry) -> Route:
    """The route that translates text in `src` into `tgt`: one identity step when the languages are
    the same, else the registry's route (a forced `--translation-model`, a direct model, or two
    steps through English). Raises UnsupportedLanguageError for an undetermined source (no model
    can be chosen for it, even a forced one: its source-language token is unknown) or a pair
    nothing serves; the message is what the `translations` table's `error` column gets."""
    if src == tgt:
        return Route((Step(TRANSLATION, IDENTITY, src, tgt),))
    if src == UND:
        raise UnsupportedLanguageError("source language unknown (und); give it with --lang-col")
    return registry.translation_route(
        src, tgt, allow_noncommercial=options.allow_noncommercial, force_model=options.translation_model
    )


def route_name(route: Route) -> str:
    """The model column value a route leaves in the output tables: the model id, `identity`, or
    the ids of a pivot's steps joined with ` > `."""
    return " > ".join(step.model.id for step in route.steps)


def detection_of(article: Article, detector: _Detects) -> Detection:
    """The article's language as the pipeline takes it: a language given by the input (normalised
    and trusted), else the detector's verdict on title and text."""
    if article.lang:
        given = langcodes.normalise(article.lang)
        return Detection(given, 1.0, ((given, 1.0),), "given")
    return detector.detect(article.text, article.title)


def skip_reason(article: Article, detection: Detection) -> str | None:
    """Why the pipeline skips an article without calling a model (status `skipped`), or None."""
    if not article.text.strip():
        return "empty text"
    if detection.reason in _NOTHING and not article.lang:
        return f"nothing to summarize ({detection.reason})"
    return None


# ------------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class Job:
    """What one article asks of the models.

    Attributes:
        lang: The article's language (detected or given), `und` when unknown.
        fields: Which of `title` and `text` hold text; the summary is always asked for.
        skip: Why the article is skipped (no model runs for it), or None.
    """

    lang: str
    fields: frozenset[str] = frozenset({"text"})
    skip: str | None = None


def job_of(article: Article, detection: Detection) -> Job:
    """The `Job` for an article and its detected language."""
    fields = {name for name, value in (("title", article.title), ("text", article.text)) if value and value.strip()}
    return Job(detection.lang, frozenset(fields), skip_reason(article, detection))


@dataclass(frozen=True)
class Assignment:
    """One kind of work in a plan and who does it.

    Attributes:
        task: `summarization` or `translation`.
        field: The translated field (`summary`, `title`, `text`); None for a summary.
        source_lang: Language of the input text.
        target_lang: Language of the output (the source language for a summary).
        articles: How many articles need this work.
        route: The steps that do it; None when nothing can.
        error: Why nothing can do it (the message the run's rows will carry), else None.
    """

    task: str
    field: str | None
    source_lang: str
    target_lang: str
    articles: int
    route: Route | None = None
    error: str | None = None

    @property
    def model(self) -> str | None:
        """The model column value the run will write for this work (None when unserved)."""
        return route_name(self.route) if self.route else None

    def to_dict(self) -> dict[str, Any]:
        steps = self.route.steps if self.route else ()
        return {
            "task": self.task,
            "field": self.field,
            "source_lang": self.source_lang,
            "target_lang": self.target_lang,
            "articles": self.articles,
            "model": self.model,
            "pivot": bool(self.route and self.route.is_pivot),
            "steps": [
                {"task": s.task, "model": s.model.id, "source_lang": s.source_lang, "target_lang": s.target_lang}
                for s in steps
            ],
            "error": self.error,
        }


@dataclass(frozen=True)
class ModelUse:
    """One model a plan needs, with its licence and how many articles it serves.

    Attributes:
        info: The registry entry (or, for a forced model the registry does not list, a stub with
            family `auto` and licence `unknown`).
        tasks: The tasks it does in this plan.
        articles: Distinct articles it works on (a pivot's models count the pivoted articles).
        in_registry: Whether the registry lists it, so its licence is known.
        local: Whether it is a local folder (nothing to download).
    """

    info: ModelInfo
    tasks: tuple[str, ...]
    articles: int
    in_registry: bool
    local: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.info.id,
            "tasks": list(self.tasks),
            "articles": self.articles,
            "family": self.info.family,
            "licence": self.info.licence,
            "noncommercial": self.info.noncommercial,
            "allowed_by_default": self.info.allowed_by_default,
            "in_registry": self.in_registry,
            "local": self.local,
        }


@dataclass(frozen=True)
class RoutePlan:
    """Who does what in a run, before any model is loaded.

    Attributes:
        articles: Articles read (skipped ones included).
        skipped: Articles no model will see (empty text, nothing to detect).
        languages: Articles per language, most first.
        summaries: One assignment per language to summarize.
        translations: One per (field, source language, target language), in option order.
        models: Every model the routes use, most articles first.
        rejected: Input records that could not be read (they go to `rejects/` in a run).
    """

    articles: int
    skipped: int
    languages: dict[str, int]
    summaries: tuple[Assignment, ...]
    translations: tuple[Assignment, ...]
    models: tuple[ModelUse, ...] = ()
    rejected: int = 0

    @property
    def unserved(self) -> tuple[Assignment, ...]:
        """The work nothing can do: those rows will have status `error`."""
        return tuple(a for a in (*self.summaries, *self.translations) if a.error)

    def model_ids(self) -> list[str]:
        """Ids of the models the plan needs (identity excluded), in order of first use."""
        return [m.info.id for m in self.models]

    def to_dict(self) -> dict[str, Any]:
        return {
            "articles": self.articles,
            "skipped": self.skipped,
            "rejected": self.rejected,
            "languages": self.languages,
            "summaries": [a.to_dict() for a in self.summaries],
            "translations": [a.to_dict() for a in self.translations],
            "models": [m.to_dict() for m in self.models],
            "unserved": [a.to_dict() for a in self.unserved],
        }


def plan_inputs(
    inputs: Sequence[str], options: RunOptions, read_options: ReadOptions | None = None,
    *, registry: Registry | None = None, detector: _Detects | None = None,
) -> RoutePlan:
    """Read and detect every input record as `run` does with these options, and plan the routes.

    Streams: only counts per language are kept, however large the inputs. Raises UsageError for a
    missing input or column, or an invalid registry file, as `run` would before loading a model.
    """
    from .. import io
    from ..detect.detector import make_detector

    ropts = read_options or ReadOptions()
    names = [str(i) for i in inputs]
    reg = registry or Registry.load(options.registry)
    io.check_inputs(names)
    io.check_columns(names, ropts)
    det = detector or make_detector(options.detect)
    rejected = 0

    def jobs() -> Iterator[Job]:
        nonlocal rejected
        for rec in io.read_records(names, ropts):
            if isinstance(rec, Reject):
                rejected += 1
            else:
                yield job_of(rec, detection_of(rec, det))

    plan = plan_jobs(jobs(), options, reg)
    return replace(plan, rejected=rejected)


def plan_jobs(jobs: Iterable[Job], options: RunOptions, registry: Registry) -> RoutePlan:
    """Fold every article's job into a `RoutePlan`, deciding each route as the pipeline does.

    Mirrors the pipeline's order of consequences: an article whose summary cannot be routed fails
    before translation, so none of its fields are translated; `summary` is translated for every
    article that gets a summary, `title` only where there is one, `text` always.
    """
    total = skipped = 0
    langs: Counter[str] = Counter()
    # lang -> field -> articles; `summary` counts every article of the language.
    by_lang: dict[str, Counter[str]] = {}
    for job in jobs:
        total += 1
        langs[job.lang] += 1
        if job.skip is not None:
            skipped += 1
            continue
        counts = by_lang.setdefault(job.lang, Counter())
        counts["summary"] += 1
        for name in job.fields:
            counts[name] += 1
    order = sorted(by_lang, key=lambda lang: (-by_lang[lang]["summary"], lang))
    summaries: list[Assignment] = []
    translations: list[Assignment] = []
    for lang in order:
        n = by_lang[lang]["summary"]
        try:
            route = summary_route(lang, options, registry)
        except UnsupportedLanguageError as exc:
            summaries.append(Assignment(SUMMARIZATION, None, lang, lang, n, error=str(exc)))
            continue
        summaries.append(Assignment(SUMMARIZATION, None, lang, lang, n, route))
        for name in options.translate:
            count = by_lang[lang][name]
            if not count:
                continue
            for tgt in options.to:
                try:
                    translations.append(
                        Assignment(TRANSLATION, name, lang, tgt, count, translation_route(lang, tgt, options, registry))
                    )
                except UnsupportedLanguageError as exc:
                    translations.append(Assignment(TRANSLATION, name, lang, tgt, count, error=str(exc)))
    ordered = dict(sorted(langs.items(), key=lambda kv: (-kv[1], kv[0])))
    return RoutePlan(total, skipped, ordered, tuple(summaries), tuple(translations),
                tuple(_model_uses([*summaries, *translations], registry)))


def _model_uses(assignments: list[Assignment], registry: Registry) -> Iterator[ModelUse]:
    # The article sets of one language nest (title ⊆ text = summary = every article of the
    # language), so the distinct articles a model serves in a language is the largest count of
    # the assignments there that use it.
    first: dict[str, ModelInfo] = {}
    tasks: dict[str, dict[str, None]] = {}
    per_lang: dict[str, dict[str, int]] = {}
    for a in assignments:
        if a.route is None:
            continue
        for step in a.route.steps:
            if step.model.family == IDENTITY_FAMILY:
                continue
            mid = step.model.id
            first.setdefault(mid, step.model)
            tasks.setdefault(mid, {})[step.task] = None
            langs = per_lang.setdefault(mid, {})
            langs[a.source_lang] = max(langs.get(a.source_lang, 0), a.articles)
    uses = [
        ModelUse(info, tuple(tasks[mid]), sum(per_lang[mid].values()), registry.get(mid) is not None, is_local(mid))
        for mid, info in first.items()
    ]
    # Stable sort: ties keep the order of first use (summarizers before translators).
    yield from sorted(uses, key=lambda u: -u.articles)


__all__ = [
    "Assignment",
    "Job",
    "ModelUse",
    "RoutePlan",
    "detection_of",
    "job_of",
    "plan_inputs",
    "plan_jobs",
    "route_name",
    "skip_reason",
    "summary_route",
    "translation_route",
]
