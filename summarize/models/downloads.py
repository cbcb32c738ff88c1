"""What a run will download before the first summary: sizes, cache status, and a fast offline check.

`plan_downloads(model_ids)` tells, for each model a plan names, how many bytes a load fetches,
where that figure comes from and whether the files are already in the Hugging Face cache:

* with the Hub reachable, sizes come from its file metadata (`HfApi.model_info(files_metadata=True)`),
  summing the files a load reads (`load_files`): the weights in one format (safetensors over
  `pytorch_model*.bin`, never TF/Flax/Rust/ONNX), config and tokenizer files;
* without it, from the `[[sizes]]` tables of the registry (each with its source and date);
* a local folder is measured on disk; a model with no figure anywhere has an unknown size.

`hub_reachable()` is one connection attempt to the Hub endpoint (`HF_ENDPOINT`), bounded by a
timeout and never retried, and False at once under `HF_HUB_OFFLINE`. A fetch that consults it
first can go straight to the cache (`local_files_only=True`) instead of spending half a minute in
the Hub client's retries before it fails.

No torch, no Typer: only huggingface_hub (already a dependency of transformers) and the registry.
The backends consult `hub_reachable` before every load, so this module imports nothing of them.
"""

from __future__ import annotations

import json
import os
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .registry import Registry

HUB = "hub"
REGISTRY = "registry"
LOCAL = "local"
UNKNOWN = "unknown"

_TRUE = {"1", "on", "yes", "true"}
# Files transformers reads besides the weights: configs and every tokenizer format.
_CONFIG_FILES = frozenset({
    "config.json", "generation_config.json", "tokenizer_config.json", "special_tokens_map.json",
    "added_tokens.json", "tokenizer.json", "vocab.json", "vocab.txt", "merges.txt",
})  # fmt: skip
_TOKENIZER_SUFFIXES = (".model", ".spm")
# Any one of these makes a cached snapshot loadable as a tokenizer (checked when the Hub's file
# list is not available to say exactly which are needed).
_TOKENIZER_ANY = ("tokenizer.json", "spiece.model", "sentencepiece.bpe.model", "source.spm", "vocab.json", "vocab.txt")
_WEIGHTS = (
    ("model.safetensors", "model.safetensors.index.json"),
    ("pytorch_model.bin", "pytorch_model.bin.index.json"),
)
_REACH_TTL_S = 30.0
_reach_memo: dict[str, tuple[float, bool]] = {}


def is_local(model: str) -> bool:
    """A model given as an existing folder (rather than a Hub id); the one test every stage uses."""
    return Path(model).expanduser().is_dir()


# ------------------------------------------------------------------------------ records


@dataclass(frozen=True)
class ModelDownload:
    """One model of a plan, as a download.

    Attributes:
        id: Hub id or local folder, as the plan names it.
        size_bytes: Bytes a load fetches (a local folder: its size on disk); None when unknown.
        size_source: `hub` (the Hub's file metadata), `registry` (a recorded figure), `local`
            (measured on disk) or `unknown`.
        cached: The files a load needs are already in the Hugging Face cache.
        estimate: The size is one figure recorded for a family of models.
        source_note: Where a registry figure comes from and when it was read.
    """

    id: str
    size_bytes: int | None
    size_source: str
    cached: bool
    estimate: bool = False
    source_note: str = ""

    @property
    def local(self) -> bool:
        return self.size_source == LOCAL

    @property
    def status(self) -> str:
        """`local` (a folder, nothing to fetch), `cached`, or `download`."""
        return LOCAL if self.local else "cached" if self.cached else "download"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "size_bytes": self.size_bytes, "size": format_size(self.size_bytes, self.estimate),
            "size_source": self.size_source, "estimate": self.estimate, "source_note": self.source_note,
            "cached": self.cached, "status": self.status,
        }  # fmt: skip


