"""Pre-flight checks: everything about a run that can be wrong before a model is loaded.

A bad `--to` code, a model folder that is not there or is truncated, an output folder that cannot
be written or has no room, and options that exclude each other are all found here, in well under a
second, instead of after minutes of model loading (or after all the model work, for a full disk).
Each problem is one `UsageError`/`ModelError` sentence (exit 2). Nothing heavy is imported: a
model's `config.json` is read with `json` and its weights' header with `safetensors.safe_open`,
which reads only the header and checks that the file covers every tensor it declares.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

from .config import env_number
from .errors import ModelError, UsageError
from .models import langcodes
from .options import RunOptions, TableFormat, WriteOptions

# Below this much free space the output folder is refused: a run writes Parquet shards, a manifest
# and (with --format wide) a second copy; 100 MB holds tens of thousands of summarized articles,
# and a disk this full is almost always a mistake worth hearing about before the model work.
MIN_FREE_BYTES = 100 * 1024 * 1024
MIN_FREE_ENV = "SUMMARIZE_MIN_FREE_MB"
LIST_CODES = "summarize models list"
# What a transformers tokenizer loads from (a fast tokenizer, a SentencePiece model, a BPE or
# WordPiece vocabulary): a model folder holds at least one.
TOKENIZER_FILES = ("tokenizer.json", "*.model", "*.spm", "vocab.json", "vocab.txt", "spm.model")
# Beam widths above this are refused: generation cost grows with the width, and widths past a
# few dozen stop improving outputs (`SUMMARIZE_MAX_BEAMS` lifts the cap for experiments).
MAX_BEAMS = 32
MAX_BEAMS_ENV = "SUMMARIZE_MAX_BEAMS"
# Output URLs whose file system dies with the process: a run would exit 0 into nothing.
VOLATILE_PROTOCOLS = ("memory",)


def known_codes() -> dict[str, str]:
    """Every language code the project knows, to its English name (for suggestions)."""
    out: dict[str, str] = {}
    for code in sorted(langcodes._named()):
        try:
            out[code] = langcodes.language_name(code)
        except Exception:  # a code without a name still counts as known
            out[code] = code
    return out


def suggest(code: str, known: dict[str, str] | None = None, n: int = 3) -> list[str]:
    """Close matches for an unknown code among the known codes and the languages' names."""
    known = known or known_codes()
    tag = code.strip().lower()
    by_name = {name.lower(): c for c, name in known.items()}
    hits = difflib.get_close_matches(tag, list(by_name), n=n, cutoff=0.75)
    out = [f"{by_name[h]} ({known[by_name[h]]})" for h in hits]
    primary = langcodes.normalise(tag)
    for c in difflib.get_close_matches(primary, list(known), n=n, cutoff=0.5):
        label = f"{c} ({known[c]})"
        if label not in out:
            out.append(label)
    return out[:n]


def check_targets(codes: Iterable[str]) -> None:
    """Every `--to` code must name a language the language tables know (after normalising)."""
    known = known_codes()
    for code in codes:
        iso = langcodes.normalise(code)
        if iso in known and iso != langcodes.UNDETERMINED:
            continue
        close = suggest(code, known)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UsageError(f"--to: unknown language code {code!r}{hint} (`{LIST_CODES}` lists the models and their languages)")


def _looks_like_path(value: str) -> bool:
    return value.startswith((".", "/", "~")) or "\\" in value or value.count("/") > 1


def check_model(value: str | None, flag: str) -> None:
    """A local model folder must exist and hold a readable config and readable weights.

    A Hub id (`org/name`) is left to the fetch step, which knows about the cache and the network.
    """
    if not value:
        return
    path = Path(value).expanduser()
    if not path.exists():
        if _looks_like_path(value):
            raise ModelError(f"{flag}: no such folder: {value} (a local model must be a folder with config.json)")
        return
    if not path.is_dir():
        raise ModelError(f"{flag}: {value} is a file; a local model is a folder with config.json and weights")
    check_model_folder(path, flag)


def check_model_folder(folder: Path, flag: str) -> None:
    """config.json parses and every `*.safetensors` header is readable and covers its tensors."""
    config = folder / "config.json"
    if not config.is_file():
        # A CTranslate2 export holds model.bin and config.json too; without config.json it is
        # not a model folder transformers or CTranslate2 can load.
        raise ModelError(f"{flag}: {config} is missing; a local model folder needs config.json")
    try:
        json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{flag}: cannot read {config}: {_why(exc)}") from exc
    for weights in sorted(folder.glob("*.safetensors")):
        _check_safetensors(weights, flag)
    if not any(any(folder.glob(pattern)) for pattern in TOKENIZER_FILES):
        # Without them the model cannot read its input: a run would come out `ok` with empty outputs.
        raise ModelError(f"{flag}: {folder} has no tokenizer files (one of {', '.join(TOKENIZER_FILES)}); copy the "
                         "tokenizer of the model into the folder (tokenizer.save_pretrained(folder))")


