"""The model pool: models are resolved from a Hub id or a local folder and kept in a
pool bounded by memory (LRU past it), so each model is loaded once per run when they fit.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..models.downloads import is_local
from ..options import Backend, Device
from .base import Generator

log = logging.getLogger(__name__)


Loader = Callable[[str, str], Generator]

GIB = 1024**3
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".msgpack", ".h5")


def weights_bytes(model: str) -> int:
    """Bytes of a model's weight files on disk (a local folder, else its Hub cache snapshot); 0 if unknown.

    A model in memory takes about what its weights take on disk (CTranslate2 int8 takes less), so
    this is the pool's estimate, known before the model is loaded.
    """
    folder: Path | None = Path(model).expanduser() if is_local(model) else None
    if folder is None:
        from huggingface_hub import try_to_load_from_cache

        try:
            config = try_to_load_from_cache(model, "config.json")  # the cache the environment names
        except ValueError:  # not a repo id
            config = None
        folder = Path(config).parent if isinstance(config, str) else None
    if folder is None:
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*")
               if p.suffix in _WEIGHT_SUFFIXES and not p.name.startswith("training_args") and p.is_file())


def free_ram_bytes() -> int:
    """RAM available to new allocations now (Linux's MemAvailable), else the physical total."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return 8 * GIB


def default_budget(device: str) -> int:
    """The default `--model-memory`: 80% of the free memory of the GPU models go to, else half the free RAM.

    Half, because a run also holds its shard's articles, the tokenizers, activations and the
    writers; a GPU holds only models and activations.
    """
    if device != "cpu":
        from .hf import free_gpu_bytes

        gpu = free_gpu_bytes() if device in ("auto", "cuda") else None
        if gpu:
            return int(gpu * 0.8)
    return free_ram_bytes() // 2


@dataclass
class LoadStats:
    """What loading one model cost over a run (for `run.json`)."""

    loads: int = 0
    seconds: float = 0.0
    backend: str = ""
    weights_bytes: int = 0


class ModelPool:
    """Loaded models by name, kept for the whole run while they fit a memory budget.

    Loading is the slow part of a run, so a model stays loaded across shards: the pool drops
    the least recently used model only when loading another would take the resident weights
    past `memory_gib` (default: `default_budget`), or the count past `max_loaded` when given.
    Each model's size is estimated from its weights on disk before it is loaded. A single model
    larger than the budget is still loaded (alone). `stats` counts the loads and their seconds.
    """

    def __init__(self, *, device: str = "auto", backend: str = "auto", compute_type: str | None = None,
                 max_loaded: int | None = None, memory_gib: float | None = None) -> None:
        self.device = device
        self.backend = backend
        self.compute_type = compute_type
        self.max_loaded = max_loaded
        self.memory_gib = memory_gib
        self._budget: int | None = int(memory_gib * GIB) if memory_gib else None
        self._loaded: OrderedDict[str, Generator] = OrderedDict()
        self._sizes: dict[str, int] = {}
        self.loads: list[str] = []
        self.stats: dict[str, LoadStats] = {}

    @property
    def budget(self) -> int:
        """Bytes of weights the pool keeps loaded (measured once, on first use)."""
        if self._budget is None:
            self._budget = default_budget(self.device)
            log.info("keeping up to %.1f GiB of models loaded (--model-memory)", self._budget / GIB)
        return self._budget

    def get(self, model: str, task: str) -> Generator:
        """The loaded model, loading it (and dropping the least recently used) if needed."""
        if model in self._loaded:
            self._loaded.move_to_end(model)
            return self._loaded[model]
        if model not in self.stats:
            _announce_download(model)
        size = weights_bytes(model)
        self._make_room(size)
        t0 = time.perf_counter()
        gen = self._load(model, task)
        stats = self.stats.setdefault(model, LoadStats())
        stats.loads += 1
        stats.seconds += time.perf_counter() - t0
        stats.backend = backend_of(gen)
        stats.weights_bytes = size
        self._loaded[model] = gen
        self._sizes[model] = size
        self.loads.append(model)
        return gen

    def _make_room(self, size: int) -> None:
        def over() -> bool:
            if self.max_loaded is not None and len(self._loaded) >= self.max_loaded:
                return True
            return sum(self._sizes.get(m, 0) for m in self._loaded) + size > self.budget

        dropped = False
        while self._loaded and over():
            old, _ = self._loaded.popitem(last=False)
            self._sizes.pop(old, None)
            log.info("unloading model %s to stay within the model memory budget", old)
            dropped = True
        if dropped:
            gc.collect()  # the dropped weights are freed before the next model's are allocated

    def _load(self, model: str, task: str) -> Generator:
        # `load_ct2` returns None (and logs why) when ctranslate2 is missing or cannot convert
        # this architecture; the run goes on with torch rather than failing.
        if self._use_ct2():
            from .ct2 import load_ct2

            gen = load_ct2(model, device=self.device, compute_type=self.compute_type)
            if gen is not None:
                return gen
        from .hf import TransformersGenerator

        return TransformersGenerator.load(model, device=self.device)

    def runtime(self) -> dict[str, Any]:
        """What runs the models, as far as it changes their outputs (int8 CTranslate2 and float
        torch, CPU and GPU, do not give the same floats): backend, device and compute type."""
        backend = "ct2" if self._use_ct2() else "torch"
        device = str(self.device)
        if device == Device.auto:
            device = "cpu" if backend == "ct2" else _torch_device()
        return {"backend": backend, "device": device, "compute_type": self.compute_type}

    def _use_ct2(self) -> bool:
        """`ct2`, or `auto` on a CPU run with ctranslate2 installed (torch on GPU until measured otherwise)."""
        if self.backend != Backend.auto:
            return self.backend == Backend.ct2
        if self.device == Device.cuda:
            return False
        try:
            import ctranslate2
        except ImportError:
            return False
        return self.device == Device.cpu or ctranslate2.get_cuda_device_count() == 0

    def loaded(self) -> list[str]:
        return list(self._loaded)


def backend_of(gen: Generator) -> str:
    """`ct2` for a CTranslate2 model, `torch` for a transformers one (by class, without importing either)."""
    return "ct2" if type(gen).__name__.startswith("CT2") else "torch"


def _announce_download(model: str) -> None:
    """Say so when a model's first load will download it: the run's pre-flight learns the models
    from a sample of the input, so one that only later articles need is fetched here, when first
    needed, and the log tells what and how much, as the pre-flight does for the others."""
    if is_local(model):
        return
    from ..models.downloads import format_size, is_cached, plan_downloads

    if is_cached(model):
        return
    (m,) = plan_downloads([model]).models
    log.info("downloading %s (%s): first needed now", model, format_size(m.size_bytes, m.estimate))


def _torch_device() -> str:
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"
