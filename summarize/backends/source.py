"""The text side every backend shares: tokenizer and config loading, family, language tokens, decoding.

A backend (transformers or CTranslate2) only differs in how it runs the network. What goes in
(the tokenizer's ids, the source-language code the tokenizer adds, the `>>xx<<` label of a
multi-target Marian model, the forced first target token of M2M100/NLLB/mBART-50) and what
comes out (text and token counts) is decided here once, so both backends produce the same
outputs for the same options.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..errors import ModelError, UnsupportedLanguageError
from ..models import langcodes
from ..models.downloads import is_local
from ..options import GenerationOptions
from .base import Output

log = logging.getLogger(__name__)

# Families whose target language is the forced first decoder token.
FORCED_BOS = ("m2m100", "nllb", "mbart50")
# Families that must never run in float16 (activations overflow); bf16 is fine.
NO_FP16 = ("t5", "mt5", "flan-t5", "mt0", "madlad")


def fetch_error(model: str, exc: BaseException) -> ModelError:
    """The one-sentence error for a model that can be neither found locally nor fetched."""
    return ModelError(
        f"Could not fetch model '{model}' from the Hugging Face Hub ({type(exc).__name__}); "
        f"download it where the Hub is reachable (summarize models fetch) or point the tool at a local "
        f"model folder with --summary-model PATH / --translation-model PATH."
    )


def load_error(model: str, local: bool, exc: BaseException) -> ModelError:
    """The error for a model whose files are missing or unreadable."""
    if local:
        return ModelError(f"Could not load model folder '{model}': {exc}")
    return fetch_error(model, exc)


@dataclass(frozen=True)
class Source:
    """A model resolved to what loads it, with its tokenizer and config already read.

    Attributes:
        model: The Hub id or folder as the user gave it (the name outputs record).
        path: What `from_pretrained` takes: the id, or the expanded folder path.
        local: Whether `model` is a local folder.
        config: The transformers config.
        tokenizer: The loaded tokenizer.
        generation: The model's generation config (its defaults, such as a forced end token).
        family: The model family (`langcodes.family_of`, refined by the tokenizer class).
        revision: The Hub commit of the files used; None for a local folder.
    """

    model: str
    path: str
    local: bool
    config: Any
    tokenizer: Any
    generation: Any
    family: str
    revision: str | None


# model_type -> tokenizer class, for a tokenizer_config.json that does not name its class (older
# opus-mt uploads); other types go through AutoTokenizer.
_TOKENIZER_OF_TYPE = {"marian": "MarianTokenizer", "t5": "T5Tokenizer", "mt5": "T5Tokenizer",
                      "m2m_100": "M2M100Tokenizer"}


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _cached_folder(model: str) -> tuple[Path, str | None] | None:
    """A local folder, or the cached snapshot of a Hub id when the Hub cannot be reached (the
    snapshot's name is its commit); None when neither applies."""
    if is_local(model):
        return Path(model).expanduser(), None
    from ..models.downloads import hub_reachable

    if hub_reachable():
        return None  # online, transformers resolves the newest revision
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(model, local_files_only=True))
    except Exception:  # not cached, or a bad id: the full path says which
        return None
    return folder, folder.name


def load_source_light(model: str) -> Source | None:
    """`load_source` without transformers' config classes, which import torch (about a second):
    config.json is read as plain attributes and the tokenizer class named by tokenizer_config.json
    is loaded directly. For backends that never touch torch (CTranslate2). None when the model
    is not a local folder or cached snapshot, or its files do not name what to load: the caller
    then uses `load_source`.
    """
    found = _cached_folder(model)
    if found is None:
        return None
    import transformers
    from transformers import GenerationConfig

    folder, revision = found
    config_doc = _read_json(folder / "config.json")
    tok_doc = _read_json(folder / "tokenizer_config.json") or {}
    if config_doc is None or not (folder / "generation_config.json").is_file():
        return None
    model_type = str(config_doc.get("model_type", ""))
    tok_name = str(tok_doc.get("tokenizer_class") or _TOKENIZER_OF_TYPE.get(model_type) or "")
    # Only a tokenizer class: the file is the model's, and a model folder is not trusted code.
    tok_class = getattr(transformers, tok_name, None) if tok_name.endswith(("Tokenizer", "TokenizerFast")) else None
    if tok_class is None or tok_name.startswith("Auto"):
        return None
    try:
        tokenizer = tok_class.from_pretrained(str(folder))
        generation = GenerationConfig.from_pretrained(str(folder))
    except (OSError, ValueError) as exc:
        raise load_error(model, revision is None, exc) from exc
    config = SimpleNamespace(**config_doc)
    path = str(folder) if revision is None else model
    return Source(model, path, revision is None, config, tokenizer, generation,
                  _family(model_type, model, tokenizer), revision)