@dataclass(frozen=True)
class DownloadPlan:
    """The models of a plan as downloads, with totals.

    Attributes:
        models: One record per model, in the plan's order.
        hub_checked: Whether the Hub answered (sizes from its metadata where it did).
        hub_online: The verdict of the reachability check (or the `online` the caller gave);
            None when nothing was asked because every model is a local folder.
    """

    models: tuple[ModelDownload, ...]
    hub_checked: bool = False
    hub_online: bool | None = None

    @property
    def to_download(self) -> tuple[ModelDownload, ...]:
        """The models a run would fetch: neither local folders nor cached."""
        return tuple(m for m in self.models if m.status == "download")

    @property
    def download_bytes(self) -> int:
        """Known bytes still to download (models of unknown size count 0; see `unknown_sizes`)."""
        return sum(m.size_bytes or 0 for m in self.to_download)

    @property
    def unknown_sizes(self) -> int:
        """Models to download whose size is unknown."""
        return sum(1 for m in self.to_download if m.size_bytes is None)

    @property
    def unfetchable(self) -> tuple[ModelDownload, ...]:
        """The models a run must download while the Hub cannot be reached: a run would fail on
        the first of them, so a caller can fail at once, before loading anything."""
        return self.to_download if self.hub_online is False else ()

    @property
    def cached_count(self) -> int:
        return sum(1 for m in self.models if m.status == "cached")

    @property
    def local_count(self) -> int:
        return sum(1 for m in self.models if m.local)

    def text(self) -> str:
        """One line for people, e.g. `will download 6 models, 4.1 GB; 2 cached`."""
        todo = self.to_download
        if todo:
            n = len(todo)
            known = n - self.unknown_sizes
            approx = any(m.estimate for m in todo if m.size_bytes is not None)
            if known:
                size = format_size(self.download_bytes, approx)
                if self.unknown_sizes:
                    size += f" + {self.unknown_sizes} of unknown size"
            else:
                size = "size unknown"
            head = f"will download {n} model{'s' if n != 1 else ''}, {size}"
        else:
            head = "nothing to download"
        tail = [f"{self.cached_count} cached"]
        if self.local_count:
            tail.append(f"{self.local_count} local")
        return f"{head}; {'; '.join(tail)}"

    def to_dict(self) -> dict[str, Any]:
        """The same facts for `--json`."""
        return {
            "models": [m.to_dict() for m in self.models],
            "to_download": len(self.to_download),
            "download_bytes": self.download_bytes,
            "unknown_sizes": self.unknown_sizes,
            "cached": self.cached_count,
            "local": self.local_count,
            "hub_checked": self.hub_checked,
            "hub_online": self.hub_online,
            "text": self.text(),
        }


def format_size(n: int | None, estimate: bool = False) -> str:
    """Bytes in the Hub's decimal units (`2.3 GB`, `310 MB`, `4 kB`); `?` when unknown; `~` marks
    an estimate."""
    if n is None:
        return "?"
    if n >= 1_000_000_000:
        text = f"{n / 1e9:.1f} GB"
    elif n >= 1_000_000:
        text = f"{n / 1e6:.0f} MB"
    elif n >= 1_000:
        text = f"{n / 1e3:.0f} kB"
    else:
        text = f"{n} B"
    return f"~{text}" if estimate else text


# ---------------------------------------------------------------------------- the Hub


def hub_endpoint() -> str:
    """The Hub endpoint the Hugging Face client uses: `HF_ENDPOINT` (read now), else its default."""
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def offline_mode() -> bool:
    """`HF_HUB_OFFLINE` (or `TRANSFORMERS_OFFLINE`) is set, now or when huggingface_hub was imported."""
    from huggingface_hub import constants

    env = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return env.strip().lower() in _TRUE or bool(constants.HF_HUB_OFFLINE)


def hub_reachable(timeout: float = 3.0, *, refresh: bool = False) -> bool:
    """Whether the Hub endpoint answers: False at once under `HF_HUB_OFFLINE`, else one HEAD
    request to `HF_ENDPOINT` (through the environment's proxies), bounded by `timeout` seconds in
    all (name resolution included) and never retried. Any HTTP answer counts as reachable, so
    does a TLS error (something answered; the real request will say what is wrong). The verdict
    is remembered per endpoint for 30 s so that checking before every model stays one attempt."""
    if offline_mode():
        return False
    endpoint = hub_endpoint()
    now = time.monotonic()
    memo = _reach_memo.get(endpoint)
    if memo and not refresh and now - memo[0] < _REACH_TTL_S:
        return memo[1]
    result: list[bool] = []

    def attempt() -> None:
        try:
            req = urllib.request.Request(endpoint + "/", method="HEAD", headers={"User-Agent": "summarize"})
            with urllib.request.urlopen(req, timeout=timeout):
                pass
            result.append(True)
        except urllib.error.HTTPError:
            result.append(True)
        except urllib.error.URLError as exc:
            result.append(isinstance(exc.reason, ssl.SSLError))
        except ssl.SSLError:
            result.append(True)
        except (OSError, ValueError):
            result.append(False)

    # A thread, because urlopen's timeout does not cover name resolution, which can hang for
    # much longer than the timeout on a machine with a broken resolver.
    worker = threading.Thread(target=attempt, name="hub-reachable", daemon=True)
    worker.start()
    worker.join(timeout + 0.5)
    ok = bool(result and result[0])
    _reach_memo[endpoint] = (time.monotonic(), ok)
    return ok


def load_files(names: Iterable[str]) -> list[str]:
    """Of a repo's files, those a transformers load reads: config and tokenizer files at the top
    level and the weights in one format (safetensors if there are any, else the PyTorch
    pickles); other frameworks' weights, subfolders (onnx/, ...), READMEs and the like are left
    out. `fetch_model` can pass this list as `allow_patterns` so that what it downloads is what
    the plan counted."""
    top = [n for n in names if "/" not in n]
    picked = [n for n in top if n in _CONFIG_FILES or n.endswith(_TOKENIZER_SUFFIXES)]
    safetensors = [n for n in top if n.startswith("model") and n.endswith(".safetensors")]
    if safetensors:
        weights = safetensors + [n for n in top if n == "model.safetensors.index.json"]
    else:
        weights = [n for n in top if n.startswith("pytorch_model") and (n.endswith(".bin") or n.endswith(".bin.index.json"))]
    return sorted({*picked, *weights})


