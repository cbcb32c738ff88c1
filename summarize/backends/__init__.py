"""Model backends: the `Generator` interface (`base`), its transformers (`hf`) and CTranslate2
(`ct2`) implementations, and the pool that keeps loaded models within a memory budget (`pool`).

Models are resolved from a Hub id or a local folder and kept in the pool (LRU past its budget),
so each model is loaded once per run when they fit. The names below are re-exported for callers
outside the package; modules inside it import from `base` and `pool` directly.
"""

from __future__ import annotations

from .base import Generator, Output, mean_logprob
from .pool import GIB, Loader, LoadStats, ModelPool, backend_of, default_budget, free_ram_bytes, weights_bytes

__all__ = ["GIB", "Generator", "LoadStats", "Loader", "ModelPool", "Output", "backend_of", "default_budget",
           "free_ram_bytes", "mean_logprob", "weights_bytes"]
