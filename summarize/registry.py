"""Model registry and routing: which model summarizes a language, which translates a pair.

The registry is a TOML file shipped as `summarize/data/registry.toml`. A user file given with
`--registry` has the same format and is merged over it. Top-level keys:

* `format = 1` (optional).
* `replace = true` drops the shipped lists and keeps only the user's; otherwise the user's
  entries come first (so they win) and a shipped entry with the same `id` is dropped.
* `exclude = ["facebook/nllb-200-distilled-600M"]` removes entries by id.
* `[[summarization]]` and `[[translation]]` tables, in priority order. Keys of a model entry:
  `id` (Hub id or local folder, required), `family` (a `langcodes.FAMILIES` name, or `auto` to let
  the backend read it from the model's config; default `auto`), `languages` (what it reads: a
  list of codes, a shipped table name such as `xlsum`, `m2m100`, `nllb`, or `any`; default
  `any`), `targets` (translation only: what it writes; default: the same as `languages`),
  `licence`, `noncommercial`, `allowed_by_default` (non-commercial but usable without opt-in),
  `default`, `english_pivot` (the English summarizer used for pivoting), `target_token`
  (`no`, `required`, `unverified`: whether a Marian model needs a `>>tgt<<` label) and `notes`.
* A translation entry may instead hold `pairs = "file.tsv"` (relative to the TOML file): a
  tab-separated table with columns `src`, `tgt`, `model` and optionally `tgt_token`, one
  bilingual model per row, plus `family`, `licence`, `noncommercial` for all its rows.
* `[[sizes]]` tables: download sizes for plans made without the Hub. Keys: `id` (a model id, or
  a glob over ids such as `Helsinki-NLP/opus-mt-tc-big-*`; the first match wins, a user file's
  first), `bytes` (what a load fetches: weights in one format, config, tokenizer), `size_source`
  (where the figure comes from and when it was read: required), `estimate` (true for a figure
  shared by a family of models) and `notes`.
"""

from __future__ import annotations

import csv
import fnmatch
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from . import langcodes
from .errors import UnsupportedLanguageError, UsageError

SUMMARIZATION = "summarization"
TRANSLATION = "translation"
TASKS = (SUMMARIZATION, TRANSLATION)
IDENTITY_FAMILY = "identity"
AUTO_FAMILY = "auto"
ENGLISH = "en"
UND = langcodes.UNDETERMINED

_SHIPPED = Path(__file__).parent / "data" / "registry.toml"
_TOKEN_MODES = ("no", "required", "unverified")
_MODEL_KEYS = frozenset(
    {
        "id", "family", "languages", "targets", "licence", "noncommercial", "allowed_by_default",
        "default", "english_pivot", "target_token", "notes",
    }
)  # fmt: skip
_PAIRS_KEYS = frozenset({"pairs", "family", "licence", "noncommercial", "allowed_by_default", "notes"})
_SIZE_KEYS = frozenset({"id", "bytes", "size_source", "estimate", "notes"})
_TOP_KEYS = frozenset({"format", "replace", "exclude", "sizes", SUMMARIZATION, TRANSLATION})
# A Norwegian OPUS-MT model reads both written standards; it writes either only when it takes a
# target label (`>>nob<<` / `>>nno<<`), which all the shipped ones do.
_NORWEGIAN = frozenset({"no", "nb", "nn"})


@dataclass(frozen=True)
class ModelInfo:
    """One model the router may choose.

    Attributes:
        id: Hub id or local folder.
        family: A `langcodes.FAMILIES` name, `identity` (no model: the text is already in the
            target language) or `auto` (the backend reads it from the model's config).
        task: `summarization` or `translation`.
        languages: Languages it reads (a summarizer also writes them); empty means any.
        targets: Languages a translation model writes; empty means any.
        licence: SPDX-style licence id of the weights.
        noncommercial: The licence forbids commercial use; routing needs an opt-in.
        allowed_by_default: Non-commercial, yet used without opt-in (the project default model).
        default: The project's default model for its task.
        english_pivot: The English summarizer used when a language has none of its own.
        target_token: For Marian models: `required` when inputs need a `>>tgt<<` label, `no`
            when they must not have one, `unverified` when the tokenizer's vocabulary decides.
        notes: Free text for people.
    """

    id: str
    family: str
    task: str
    languages: frozenset[str] = frozenset()
    targets: frozenset[str] = frozenset()
    licence: str = "unknown"
    noncommercial: bool = False
    allowed_by_default: bool = False
    default: bool = False
    english_pivot: bool = False
    target_token: str = "no"
    notes: str = ""

    def reads(self, lang: str) -> bool:
        return not self.languages or lang in self.languages

    def writes(self, lang: str) -> bool:
        return not self.targets or lang in self.targets

    def usable(self, allow_noncommercial: bool) -> bool:
        return not self.noncommercial or self.allowed_by_default or allow_noncommercial


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