@dataclass(frozen=True)
class HubFiles:
    """A Hub repo's files at one revision, with their sizes (None where the Hub gives none)."""

    revision: str | None
    sizes: dict[str, int | None]


def hub_files(model_id: str, timeout: float = 10.0) -> HubFiles:
    """The repo's file list with sizes, from the Hub's metadata. Raises what huggingface_hub
    raises (unreachable, no such repo, gated)."""
    from huggingface_hub import HfApi

    info = HfApi(endpoint=hub_endpoint()).model_info(model_id, files_metadata=True, timeout=timeout)
    return HubFiles(info.sha, {s.rfilename: s.size for s in (info.siblings or [])})


# ---------------------------------------------------------------------------- the cache


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache as the environment sets it now: `HF_HUB_CACHE`, else
    `HF_HOME/hub`, else huggingface_hub's default."""
    from huggingface_hub import constants

    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HUGGINGFACE_HUB_CACHE"):
        return Path(os.environ["HUGGINGFACE_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return Path(constants.HF_HUB_CACHE)


def _cached(model_id: str, name: str, cache: Path, revision: str | None) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(model_id, name, cache_dir=cache, revision=revision)
    except ValueError:  # not a valid repo id
        return None
    return Path(found) if isinstance(found, str) else None


def is_cached(model_id: str, *, files: Sequence[str] | None = None, revision: str | None = None,
              cache_dir: str | Path | None = None) -> bool:
    """Whether a load of `model_id` would find everything in the Hugging Face cache.

    With `files` (the Hub's `load_files` at `revision`), every one must be there. Without them
    (offline), the snapshot `refs/main` points to must hold `config.json`, complete weights (a
    single file, or an index and every shard it names) and a tokenizer file."""
    cache = Path(cache_dir) if cache_dir else hub_cache_dir()
    if files is not None:
        return bool(files) and all(_cached(model_id, f, cache, revision) for f in files)
    if _cached(model_id, "config.json", cache, revision) is None:
        return False
    if not any(_cached(model_id, t, cache, revision) for t in _TOKENIZER_ANY):
        return False
    for single, index in _WEIGHTS:
        if _cached(model_id, single, cache, revision):
            return True
        where = _cached(model_id, index, cache, revision)
        if where is not None:
            try:
                shards = set(json.loads(where.read_text(encoding="utf-8")).get("weight_map", {}).values())
            except (OSError, ValueError, AttributeError):
                continue
            if shards and all(_cached(model_id, s, cache, revision) for s in shards):
                return True
    return False


def folder_size(path: str | Path) -> int:
    """Bytes of the files under a folder (what a local model occupies on disk)."""
    root = Path(path).expanduser()
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


# ------------------------------------------------------------------------------- plan


def plan_downloads(
    model_ids: Iterable[str],
    *,
    registry: Registry | None = None,
    online: bool | None = None,
    cache_dir: str | Path | None = None,
    timeout: float = 3.0,
) -> DownloadPlan:
    """Sizes and cache status of the models a plan names (`RoutePlan.model_ids()`), duplicates dropped.

    `online=None` asks `hub_reachable(timeout)` once; True/False decides without asking. Per
    model, the Hub's file metadata when it answers for that model, else the registry's recorded
    size, else unknown; a local folder is measured on disk. Never raises for a model it cannot
    size: a failed lookup only falls back."""
    reg = registry or Registry.load()
    ids = list(dict.fromkeys(model_ids))
    remote = [m for m in ids if not is_local(m)]
    use_hub = bool(remote) and (hub_reachable(timeout) if online is None else online)
    hub_answered = False
    out: list[ModelDownload] = []
    for mid in ids:
        if is_local(mid):
            out.append(ModelDownload(mid, folder_size(mid), LOCAL, cached=False))
            continue
        if use_hub:
            try:
                listing = hub_files(mid, timeout=max(timeout, 10.0))
            except Exception:  # unreachable, unknown, gated: fall back to what is recorded
                listing = None
            if listing is not None:
                hub_answered = True
                needed = load_files(listing.sizes)
                sizes = [listing.sizes.get(f) for f in needed]
                size = sum(s for s in sizes if s is not None) if needed and all(s is not None for s in sizes) else None
                cached = is_cached(mid, files=needed, revision=listing.revision, cache_dir=cache_dir)
                out.append(ModelDownload(mid, size, HUB if size is not None else UNKNOWN, cached))
                continue
        cached = is_cached(mid, cache_dir=cache_dir)
        rec = reg.size_of(mid)
        if rec is None:
            out.append(ModelDownload(mid, None, UNKNOWN, cached))
        else:
            out.append(ModelDownload(mid, rec.bytes, REGISTRY, cached, rec.estimate, rec.size_source))
    return DownloadPlan(tuple(out), hub_checked=hub_answered, hub_online=use_hub if remote else None)


__all__ = [
    "DownloadPlan",
    "HubFiles",
    "ModelDownload",
    "folder_size",
    "format_size",
    "hub_cache_dir",
    "hub_endpoint",
    "hub_files",
    "hub_reachable",
    "is_cached",
    "load_files",
    "offline_mode",
    "plan_downloads",
]
