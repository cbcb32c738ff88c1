"""The registry file: its entries (`ModelInfo`, `SizeInfo`) and how a TOML file of them is read and checked.

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
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import UsageError
from . import langcodes

SUMMARIZATION = "summarization"
TRANSLATION = "translation"
TASKS = (SUMMARIZATION, TRANSLATION)
IDENTITY_FAMILY = "identity"
AUTO_FAMILY = "auto"
ENGLISH = "en"
UND = langcodes.UNDETERMINED

SHIPPED = Path(__file__).parent.parent / "data" / "registry.toml"
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


@cache
def shipped() -> _Spec:
    return read(SHIPPED)


def read(path: Path) -> _Spec:
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

