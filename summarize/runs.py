"""What identifies a run: the options that change its output (with the content fingerprints of
the local model folders it names), and what its manifest recorded, for a `--resume` given nothing
else. `api.run` and the CLI both read these, so a resumed run is judged as a new one would be."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from . import io
from .errors import UsageError
from .options import ReadOptions, RunOptions, WriteOptions


@dataclass(frozen=True)
class RecordedRun:
    """What a run's manifest (`run.json`) says it was asked to do, for a `--resume` given nothing else.

    Attributes:
        inputs: The input names as the run was given them.
        options: Its run options.
        read_options: Its read options.
        write: Its write options (with `resume`; `overwrite` off).
    """

    inputs: list[str]
    options: RunOptions
    read_options: ReadOptions
    write: WriteOptions


def recorded_run(out: str | Path) -> RecordedRun:
    """The inputs and options of the latest run in `out`, from its `run.json`. Raises UsageError
    when there is no readable manifest, or it names stdin (which cannot be read again)."""
    doc = io.read_manifest(io.as_path(str(out)))
    if not doc.get("inputs") or "options" not in doc:
        raise UsageError(f"--resume without inputs: {out} holds no run manifest (run.json) to take them from; "
                         "give the inputs and options of the run")
    if io.STDIN in doc["inputs"]:
        raise UsageError(f"--resume without inputs: the run in {out} read stdin; give - and pipe the input again")
    read: dict[str, Any] = {k: tuple(v) if isinstance(v, list) and k != "keep_types" else v
            for k, v in doc.get("read_options", {}).items() if k in {f.name for f in fields(ReadOptions)}}
    if "keep_types" in read:
        read["keep_types"] = tuple(tuple(p) for p in read["keep_types"])
    stored = doc.get("write") or {"table_format": doc.get("table_format", "parquet"),
                                  "partition_by": doc.get("partition_by", []), "append": doc.get("append", False),
                                  "upsert": doc.get("upsert", False)}
    write: dict[str, Any] = {k: v for k, v in stored.items() if k in {f.name for f in fields(WriteOptions)}}
    return RecordedRun(list(doc["inputs"]), RunOptions.from_dict(doc["options"]), ReadOptions(**read),
                       replace(WriteOptions(**write), resume=True, overwrite=False))


def output_options(options: RunOptions, read_options: ReadOptions, partition_by: Sequence[str],
                   fingerprints: dict[str, str] | None = None) -> dict[str, Any]:
    """The options that change what a run writes (its identity for `--resume`), as plain data;
    the run options part is `RunOptions.output_dict`, the same fields the options hash covers,
    with the content fingerprints of the local model folders it names."""
    read = dict(read_options.__dict__)
    if not read["follow_symlinks"]:
        del read["follow_symlinks"]  # off: the same identity as runs made before the option existed
    return {"run": options.output_dict(fingerprints), "read": read, "partition_by": list(partition_by)}


def model_fingerprints(options: RunOptions) -> dict[str, str]:
    """Content fingerprints of the local model folders the options and a user registry name
    (`backends.fingerprint`)."""
    from .backends.fingerprint import fingerprints
    from .models.registry import Registry

    named: list[str | None] = [options.summary_model, options.translation_model]
    if options.registry:  # the shipped registry names Hub ids only
        named += [m.id for m in Registry.load(options.registry).models()]
    return fingerprints(named)