@dataclass(frozen=True)
class SizeInfo:
    """A recorded download size, for plans made without the Hub.

    Attributes:
        id: The model id, or a glob over ids (`Helsinki-NLP/opus-mt-tc-big-*`).
        bytes: Bytes a load fetches: the weights in one format, config and tokenizer files.
        size_source: Where the figure comes from and when it was read.
        estimate: True for one figure shared by a family of models (shown as "about").
        notes: Free text for people (which files, which sizes were seen).
    """

    id: str
    bytes: int
    size_source: str
    estimate: bool = False
    notes: str = ""

    def matches(self, model_id: str) -> bool:
        return model_id == self.id or (any(c in self.id for c in "*?[") and fnmatch.fnmatchcase(model_id, self.id))


@dataclass(frozen=True)
class _Spec:
    """One parsed registry file."""

    summarization: tuple[ModelInfo, ...]
    translation: tuple[ModelInfo, ...]
    replace: bool = False
    exclude: frozenset[str] = frozenset()
    sizes: tuple[SizeInfo, ...] = ()


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
        shipped = _shipped()
        if path is None:
            return cls(shipped.summarization, shipped.translation, sources=(str(_SHIPPED),), sizes=shipped.sizes)
        user = _read(Path(path))
        if user.replace:
            summ, trans = user.summarization, user.translation
            sources: tuple[str, ...] = (str(path),)
        else:
            summ = _merge(user.summarization, shipped.summarization)
            trans = _merge(user.translation, shipped.translation)
            sources = (str(_SHIPPED), str(path))
        summ = tuple(m for m in summ if m.id not in user.exclude)
        trans = tuple(m for m in trans if m.id not in user.exclude)
        # Sizes are facts about Hub files, not routing choices: `replace` keeps the shipped ones.
        return cls(summ, trans, sources=sources, sizes=(*user.sizes, *shipped.sizes))

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


@cache
def _shipped() -> _Spec:
    return _read(_SHIPPED)


def _read(path: Path) -> _Spec:
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise UsageError(f"cannot read registry file {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"registry file {path} is not valid TOML: {exc}") from exc
    where = str(path)
    _no_unknown_keys(doc, _TOP_KEYS, where)
    if doc.get("format", 1) != 1:
        raise UsageError(f"{where}: unsupported registry format {doc['format']!r} (this version reads 1)")
    exclude = doc.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(x, str) for x in exclude):
        raise UsageError(f"{where}: exclude must be a list of model ids")
    lists: dict[str, list[ModelInfo]] = {SUMMARIZATION: [], TRANSLATION: []}
    for task, out in lists.items():
        entries = doc.get(task, [])
        if not isinstance(entries, list):
            raise UsageError(f"{where}: {task} must be an array of tables ([[{task}]])")
        for i, entry in enumerate(entries, 1):
            at = f"{where}: [[{task}]] entry {i}"
            if not isinstance(entry, dict):
                raise UsageError(f"{at} is not a table")
            if "pairs" in entry:
                if task != TRANSLATION:
                    raise UsageError(f"{at}: pairs tables are for translation only")
                out.extend(_pairs(entry, path.parent, at))
            else:
                out.append(_model(entry, task, at))
    sizes = doc.get("sizes", [])
    if not isinstance(sizes, list):
        raise UsageError(f"{where}: sizes must be an array of tables ([[sizes]])")
    return _Spec(
        summarization=tuple(lists[SUMMARIZATION]),
        translation=tuple(lists[TRANSLATION]),
        replace=_bool(doc, "replace", where),
        exclude=frozenset(exclude),
        sizes=tuple(_size(entry, f"{where}: [[sizes]] entry {i}") for i, entry in enumerate(sizes, 1)),
    )