def _family(model_type: str, model: str, tokenizer: Any) -> str:
    family = langcodes.family_of(model_type, model)
    # The architecture alone cannot tell NLLB from M2M100 or mBART-50 from mBART; the tokenizer can.
    tok_class = type(tokenizer).__name__
    if tok_class.startswith("Nllb"):
        return "nllb"
    if tok_class.startswith("MBart50"):
        return "mbart50"
    return family


def load_source(model: str) -> Source:
    """Read a model's config, tokenizer and generation config from a folder or the Hub cache.

    Raises ModelError with one clear sentence when the files cannot be found or fetched; the
    weights are left to the backend, which loads (or converts) them its own way.
    """
    from transformers import AutoConfig, AutoTokenizer, GenerationConfig

    from ..models.downloads import hub_reachable

    local = is_local(model)
    path = str(Path(model).expanduser()) if local else model
    # Cache only when the Hub cannot be reached: one quick check instead of the client's retries.
    cache_only = local or not hub_reachable()
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=cache_only)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=cache_only)
    except (OSError, ValueError) as exc:
        raise load_error(model, local, exc) from exc
    try:
        generation = GenerationConfig.from_pretrained(path, local_files_only=cache_only)
    except (OSError, ValueError):
        # Older checkpoints keep their generation defaults in config.json only.
        generation = GenerationConfig.from_model_config(config)
    family = _family(getattr(config, "model_type", ""), model, tokenizer)
    revision = None if local else (getattr(config, "_commit_hash", None) or _cached_commit(model))
    return Source(model, path, local, config, tokenizer, generation, family, revision)


def _cached_commit(model: str) -> str | None:
    """The commit of the cached config.json of a Hub model (transformers 5 no longer keeps it on
    the config): the name of the snapshot folder it lies in."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(model, "config.json")
    return Path(found).parent.name if isinstance(found, str) else None


@dataclass(frozen=True)
class Decoding:
    """The decoding settings of one `generate_batch` call, in the terms both backends understand.

    Attributes:
        max_new_tokens: Most tokens generated, the forced target-language token included.
        min_new_tokens: Fewest tokens generated before the end token may come (0: no minimum).
        num_beams: Beam width; 1 is greedy.
        no_repeat_ngram_size: Forbid repeating n-grams of this size (0 disables).
        repetition_penalty: >1 discourages repeated tokens.
        length_penalty: Beam-search length penalty.
        forced_eos: The model's generation config forces the end token as the last of
            `max_new_tokens` (Marian, mBART); a backend without that rule stops one token early.
    """

    max_new_tokens: int
    min_new_tokens: int
    num_beams: int
    no_repeat_ngram_size: int
    repetition_penalty: float
    length_penalty: float
    forced_eos: bool


def decoding(options: GenerationOptions, generation: Any, *, max_new_tokens: int | None,
             min_new_tokens: int | None) -> Decoding:
    """Merge the run's options, the per-call limits and the model's own generation defaults."""
    limit = max_new_tokens or options.max_new_tokens
    # transformers counts the decoder start token in `min_length`; new tokens are one fewer.
    config_min = max(0, int(getattr(generation, "min_length", 0) or 0) - 1)
    return Decoding(
        max_new_tokens=limit,
        min_new_tokens=min(limit, max(min_new_tokens or 0, config_min)),
        num_beams=options.num_beams,
        no_repeat_ngram_size=options.no_repeat_ngram_size,
        repetition_penalty=options.repetition_penalty,
        length_penalty=options.length_penalty,
        forced_eos=getattr(generation, "forced_eos_token_id", None) is not None,
    )


@dataclass(frozen=True)
class Prepared:
    """A batch ready for a backend: the texts as the tokenizer must see them, and the forced first
    target token (for M2M100, NLLB, mBART-50), if any."""

    texts: list[str]
    target_token: str | None


def input_limit(tokenizer: Any, config: Any) -> int:
    """The model's input limit in tokens: the tokenizer's, else the position embeddings', else 512."""
    limit = getattr(tokenizer, "model_max_length", None)
    if not isinstance(limit, int) or limit > 100_000:
        limit = getattr(config, "max_position_embeddings", None) or 512
    return int(limit)


