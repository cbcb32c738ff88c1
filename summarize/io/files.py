"""The few file operations the output dataset needs, in one place.

Everything `write`, `outdir` and `lock` do to the output folder goes through these functions
(write atomically, create only if absent, read JSON, list, remove), so that an fsspec-backed
version for object stores can replace this local one without touching the protocol above it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file under a temporary name, flush it to disk, then rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def create_exclusive(path: Path, data: bytes) -> bool:
    """Create `path` holding `data` only if it does not exist; False when it already does.

    The create-only write is the one primitive the lock and the commit markers rely on (local
    disk: O_EXCL; object stores: a conditional PUT).
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(path.parent)
    return True


def fsync_dir(folder: Path) -> None:
    """Make a rename or create in `folder` durable (the directory entry must reach the disk)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n").encode()


def write_json(path: Path, data: Any) -> None:
    """Write a JSON document atomically."""
    atomic_write_bytes(path, json_bytes(data))


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from `path`; None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def files_under(folder: Path, suffix: str = "") -> Iterator[Path]:
    """Every file below `folder` (recursively) whose name ends with `suffix`, sorted."""
    if folder.is_dir():
        yield from sorted(p for p in folder.rglob(f"*{suffix}") if p.is_file())


def remove(path: Path) -> None:
    """Delete a file if it exists."""
    path.unlink(missing_ok=True)


def remove_empty_dirs(folder: Path) -> None:
    """Delete `folder` and the folders below it that hold nothing (deepest first)."""
    if not folder.is_dir():
        return
    for d in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(d.iterdir()):
            d.rmdir()
    if not any(folder.iterdir()):
        folder.rmdir()
