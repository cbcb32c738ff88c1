"""Reuse by content: a summary or a sentence translation made once is not generated again.

The memory maps a key to what a model call produced. A key is the SHA-256 of everything the
output depends on, and nothing else:

- summary: the model name and its identity (Hub commit or local folder fingerprint,
  `backends.fingerprint`), the backend, device and compute type that run it, the summary
  decoding options (batch sizes left out: they change speed, not the output of one input),
  `--long-input`, the prompt (a prompt file by its content), the language and the text the
  summarizer reads;
- sentence: the same model identity and runtime, the translation decoding options, the step's
  source and target language, and the sentence. This is an exact-match translation memory: a
  sentence that differs by one character is a miss.
- detect: the language the detector gives an article (title and text) or a short output (the
  wrong-language guard runs again on every reused output, and on hard cases lingua costs more
  than the reuse saves), keyed by the detection options, the tool version and the text.

A model whose identity cannot be told without loading it (a Hub id that is not cached) is never
reused, and a changed revision or fingerprint is a different key, so it never is either. The
memory holds only successful outputs; a failure is always retried.

This module holds the in-memory side (keys, lookups, the entries a run adds); `io/memory.py`
stores entries under `<out>/_summarize/memory/` and loads them back. Which rows came from the
memory travels with the records (`reused`) to the `reused` columns and the run's counts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import Any

from .options import RunOptions

# Bumped when what a stored value means, or how a key is made, changes: older entries then miss.
MEMORY_VERSION = "1"


class Kind(StrEnum):
    """What a memory entry holds."""

    SUMMARY = "summary"
    SENTENCE = "sentence"
    DETECT = "detect"  # the language of a short output, for the wrong-language guard


Entry = tuple[str, str, str]
"""One stored entry: (key, kind, value as JSON)."""


def _decoding(options: Any) -> dict[str, Any]:
    d = asdict(options)
    for speed_only in ("batch_size", "max_batch_tokens"):
        d.pop(speed_only, None)
    return d


def _prompt(prompt: str | None) -> str | None:
    """The prompt option as the summary depends on it: a file by its content, a name as itself."""
    if prompt and Path(prompt).is_file():
        return "sha256:" + hashlib.sha256(Path(prompt).read_bytes()).hexdigest()
    return prompt


def task_options(options: RunOptions, kind: Kind) -> dict[str, Any]:
    """The options that change one output of `kind` (the one list both the keys and the docs use)."""
    if kind is Kind.SUMMARY:
        return {"decoding": _decoding(options.summary), "long_input": options.long_input,
                "prompt": _prompt(options.prompt)}
    if kind is Kind.DETECT:
        from .version import __version__

        # The engines' tables ship with the tool: a new version may judge a text differently.
        return {"detect": asdict(options.detect), "tool": __version__}
    return {"decoding": _decoding(options.translation)}


class Memory:
    """The entries a run may reuse, and those it adds.

    Args:
        options: The run's options (decoding options and runtime go into the keys).
        entries: Stored entries, key -> JSON value (`io.memory.load`); later ones win.
        identity: Returns a model's identity (default `backends.fingerprint.model_identity`).
        runtime: What runs the models, e.g. {"backend": "ct2", "device": "cpu", "compute_type": None}.
        enabled: False for `--no-reuse`: nothing is looked up, but what the run generates is
            still stored (refreshing the memory).
    """

    def __init__(self, options: RunOptions, entries: Mapping[str, str] | None = None, *,
                 identity: Callable[[str], str | None] | None = None, runtime: Mapping[str, Any] | None = None,
                 enabled: bool = True) -> None:
        if identity is None:
            from .backends.fingerprint import model_identity

            identity = model_identity
        self.entries: dict[str, str] = dict(entries or {})
        self.new: list[Entry] = []
        self.enabled = enabled
        self.hits = 0
        self._identity = identity
        self._identities: dict[str, str | None] = {}
        self._runtime = dict(runtime or {})
        self._options = {k: json.dumps(task_options(options, k), sort_keys=True, default=str) for k in Kind}

    def identity(self, model: str) -> str | None:
        """The model's identity, worked out once per memory (a run)."""
        if model not in self._identities:
            self._identities[model] = self._identity(model)
        return self._identities[model]

    def key(self, kind: Kind, model: str, *parts: str) -> str | None:
        """The entry key of one output; None when the model's identity is unknown (never reused)."""
        ident = self.identity(model)
        if ident is None:
            return None
        blob = json.dumps([MEMORY_VERSION, str(kind), model, ident, self._runtime, self._options[kind], *parts],
                          ensure_ascii=False, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def detect_key(self, text: str, *, unit: str = "short") -> str:
        """The entry key of a text's detected language (no model involved): `short` for an output
        (`Detector.detect_short`), `article` for an article's title and text (`Detector.detect`)."""
        blob = json.dumps([MEMORY_VERSION, str(Kind.DETECT), unit, self._options[Kind.DETECT], text],
                          ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def get(self, key: str | None) -> dict[str, Any] | None:
        """The stored value of `key`, or None (also when reuse is off)."""
        if key is None or not self.enabled:
            return None
        found = self.entries.get(key)
        if found is None:
            return None
        self.hits += 1
        value: dict[str, Any] = json.loads(found)
        return value

    def put(self, key: str | None, kind: Kind, value: Mapping[str, Any]) -> None:
        """Remember a fresh output: visible to the rest of this run, and stored by the caller."""
        if key is None:
            return
        blob = json.dumps(dict(value), ensure_ascii=False, sort_keys=True)
        if self.entries.get(key) != blob:
            self.entries[key] = blob
            self.new.append((key, str(kind), blob))

    def learn(self, entries: Mapping[str, str]) -> None:
        """Take entries another writer of this run stored meanwhile (another Ray actor's shards):
        reused from now on (a key this memory holds keeps its value), never stored again by it."""
        for key, value in entries.items():
            self.entries.setdefault(key, value)

    def drain(self) -> list[Entry]:
        """The entries added since the last call (what the next memory file holds)."""
        out, self.new = self.new, []
        return out


def counts(results: Iterable[Any]) -> dict[str, dict[str, int]]:
    """Generated and reused rows per table for a run's `ArticleResult`s.

    A summary counts in `articles`; a translation in `translations` and each of its sentences in
    `segments`. Identity translations (source language = target) are neither: nothing was made.
    """
    out = {t: {"generated": 0, "reused": 0} for t in ("articles", "translations", "segments")}
    for r in results:
        if not hasattr(r, "translations"):  # a worker's tally (Ray): the worker counted it
            continue
        if r.summary is not None:
            out["articles"]["reused" if r.reused else "generated"] += 1
        for t in r.translations:
            if t.text is None or t.model == "identity":
                continue
            out["translations"]["reused" if t.reused else "generated"] += 1
            for s in t.segments:
                out["segments"]["reused" if s.reused else "generated"] += 1
    return out


def add_counts(total: dict[str, dict[str, int]], more: Mapping[str, Mapping[str, int]]) -> None:
    """Add `more` into `total` in place."""
    for table, c in more.items():
        for k, v in c.items():
            total.setdefault(table, {}).setdefault(k, 0)
            total[table][k] += v


__all__ = ["MEMORY_VERSION", "Entry", "Kind", "Memory", "add_counts", "counts", "task_options"]