class TextCodec:
    """Texts to input ids and generated ids back to `Output`s for one model, with its language tokens.

    Not thread-safe: `prepare` sets the tokenizer's source language for the batch that follows.
    """

    def __init__(self, name: str, tokenizer: Any, family: str, max_input_tokens: int) -> None:
        self.name = name
        self.tokenizer = tokenizer
        self.family = family
        self.max_input_tokens = max_input_tokens
        self._target_labels = [t for t in tokenizer.get_vocab() if t.startswith(">>") and t.endswith("<<")]
        self._special = frozenset(int(i) for i in tokenizer.all_special_ids)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Input tokens of each text, special tokens included."""
        if not texts:
            return []
        enc = self.tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
        return [len(ids) for ids in enc]

    def prepare(self, texts: Sequence[str], *, source_lang: str | None, target_lang: str | None) -> Prepared:
        """Set the source language on the tokenizer and add the target label or pick the forced token.

        Raises UnsupportedLanguageError when the model has no token for either language.
        """
        self._set_source(source_lang)
        prefix = self._target_prefix(target_lang)
        token = self.target_token(target_lang) if self.family in FORCED_BOS and target_lang else None
        return Prepared([prefix + t for t in texts] if prefix else list(texts), token)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Input ids of each text, cut at the model's input limit (the planner keeps texts within it)."""
        enc = self.tokenizer(list(texts), truncation=True, max_length=self.max_input_tokens)["input_ids"]
        return [list(ids) for ids in enc]

    def token_id(self, token: str) -> int:
        """The id of a token that must exist (a language token), else UnsupportedLanguageError."""
        tid = self.tokenizer.convert_tokens_to_ids(token)
        if tid is None or tid == self.tokenizer.unk_token_id:
            raise UnsupportedLanguageError(f"model {self.name} has no language token {token!r}")
        return int(tid)

    def target_token(self, lang: str) -> str:
        """The forced first decoder token for target `lang` (`__de__`, `deu_Latn`, `de_DE`)."""
        code = langcodes.family_code(self.family, lang)
        token = code
        if self.family == "m2m100" and not code.startswith("__"):
            token = f"__{code}__"
        tid = self.tokenizer.convert_tokens_to_ids(token)
        if tid is None or tid == self.tokenizer.unk_token_id:
            raise UnsupportedLanguageError(f"model {self.name} has no language token {token!r} for '{lang}'")
        return token

    def outputs(self, rows: Sequence[Sequence[int]]) -> list[Output]:
        """Generated ids to text and a token count that leaves out special tokens (start, language, end)."""
        decoded = self.tokenizer.batch_decode([list(r) for r in rows], skip_special_tokens=True)
        pad = self.tokenizer.pad_token_id
        results = []
        for row, text in zip(rows, decoded, strict=True):
            n = sum(1 for t in row if t != pad and t not in self._special)
            results.append(Output(text.strip(), n))
        return results

    def _target_prefix(self, target_lang: str | None) -> str:
        if target_lang is None:
            return ""
        if self.family == "marian" and self._target_labels:
            token = langcodes.marian_target_token(target_lang, self._target_labels)
            if token is None:
                raise UnsupportedLanguageError(f"model {self.name} has no target token for language '{target_lang}'")
            return token + " "
        if self.family == "madlad":
            return langcodes.family_code("madlad", target_lang) + " "
        return ""

    def _set_source(self, source_lang: str | None) -> None:
        if self.family not in FORCED_BOS or not source_lang or source_lang == "und":
            return
        code = langcodes.family_code(self.family, source_lang)
        if self.family == "m2m100":
            code = code.strip("_")
        if self.family != "m2m100" and self.tokenizer.convert_tokens_to_ids(code) == self.tokenizer.unk_token_id:
            # mBART-50 and NLLB tokenizers accept an unknown code silently and prefix <unk>.
            raise UnsupportedLanguageError(f"model {self.name} has no source language token {code!r} for '{source_lang}'")
        try:
            self.tokenizer.src_lang = code
        except (KeyError, ValueError) as exc:
            raise UnsupportedLanguageError(f"model {self.name} does not support source language '{source_lang}'") from exc