def _size(entry: Any, at: str) -> SizeInfo:
    if not isinstance(entry, dict):
        raise UsageError(f"{at} is not a table")
    _no_unknown_keys(entry, _SIZE_KEYS, at)
    model_id, source = _str(entry, "id", at, ""), _str(entry, "size_source", at, "")
    if not model_id:
        raise UsageError(f"{at}: id is required")
    if not source:
        raise UsageError(f"{at}: size_source is required (where the figure comes from, and when)")
    size = entry.get("bytes")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise UsageError(f"{at}: bytes must be a positive integer")
    return SizeInfo(model_id, size, source, _bool(entry, "estimate", at), _str(entry, "notes", at, ""))


def _model(entry: Mapping[str, Any], task: str, at: str) -> ModelInfo:
    _no_unknown_keys(entry, _MODEL_KEYS, at)
    model_id = _str(entry, "id", at, "")
    if not model_id:
        raise UsageError(f"{at}: id is required")
    languages = _languages(entry.get("languages", "any"), at)
    targets = _languages(entry["targets"], at) if "targets" in entry else languages
    if task == SUMMARIZATION and "targets" in entry:
        raise UsageError(f"{at}: targets is for translation models (a summarizer writes what it reads)")
    token = _str(entry, "target_token", at, "no")
    if token not in _TOKEN_MODES:
        raise UsageError(f"{at}: target_token must be one of {', '.join(_TOKEN_MODES)}, not {token!r}")
    return ModelInfo(
        id=model_id,
        family=_family(entry, at),
        task=task,
        languages=languages,
        targets=targets,
        licence=_str(entry, "licence", at, "unknown"),
        noncommercial=_bool(entry, "noncommercial", at),
        allowed_by_default=_bool(entry, "allowed_by_default", at),
        default=_bool(entry, "default", at),
        english_pivot=_bool(entry, "english_pivot", at),
        target_token=token,
        notes=_str(entry, "notes", at, ""),
    )


def _pairs(entry: Mapping[str, Any], base: Path, at: str) -> list[ModelInfo]:
    _no_unknown_keys(entry, _PAIRS_KEYS, at)
    table = base / _str(entry, "pairs", at, "")
    proto = ModelInfo(
        id="",
        family=_family(entry, at),
        task=TRANSLATION,
        licence=_str(entry, "licence", at, "unknown"),
        noncommercial=_bool(entry, "noncommercial", at),
        allowed_by_default=_bool(entry, "allowed_by_default", at),
        notes=_str(entry, "notes", at, ""),
    )
    try:
        with table.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
    except OSError as exc:
        raise UsageError(f"{at}: cannot read pairs table {table}: {exc.strerror or exc}") from exc
    out = []
    for n, row in enumerate(rows, 2):
        src, tgt, model_id = row.get("src"), row.get("tgt"), row.get("model")
        if not (src and tgt and model_id):
            raise UsageError(f"{table}:{n}: needs src, tgt and model columns")
        token = row.get("tgt_token") or "unverified"
        if token not in _TOKEN_MODES:
            raise UsageError(f"{table}:{n}: tgt_token must be one of {', '.join(_TOKEN_MODES)}")
        s, t = langcodes.normalise(src), langcodes.normalise(tgt)
        sources = _NORWEGIAN if s in _NORWEGIAN else frozenset({s})
        targets = _NORWEGIAN if t == "no" and token != "no" else frozenset({t})
        out.append(replace(proto, id=model_id, languages=sources, targets=targets, target_token=token))
    return out


def _languages(value: Any, at: str) -> frozenset[str]:
    if isinstance(value, str):
        if value == "any":
            return frozenset()
        try:
            return langcodes.language_set(value)
        except ValueError as exc:
            raise UsageError(f"{at}: {exc}") from exc
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(langcodes.normalise(v) for v in value)
    raise UsageError(f"{at}: languages/targets must be a list of codes or a table name, not {value!r}")


def _family(entry: Mapping[str, Any], at: str) -> str:
    family = _str(entry, "family", at, AUTO_FAMILY)
    if family != AUTO_FAMILY and family not in langcodes.FAMILIES:
        raise UsageError(f"{at}: unknown family {family!r}; use auto or one of {', '.join(langcodes.FAMILIES)}")
    return family


def _str(entry: Mapping[str, Any], key: str, at: str, default: str) -> str:
    value = entry.get(key, default)
    if not isinstance(value, str):
        raise UsageError(f"{at}: {key} must be a string")
    return value


def _bool(entry: Mapping[str, Any], key: str, at: str) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise UsageError(f"{at}: {key} must be true or false")
    return value


def _no_unknown_keys(entry: Mapping[str, Any], allowed: frozenset[str], at: str) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise UsageError(f"{at}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
