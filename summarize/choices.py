"""The choice sets: each spelled once, here. The CLI's choices, the options' checks and the engines'
lookups all read these, and `options` re-exports them beside the options that use them."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from .errors import UsageError

# StrEnum members compare equal to (and serialise as) their strings, so manifests, hashes and the
# Python API's plain strings are unchanged.


class Task(StrEnum):
    """What a model does."""

    summarization = "summarization"
    translation = "translation"


class DetectorName(StrEnum):
    """Language detection engines: the ensemble or one engine alone."""

    ensemble = "ensemble"
    langdetect = "langdetect"
    fasttext = "fasttext"
    lingua = "lingua"


class OnDuplicate(StrEnum):
    """What reading does with a repeated article id."""

    all = "all"
    first = "first"
    last = "last"
    error = "error"


class LongInput(StrEnum):
    """What happens to an article over the model's input limit."""

    chunk = "chunk"
    truncate = "truncate"


class Device(StrEnum):
    """Where models run."""

    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Backend(StrEnum):
    """The inference engine."""

    auto = "auto"
    torch = "torch"
    ct2 = "ct2"


class TableFormat(StrEnum):
    """How the output tables are stored."""

    parquet = "parquet"
    delta = "delta"


class EngineName(StrEnum):
    """Where shards are processed: this process, or Ray actors."""

    local = "local"
    ray = "ray"


class Extract(StrEnum):
    """What reading does to web pages and text dumps (`--extract`)."""

    main = "main"  # the article alone: main-content extraction for pages, header and chrome lines for dumps
    all = "all"  # every visible text of a page (markup stripped); dumps as for `main`
    none = "none"  # the text as given: markup kept (flagged `html`), dumps untouched


_E = TypeVar("_E", bound=StrEnum)


def choice(kind: type[_E], value: str | _E, flag: str) -> _E:
    """`value` as a member of `kind`, or a UsageError that names the flag and the choices."""
    try:
        return kind(value)
    except ValueError:
        names = [m.value for m in kind]
        raise UsageError(f"{flag} must be {', '.join(names[:-1])} or {names[-1]}, not {value!r}") from None