def _check_safetensors(path: Path, flag: str) -> None:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="np") as fh:
            fh.keys()
    except Exception as exc:  # SafetensorError or OSError: truncated, corrupt, unreadable
        raise ModelError(f"{flag}: cannot read the weights file {path}: {_why(exc)} (download it again)") from exc


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def min_free_bytes() -> int:
    """The free space an output folder needs (`SUMMARIZE_MIN_FREE_MB` overrides the 100 MB)."""
    mb = env_number(MIN_FREE_ENV, MIN_FREE_BYTES / 2**20, least=0, above=False, unit="megabytes")
    if mb >= 2**40:
        raise UsageError(f"{MIN_FREE_ENV} must be a number of megabytes (0 or more, finite), not {mb:g}")
    return int(mb * 1024 * 1024)


def check_beams(options: RunOptions) -> None:
    """Beam widths stay under `MAX_BEAMS` (or `SUMMARIZE_MAX_BEAMS`)."""
    raw = os.environ.get(MAX_BEAMS_ENV)
    try:
        cap = int(raw) if raw else MAX_BEAMS
    except ValueError as exc:
        raise UsageError(f"{MAX_BEAMS_ENV} must be a whole number, not {raw!r}") from exc
    for flag, gen in (("--beams", options.summary), ("--translation-beams", options.translation)):
        if gen.num_beams > cap:
            raise UsageError(f"{flag} {gen.num_beams} is more than {cap}, the most a run uses (cost grows with the "
                             f"width, and 4 to 8 beams is usual); set {MAX_BEAMS_ENV}={gen.num_beams} to allow it")


def check_partition_by(partition_by: Sequence[str]) -> None:
    """Each partition key at most once (`lang,lang` would write `lang=en/lang=en/`, which no reader
    takes for a Hive layout)."""
    twice = sorted({p for p in partition_by if list(partition_by).count(p) > 1})
    if twice:
        raise UsageError(f"--partition-by names {', '.join(twice)} more than once; give each key once, e.g. lang,date")


def check_lasting_output(out: str) -> None:
    """The output outlives the run: a `memory://` file system dies with the process."""
    protocol = out.split("://", 1)[0].lower() if "://" in out else ""
    if protocol in VOLATILE_PROTOCOLS:
        raise UsageError(f"--out {out}: a {protocol}:// file system lives only as long as this process, so the "
                         "output would be lost when the run ends; write to a folder or an object store (s3://...)")


def check_output(out: str) -> None:
    """The output folder (or the nearest folder above it that exists) is writable and has room."""
    check_lasting_output(out)
    if out == "-" or "://" in out:
        return  # stdout, or object storage: its own client reports access errors
    path = Path(out).expanduser()
    _check_name_lengths(path, out)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out: {out} exists and is not a folder")
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"--out: cannot write to {probe} (permission denied)")
    free = shutil.disk_usage(probe).free
    need = min_free_bytes()
    if free < need:
        raise UsageError(f"--out: only {free // 2**20} MB free on the disk of {probe}; a run needs at least "
                         f"{need // 2**20} MB ({MIN_FREE_ENV} changes the minimum)")


def _check_name_lengths(path: Path, out: str) -> None:
    """Every part of the output path fits the file system's limit on a name (255 bytes almost
    everywhere), which `exists()` would otherwise report as a traceback."""
    probe = path
    while probe.parent != probe:
        try:
            if probe.exists():
                break
        except OSError:  # ENAMETOOLONG: a part of it is too long; its parent tells the limit
            pass
        probe = probe.parent
    try:
        limit = os.pathconf(probe, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    for part in path.parts:
        if len(os.fsencode(part)) > limit:
            raise UsageError(f"--out: the name {part[:40]}... is {len(os.fsencode(part))} bytes long; the file system "
                             f"allows {limit} per name")


def check_write(out: str, write: WriteOptions) -> None:
    """Write options that exclude each other, or make no sense with `--out -` or an output that does
    not outlive the run (UsageError, exit 2).

    The one list of refused combinations: `summarize.run` calls it for the CLI and the Python API.
    """
    check_partition_by(write.partition_by)
    check_lasting_output(out)
    if write.overwrite:
        for flag, given in (("--resume", write.resume), ("--append", write.append), ("--upsert", write.upsert)):
            if given:
                raise UsageError(f"{flag} and --overwrite exclude each other")
    if write.upsert and write.table_format != TableFormat.delta:
        raise UsageError("--upsert needs --table-format delta (plain Parquet appends; read the latest version of "
                         "each article as docs/datasets.md shows)")
    if write.allow_duplicate_batch and not write.adds:
        raise UsageError("--allow-duplicate-batch goes with --append or --upsert")
    if out == "-":
        for flag, given in (("--resume", write.resume), ("--overwrite", write.overwrite), ("--append", write.append),
                            ("--upsert", write.upsert), ("--partition-by", bool(write.partition_by)),
                            ("--format wide", write.wide),
                            ("--table-format delta", write.table_format == TableFormat.delta)):
            if given:
                raise UsageError(f"{flag} needs an output folder; --out - streams rows to stdout")


def before_run(options: RunOptions, out: str | None, write: WriteOptions | None = None) -> None:
    """Every pre-flight check of a run; `out=None` (a dry run) skips the output checks."""
    if out is not None:
        check_write(out, write or WriteOptions())
    check_targets(options.to)
    check_beams(options)
    check_model(options.summary_model, "--summary-model")
    check_model(options.translation_model, "--translation-model")
    if out is not None:
        check_output(out)
        if out != "-":
            # A lock is taken only with an output folder. Imported here: `io` loads Polars, and
            # this module stays light to import.
            from .io.holder import lease_s

            lease_s()
