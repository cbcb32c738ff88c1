"""Helpers the benchmark scripts share: where built models are cached, the machine, quiet logs."""

from __future__ import annotations

import logging
import os
import platform
import sys
from pathlib import Path
from typing import Any


def bench_dir() -> Path:
    """Where benchmark models are built once and reused (`$SUMMARIZE_CACHE/bench`)."""
    base = os.environ.get("SUMMARIZE_CACHE")
    return (Path(base).expanduser() if base else Path.home() / ".cache" / "summarize") / "bench"


def machine() -> dict[str, Any]:
    """The CPU, cores, torch threads and versions, and the load average at the start."""
    import torch

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": cores, "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "torch": torch.__version__, "loadavg_start": [round(x, 2) for x in os.getloadavg()]}


def say(message: str) -> None:
    """Progress for people, on stderr, so stdout keeps only the figures."""
    print(message, file=sys.stderr, flush=True)


def quiet_logs(level: int = logging.WARNING) -> None:
    """Our log lines at `level`; transformers' per-call max_length notice would flood the output."""
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()


def emit(report: str, result: Any, json_path: Path | None) -> int:
    """Write a benchmark's figures as JSON when asked (first: a reader that closes stdout early, such
    as `| head`, must not lose them), then print its report; the exit status."""
    if json_path:
        import json

        json_path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(report)
    return 0
