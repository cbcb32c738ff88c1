"""Routing over the model registry: which model summarizes a language, which translates a pair.

The registry's entries and its TOML format are in `registry_file.py`; this module merges the
shipped file with a user's (`--registry`) and answers routing questions over the result.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UnsupportedLanguageError
from . import langcodes
from .registry_file import (
    AUTO_FAMILY,
    ENGLISH,
    IDENTITY_FAMILY,
    SHIPPED,
    SUMMARIZATION,
    TASKS,
    TRANSLATION,
    UND,
    ModelInfo,
    SizeInfo,
    read,
    shipped,
)

__all__ = [
    "AUTO_FAMILY", "ENGLISH", "IDENTITY", "IDENTITY_FAMILY", "SUMMARIZATION", "TASKS", "TRANSLATION", "UND", "ModelInfo",
    "Registry", "Route", "SizeInfo", "Step",
]

IDENTITY = ModelInfo(id="identity", family=IDENTITY_FAMILY, task=TRANSLATION, licence="none")


@dataclass(frozen=True)
class Step:
    """One generation step: run `model` for `task` on text in `source_lang`, giving `target_lang`."""

    task: str
    model: ModelInfo
    source_lang: str
    target_lang: str


@dataclass(frozen=True)
class Route:
    """The steps that turn an input into the wanted output: one step normally; a translation
    pivot is two (src -> en -> tgt); a summary pivot is translate -> en, summarize, translate back."""

    steps: tuple[Step, ...]

    @property
    def models(self) -> tuple[ModelInfo, ...]:
        return tuple(s.model for s in self.steps)

    @property
    def is_pivot(self) -> bool:
        return len(self.steps) > 1

    @property
    def is_identity(self) -> bool:
        return all(s.model.family == IDENTITY_FAMILY for s in self.steps)

    def describe(self) -> str:
        """One line for logs and the run manifest, e.g. `de->en Helsinki-NLP/opus-mt-de-en`."""
        parts = []
        for s in self.steps:
            what = s.source_lang if s.task == SUMMARIZATION else f"{s.source_lang}->{s.target_lang}"
            verb = "summarize " if s.task == SUMMARIZATION else ""
            parts.append(f"{verb}{what} {s.model.id}")
        return " | ".join(parts)


class Registry:
    """The models available for routing, in priority order, and the routing rules over them.
    Build it with `Registry.load`; routes are cached per instance."""

    def __init__(
        self,
        summarization: Iterable[ModelInfo],
        translation: Iterable[ModelInfo],
        *,
        sources: tuple[str, ...] = (),
        sizes: Iterable[SizeInfo] = (),
    ) -> None:
        self.summarization = tuple(summarization)
        self.translation = tuple(translation)
        self.sources = sources
        self.sizes = tuple(sizes)
        for m in self.summarization:
            if m.task != SUMMARIZATION:
                raise ValueError(f"{m.id} is a {m.task} model, listed for summarization")
        for m in self.translation:
            if m.task != TRANSLATION:
                raise ValueError(f"{m.id} is a {m.task} model, listed for translation")
        self._routes: dict[tuple[Any, ...], Route] = {}

    @classmethod
    def load(cls, path: str | Path | None = None) -> Registry:
        """Load the shipped registry, merged with the user file at `path` when given (see the
        module docstring for the format). Raises UsageError for an unreadable or invalid file."""
        base = shipped()
        if path is None:
            return cls(base.summarization, base.translation, sources=(str(SHIPPED),), sizes=base.sizes)
        user = read(Path(path))
        if user.replace:
            summ, trans = user.summarization, user.translation
            sources: tuple[str, ...] = (str(path),)
        else:
            summ = _merge(user.summarization, base.summarization)
            trans = _merge(user.translation, base.translation)
            sources = (str(SHIPPED), str(path))
        summ = tuple(m for m in summ if m.id not in user.exclude)
        trans = tuple(m for m in trans if m.id not in user.exclude)
        # Sizes are facts about Hub files, not routing choices: `replace` keeps the shipped ones.
        return cls(summ, trans, sources=sources, sizes=(*user.sizes, *base.sizes))

    def models(self) -> list[ModelInfo]:
        """Every model, summarizers first, each list in priority order."""
        return [*self.summarization, *self.translation]

    def get(self, model_id: str, task: str | None = None) -> ModelInfo | None:
        """The first entry with this id (and task, when given), or None."""
        return next((m for m in self.models() if m.id == model_id and (task is None or m.task == task)), None)

    def size_of(self, model_id: str) -> SizeInfo | None:
        """The recorded download size of a model: the first `[[sizes]]` entry whose id or glob
        matches, or None when none is recorded."""
        return next((s for s in self.sizes if s.matches(model_id)), None)

    def translation_candidates(self, src: str, tgt: str, *, allow_noncommercial: bool = False) -> list[ModelInfo]:
        """Single models that translate `src` into `tgt`, best first. A caller may fall back to
        the next one when a model cannot be fetched (some OPUS-MT ids are derived, not seen)."""
        s, t = langcodes.normalise(src), langcodes.normalise(tgt)
        if UND in (s, t):
            return []
        return [m for m in self.translation if m.reads(s) and m.writes(t) and m.usable(allow_noncommercial)]

    def translation_route(
        self,
        src: str,
        tgt: str,
        *,
        allow_noncommercial: bool = False,
        force_model: str | None = None,
        pivot: bool = True,
    ) -> Route:
        """Route a translation from `src` to `tgt`. Same language: one identity step. Otherwise
        `force_model` (bypasses routing; family `auto` unless the registry knows the id), else
        the first usable model serving the pair, else (with `pivot`) two steps through English.
        Raises UnsupportedLanguageError when nothing serves the pair, saying when a
        non-commercial model would have."""
        s, t = langcodes.normalise(src), langcodes.normalise(tgt)
        if t == UND:
            raise UnsupportedLanguageError("cannot translate into an undetermined language ('und')")
        if s == t:
            return Route((Step(TRANSLATION, IDENTITY, s, t),))
        if force_model:
            return Route((Step(TRANSLATION, self._forced(force_model, TRANSLATION), s, t),))
        if s == UND:
            raise UnsupportedLanguageError(
                f"cannot choose a model to translate into {t!r}: the source language was not detected ('und')"
            )
        key = (TRANSLATION, s, t, allow_noncommercial, pivot)
        if key not in self._routes:
            route = self._translation(s, t, allow_noncommercial, pivot)
            if route is None:
                raise self._no_translation(s, t, allow_noncommercial, pivot)
            self._routes[key] = route
        return self._routes[key]

    def summary_route(
        self, lang: str, *, allow_noncommercial: bool = False, force_model: str | None = None
    ) -> Route:
        """Route a summary of text in `lang`, written in `lang`. `force_model` bypasses routing;
        else the first usable summarizer that reads `lang` (the XL-Sum model for its 45
        languages); else a pivot: translate into English, summarize with the `english_pivot`
        model, translate the summary back. Non-commercial models marked `allowed_by_default`
        (XL-Sum) are used without `allow_noncommercial`; the flag also governs the pivot's
        translation steps. Raises UnsupportedLanguageError for `und` or when no route exists."""
        lang_n = langcodes.normalise(lang)
        if lang_n == UND:
            raise UnsupportedLanguageError("cannot summarize text whose language was not detected ('und')")
        if force_model:
            return Route((Step(SUMMARIZATION, self._forced(force_model, SUMMARIZATION), lang_n, lang_n),))
        key = (SUMMARIZATION, lang_n, allow_noncommercial)
        if key not in self._routes:
            self._routes[key] = self._summary(lang_n, allow_noncommercial)
        return self._routes[key]

    def _translation(self, s: str, t: str, allow: bool, pivot: bool) -> Route | None:
        direct = self.translation_candidates(s, t, allow_noncommercial=allow)
        if direct:
            return Route((Step(TRANSLATION, direct[0], s, t),))
        if pivot and ENGLISH not in (s, t):
            first = self.translation_candidates(s, ENGLISH, allow_noncommercial=allow)
            second = self.translation_candidates(ENGLISH, t, allow_noncommercial=allow)
            if first and second:
                return Route((Step(TRANSLATION, first[0], s, ENGLISH), Step(TRANSLATION, second[0], ENGLISH, t)))
        return None

    def _no_translation(self, s: str, t: str, allow: bool, pivot: bool) -> UnsupportedLanguageError:
        msg = f"no translation model for {_lang(s)} -> {_lang(t)}"
        if not allow:
            blocked = self._translation(s, t, True, pivot)
            nc = next((m for m in blocked.models if m.noncommercial), None) if blocked else None
            if nc is not None:
                msg += (
                    f"; {nc.id} would serve it but its licence ({nc.licence}) is non-commercial:"
                    " allow non-commercial models to use it"
                )
        return UnsupportedLanguageError(msg)

    def _summary(self, lang: str, allow: bool) -> Route:
        for m in self.summarization:
            if m.reads(lang) and m.usable(allow):
                return Route((Step(SUMMARIZATION, m, lang, lang),))
        english = next(
            (m for m in self.summarization if m.english_pivot and m.reads(ENGLISH) and m.usable(allow)), None
        )
        if english is None:
            raise UnsupportedLanguageError(
                f"no summarization model for {_lang(lang)}, and no English model marked english_pivot to pivot through"
            )
        try:
            there = self.translation_route(lang, ENGLISH, allow_noncommercial=allow, pivot=False)
            back = self.translation_route(ENGLISH, lang, allow_noncommercial=allow, pivot=False)
        except UnsupportedLanguageError as exc:
            raise UnsupportedLanguageError(
                f"no summarization model for {_lang(lang)}, and no pivot through English: {exc}"
            ) from exc
        return Route((*there.steps, Step(SUMMARIZATION, english, ENGLISH, ENGLISH), *back.steps))

    def _forced(self, model_id: str, task: str) -> ModelInfo:
        # A forced id the registry knows keeps its family and licence; anything else (a local
        # folder, an unlisted Hub id) is left for the backend to identify from its config.
        return self.get(model_id, task) or ModelInfo(id=model_id, family=AUTO_FAMILY, task=task)


def _lang(code: str) -> str:
    try:
        return f"{code} ({langcodes.language_name(code)})"
    except UnsupportedLanguageError:
        return code


def _merge(first: tuple[ModelInfo, ...], then: tuple[ModelInfo, ...]) -> tuple[ModelInfo, ...]:
    ids = {m.id for m in first}
    return (*first, *(m for m in then if m.id not in ids))


