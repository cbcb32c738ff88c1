"""Option values from a TOML file and `SUMMARIZE_*` environment variables.

Precedence is file < environment < command-line flag: the file and the environment are merged
into Click's `default_map`, which a flag given on the command line always overrides.

File layout (`--config FILE`, or `summarize.toml` in the working folder):

    to = "en,fr"                 # top level: applies to every command that has the option
    [run]
    summary-model = "./models/mt5"
    keep-col = ["section", "url"]
    [detect]
    min-lang-score = 0.7

Environment: `SUMMARIZE_TO=en,fr`, `SUMMARIZE_SUMMARY_MODEL=...` (option name, upper case,
dashes as underscores); repeatable options take comma-separated values.
"""

from __future__ import annotations

import difflib
import math
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import UsageError

DEFAULT_FILE = "summarize.toml"
ENV_PREFIX = "SUMMARIZE_"
# Variables read outside the option machinery (each documented in docs/pipelines.md).
OTHER_VARIABLES = frozenset({"SUMMARIZE_CACHE", "SUMMARIZE_TINY_DIR", "SUMMARIZE_MIN_FREE_MB", "SUMMARIZE_LOCK_LEASE_S",
                             "SUMMARIZE_MAX_BEAMS", "SUMMARIZE_MEMORY_ROWS"})


def config_path(argv: Sequence[str], cwd: Path | None = None) -> Path | None:
    """The config file named by `--config` in `argv`, else `summarize.toml` in `cwd` if present."""
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            return Path(argv[i + 1])
        if arg.startswith("--config="):
            return Path(arg.split("=", 1)[1])
    default = (cwd or Path.cwd()) / DEFAULT_FILE
    return default if default.is_file() else None


def load_file(path: Path) -> dict[str, Any]:
    """The parsed TOML file; a clear error naming the file when it is missing or invalid."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise UsageError(f"config file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from exc


def _key(name: str) -> str:
    return name.strip().lstrip("-").replace("-", "_").lower()


def default_map(
    commands: Mapping[str, Sequence[tuple[str, bool]]],
    data: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    source: str = "config",
    warn: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Click `default_map` per command from file data and environment.

    `commands` maps a command path (`run`, `models.plan`) to its options as (parameter name,
    takes several values). Unknown keys in the file are errors, so a typo is not ignored; an
    unknown `SUMMARIZE_*` variable goes to `warn` (it may belong to another version), and an
    empty one is an error (`SUMMARIZE_TO=""` would otherwise mean "no languages").
    """
    result: dict[str, dict[str, Any]] = {}
    known_everywhere = {name for opts in commands.values() for name, _ in opts}
    check_environment(env, known_everywhere, warn)
    top = {_key(k): v for k, v in data.items() if not isinstance(v, dict)}
    for k in top:
        if k not in known_everywhere:
            raise UsageError(f"{source}: unknown option {k!r}")
    for cmd, opts in commands.items():
        names = {name: multiple for name, multiple in opts}
        section: Any = data
        for part in cmd.split("."):
            section = section.get(part, {}) if isinstance(section, dict) else {}
        values: dict[str, Any] = {k: v for k, v in top.items() if k in names}
        for k, v in section.items() if isinstance(section, dict) else []:
            if isinstance(v, dict):
                continue
            key = _key(k)
            if key not in names:
                raise UsageError(f"{source}: [{cmd}] has unknown option {k!r}")
            values[key] = v
        for name, multiple in names.items():
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is not None:
                values[name] = [v.strip() for v in raw.split(",") if v.strip()] if multiple else raw
        for k, v in list(values.items()):
            if names[k] and isinstance(v, str):
                values[k] = [v]
            elif not names[k] and isinstance(v, list):
                values[k] = ",".join(str(x) for x in v)
        if values:
            result[cmd] = values
    return result


def check_environment(env: Mapping[str, str], options: set[str], warn: Callable[[str], None] | None) -> None:
    """Warn about unknown `SUMMARIZE_*` variables (with close matches); refuse empty ones."""
    known = {ENV_PREFIX + name.upper() for name in options} | OTHER_VARIABLES
    for var, value in sorted(env.items()):
        if not var.startswith(ENV_PREFIX):
            continue
        if var not in known:
            if warn is not None:
                close = difflib.get_close_matches(var, sorted(known), n=2, cutoff=0.75)
                hint = f"; did you mean {' or '.join(close)}?" if close else ""
                warn(f"unknown environment variable {var} is ignored{hint}")
        elif not value.strip():
            raise UsageError(f"environment variable {var} is empty: give it a value or unset it")


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}


def env_number(name: str, default: float, *, least: float, above: bool, unit: str) -> float:
    """A number from environment variable `name` (`default` when unset). Raises UsageError (exit 2)
    unless it is finite and at least `least` (strictly above it when `above`): `inf` or `nan`
    would turn a bound into none."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < least or (above and value == least):
        bound = f"above {least:g}" if above else f"{least:g} or more"
        raise UsageError(f"{name} must be a number of {unit} ({bound}, finite), not {raw!r}")
    return value

