"""Which weights a model name stands for: a Hub commit, or a local folder's content fingerprint.

A Hub id names its revision (the commit of the cached snapshot). A local folder has no revision:
new weights copied over old ones keep the same path, so the path alone cannot tell two models
apart. The fingerprint is a SHA-256 over the files that decide the outputs (weights, tokenizer,
config, generation config), each named by its path in the folder. Hashing gigabytes of weights
on every run would cost seconds, so each file's digest is cached by (resolved path, size, mtime)
in `$SUMMARIZE_CACHE/fingerprints.json` (default `~/.cache/summarize/`): a file rewritten in place
changes its mtime, which is what `make`, rsync and git all rely on too.

No model is loaded here, so a run can tell before loading anything whether a stored output was
made by the same model (`summarize.reuse`) and whether `--resume` may go on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from pathlib import Path

from ..models.downloads import is_local

log = logging.getLogger(__name__)

# Files whose content changes what a model writes. Weights by suffix; the rest by name, since a
# folder also holds READMEs, training logs and optimizer states that change nothing.
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".msgpack", ".h5", ".model", ".spm")
_NAMED = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
          "special_tokens_map.json", "added_tokens.json", "vocab.json", "vocab.txt", "merges.txt",
          "source.spm", "target.spm", "shared_vocabulary.json", "shared_vocabulary.txt")
_SKIPPED_PREFIXES = ("training_args", "optimizer", "scheduler", "rng_state")

_LOCK = threading.Lock()
_MEMO: dict[str, str] = {}  # folder -> fingerprint, for this process (the file cache is the durable one)


def cache_file() -> Path:
    """`$SUMMARIZE_CACHE/fingerprints.json`, else `~/.cache/summarize/fingerprints.json`."""
    base = os.environ.get("SUMMARIZE_CACHE")
    return (Path(base).expanduser() if base else Path.home() / ".cache" / "summarize") / "fingerprints.json"


def model_files(folder: Path) -> list[Path]:
    """The files of a model folder that decide its outputs, sorted by their path in the folder."""
    found = []
    for p in folder.rglob("*"):
        if not p.is_file() or p.name.startswith((".", *_SKIPPED_PREFIXES)):
            continue
        if p.suffix in _WEIGHT_SUFFIXES or p.name in _NAMED or p.name.startswith("vocab."):
            found.append(p)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _file_digest(path: Path, cache: dict[str, list[object]]) -> str:
    st = path.stat()
    key = str(path.resolve())
    hit = cache.get(key)
    if hit is not None and hit[:2] == [st.st_size, st.st_mtime_ns]:
        return str(hit[2])
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    cache[key] = [st.st_size, st.st_mtime_ns, h.hexdigest()]
    return h.hexdigest()


def _load_cache() -> dict[str, list[object]]:
    try:
        doc = json.loads(cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _save_cache(cache: dict[str, list[object]]) -> None:
    path = cache_file()
    # The cache only saves time: a read-only home or a full disk must not fail a run.
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
        tmp.write_text(json.dumps(cache), encoding="utf-8")
        os.replace(tmp, path)


def local_fingerprint(folder: str | Path) -> str:
    """`sha256:` + the hex digest over a model folder's output-deciding files (path and content of each).

    Each file's digest is cached by size and mtime, so a folder is read in full only when a file
    in it changed. Raises OSError when the folder cannot be read.
    """
    root = Path(folder).expanduser()
    files = model_files(root)
    with _LOCK:
        cache = _load_cache()
        before = dict(cache)
        h = hashlib.sha256()
        for f in files:
            h.update(f.relative_to(root).as_posix().encode() + b"\x00")
            h.update(_file_digest(f, cache).encode() + b"\n")
        if cache != before:
            _save_cache(cache)
    return "sha256:" + h.hexdigest()


def model_identity(model: str) -> str | None:
    """What the outputs of `model` depend on besides its name: a local folder's fingerprint, or the
    commit of a Hub model's cached snapshot; None when it cannot be told without loading it."""
    if is_local(model):
        key = str(Path(model).expanduser().resolve())
        try:
            fp = local_fingerprint(key)
        except OSError as exc:
            log.warning("cannot fingerprint model folder %s: %s", model, exc)
            return None
        _MEMO[key] = fp
        return fp
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(model, "config.json")
    except (ImportError, ValueError):  # not a repo id
        return None
    return Path(found).parent.name if isinstance(found, str) else None


def fingerprints(models: list[str | None]) -> dict[str, str]:
    """The fingerprint of each local folder among `models`, by the name the options give it."""
    out: dict[str, str] = {}
    for m in models:
        if m and is_local(m):
            fp = model_identity(m)
            if fp is not None:
                out[m] = fp
    return out


__all__ = ["cache_file", "fingerprints", "local_fingerprint", "model_files", "model_identity"]
