"""The few file operations the output dataset needs, in one place, on local disk and object stores.

Everything `write`, `outdir` and `lock` do to the output folder goes through these functions
(write atomically, create only if absent, read JSON, list, remove). A local path is a
`pathlib.Path` and keeps the local implementation (temp file + fsync + rename, `O_EXCL`). A URL
(`s3://`, `gs://`, `az://`, `memory://`, any fsspec protocol) becomes a `UPath` that carries its
fsspec file system and options (`as_path`); there a write is one PUT, which is all-or-nothing, a
create-only write is a conditional PUT (`open(p, "xb")`), and folders do not exist.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

# A local path or an fsspec-backed UPath; both have the pathlib API the dataset code uses.
AnyPath = Any

_FSSPEC_KEYS = {  # object_store-style keys (what Polars and deltalake take) -> s3fs keyword
    "aws_endpoint_url": "endpoint_url", "aws_endpoint": "endpoint_url", "endpoint": "endpoint_url",
    "aws_access_key_id": "key", "access_key_id": "key", "aws_secret_access_key": "secret",
    "secret_access_key": "secret", "aws_session_token": "token", "session_token": "token",
}
_REGION_KEYS = ("aws_region", "region")
_DROPPED_KEYS = ("aws_allow_http", "allow_http", "aws_conditional_put")  # object_store only
_OBJECT_STORE_KEYS = {  # s3fs keyword (or its lower-case AWS_* variable name) -> object_store key
    "endpoint_url": "aws_endpoint_url", "key": "aws_access_key_id", "secret": "aws_secret_access_key",
    "token": "aws_session_token", "region": "aws_region", "region_name": "aws_region", "endpoint": "aws_endpoint_url",
    "access_key_id": "aws_access_key_id", "secret_access_key": "aws_secret_access_key",
    "session_token": "aws_session_token", "allow_http": "aws_allow_http",
}


def is_url(name: str) -> bool:
    """Whether `name` is a URL with a protocol (`s3://...`) rather than a local path."""
    return "://" in name and not name.startswith("file://")


def fsspec_options(options: dict[str, str] | None) -> dict[str, Any]:
    """`--storage-option` pairs as fsspec keywords: object_store-style keys (`aws_endpoint_url`,
    `aws_region`, ...) are mapped to s3fs's names, other keys pass through unchanged."""
    out: dict[str, Any] = {}
    for key, value in (options or {}).items():
        k = key.lower()
        if k in _DROPPED_KEYS:
            continue
        if k in _REGION_KEYS:
            out.setdefault("client_kwargs", {})["region_name"] = value
        else:
            out[_FSSPEC_KEYS.get(k, key)] = value
    return out


def object_store_options(options: dict[str, str] | None) -> dict[str, str]:
    """`--storage-option` pairs as the keys of Rust's object_store (what deltalake and Polars take).

    Both spellings are accepted: s3fs's (`endpoint_url`, `key`, `secret`, `token`, `region`) are
    mapped, object_store's (`aws_*`, `google_*`, `azure_*`, any case) pass unchanged, and s3fs-only
    keys are dropped. Keys not given come from the standard environment (AWS_ENDPOINT_URL,
    AWS_ACCESS_KEY_ID, ...), which object_store reads itself. object_store refuses plain http
    unless told, so an `http://` endpoint (given or from AWS_ENDPOINT_URL) adds `aws_allow_http`.
    """
    out: dict[str, str] = {}
    for key, value in (options or {}).items():
        k = key.lower()
        if k.startswith(("aws_", "google_", "azure_")):
            out[k] = value
        elif k in _OBJECT_STORE_KEYS:
            out[_OBJECT_STORE_KEYS[k]] = value
    endpoint = out.get("aws_endpoint_url") or os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT", "")
    if endpoint.startswith("http://") and "aws_allow_http" not in out and "AWS_ALLOW_HTTP" not in os.environ:
        out["aws_allow_http"] = "true"
    return out


_DEFAULT_OPTIONS: dict[str, str] = {}


def configure(options: dict[str, str] | None) -> None:
    """Set the `--storage-option` pairs every later `as_path` without options uses (one run per
    process sets them once; a Ray worker sets the driver's)."""
    _DEFAULT_OPTIONS.clear()
    _DEFAULT_OPTIONS.update(options or {})


def storage_options() -> dict[str, str]:
    """The `--storage-option` pairs in effect (object_store-style keys, as given)."""
    return dict(_DEFAULT_OPTIONS)


def as_path(name: str, options: dict[str, str] | None = None) -> AnyPath:
    """A local `Path`, or for a URL a `UPath` on its fsspec file system with `options` (default:
    those set by `configure`).

    With no options, fsspec's clients read the standard environment and config chains
    (AWS_* variables and ~/.aws for s3fs, GOOGLE_APPLICATION_CREDENTIALS for gcsfs, ...).
    """
    if not is_url(name):
        return Path(name.removeprefix("file://")).expanduser()
    import fsspec
    from upath import UPath

    from ..errors import UsageError

    protocol = name.split("://", 1)[0]
    try:
        fsspec.get_filesystem_class(protocol)  # fails now, not at the first write, when unusable
        return UPath(name, **fsspec_options(_DEFAULT_OPTIONS if options is None else options))
    except (ImportError, ValueError) as exc:
        raise UsageError(f"{name}: no file system for {protocol}:// ({exc}); install its package, for example "
                         "summarize[s3], summarize[gcs] or summarize[azure]") from exc


def is_remote(path: AnyPath) -> bool:
    """Whether `path` lives on a non-local fsspec file system."""
    return not isinstance(path, Path) and getattr(path, "protocol", "") not in ("", "file", "local")


def uri(path: AnyPath) -> str:
    """The path as the user spells it (`s3://b/k` or a local path)."""
    return str(path)


def atomic_write_bytes(path: AnyPath, data: bytes) -> None:
    """Write a file under a temporary name, flush it to disk, then rename it into place.

    On an object store one PUT is already all-or-nothing, and there is no rename."""
    if is_remote(path):
        path.fs.pipe_file(path.path, data)
        return
    with atomic_writer(path) as fh:
        fh.write(data)


@contextlib.contextmanager
def atomic_writer(path: AnyPath) -> Iterator[BinaryIO]:
    """A binary file whose bytes appear at `path` only when the block ends without an error, for
    writes too large to hold in memory (`atomic_write_bytes` otherwise). Local: a temporary name,
    fsynced, then renamed; object stores: a local temporary file, then one upload."""
    if is_remote(path):
        with tempfile.NamedTemporaryFile(prefix=".summarize-", suffix=".tmp") as tmp:
            yield cast(BinaryIO, tmp)
            tmp.flush()
            path.fs.put_file(tmp.name, path.path)
        return
    tmp_path = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp_path.open("wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def create_exclusive(path: AnyPath, data: bytes) -> bool:
    """Create `path` holding `data` only if it does not exist; False when it already does.

    The create-only write is the one primitive the lock and the commit markers rely on (local
    disk: O_EXCL; object stores: a conditional PUT).
    """
    if is_remote(path):
        try:
            with path.fs.open(path.path, "xb") as fh:
                fh.write(data)
        except FileExistsError:
            return False
        except OSError:
            # SeaweedFS answers a refused conditional PUT with 412 but without the `Condition`
            # field AWS sends, so s3fs raises EINVAL instead of FileExistsError: confirm.
            path.fs.invalidate_cache(path.path)
            if path.fs.exists(path.path):
                return False
            raise
        return True
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    try:
        try:
            if os.write(fd, data) != len(data):
                raise OSError(28, os.strerror(28), str(path))  # a short write: the disk is full
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        # ENOSPC mid-write: an empty or half-written file would read as someone's lock or marker.
        path.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return True


def rename(src: AnyPath, dst: AnyPath) -> None:
    """Move a file into place (local disk: an atomic rename made durable; an object store: a
    server-side copy, then the source deleted)."""
    if is_remote(src):
        src.fs.mv(src.path, dst.path)
        src.fs.invalidate_cache(dst.path)
        return
    os.replace(src, dst)
    fsync_dir(dst.parent)


_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def exchange(a: Path, b: Path) -> bool:
    """Swap two local paths (folders) in one atomic step, renameat2(RENAME_EXCHANGE): a reader
    sees one or the other at each path, never neither. False where the C library or the file
    system cannot (not Linux, an old glibc, a file system without it); nothing changed then."""
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError, TypeError):  # TypeError: Windows has no "this process" library
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        return False
    fsync_dir(a.parent)
    if b.parent != a.parent:
        fsync_dir(b.parent)
    return True


def fsync_dir(folder: AnyPath) -> None:
    """Make a rename or create in `folder` durable (the directory entry must reach the disk)."""
    if is_remote(folder):
        return
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


def write_json(path: AnyPath, data: Any) -> None:
    """Write a JSON document atomically."""
    atomic_write_bytes(path, json_bytes(data))


def read_json(path: AnyPath) -> dict[str, Any] | None:
    """A JSON object from `path`; None when it is missing, unreadable or not an object."""
    try:
        if is_remote(path):
            path.fs.invalidate_cache(path.path)  # s3fs caches listings; the lock must be read fresh
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def files_under(folder: AnyPath, suffix: str = "") -> Iterator[AnyPath]:
    """Every file below `folder` (recursively) whose name ends with `suffix`, sorted."""
    if is_remote(folder):
        fs = folder.fs
        fs.invalidate_cache(folder.path)
        try:
            found = fs.find(folder.path)
        except FileNotFoundError:
            return
        for f in sorted(found):
            if f.endswith(suffix) and not f.endswith("/"):
                yield folder / f[len(folder.path.rstrip("/")) + 1:]
        return
    if folder.is_dir():
        yield from sorted(p for p in folder.rglob(f"*{suffix}") if p.is_file())


def remove(path: AnyPath) -> None:
    """Delete a file if it exists."""
    if is_remote(path):
        with contextlib.suppress(FileNotFoundError):
            path.fs.rm_file(path.path)
        return
    path.unlink(missing_ok=True)


def remove_tree(folder: AnyPath) -> None:
    """Delete `folder` and everything below it (on an object store: every key below the prefix)."""
    if is_remote(folder):
        for f in files_under(folder):
            remove(f)
    elif folder.is_dir():
        shutil.rmtree(folder)


def is_delta(folder: AnyPath) -> bool:
    """Whether `folder` is a Delta table (holds a `_delta_log`)."""
    log = folder / "_delta_log"
    return exists(log) if is_remote(folder) else bool(log.is_dir())


def remove_empty_dirs(folder: AnyPath) -> None:
    """Delete `folder` and the folders below it that hold nothing (deepest first); object stores
    have no folders, so nothing to do there."""
    if is_remote(folder) or not folder.is_dir():
        return
    for d in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(d.iterdir()):
            d.rmdir()
    if not any(folder.iterdir()):
        folder.rmdir()


def mkdir(folder: AnyPath) -> None:
    """Create a folder and its parents (object stores have none: nothing to do)."""
    if not is_remote(folder):
        folder.mkdir(parents=True, exist_ok=True)


def size(path: AnyPath) -> int:
    """A file's size in bytes."""
    return int(path.fs.size(path.path)) if is_remote(path) else path.stat().st_size


def exists(path: AnyPath) -> bool:
    """Whether a file or folder (on an object store: any key below the prefix) exists."""
    if is_remote(path):
        path.fs.invalidate_cache(path.path)
        return bool(path.fs.exists(path.path))
    return bool(path.exists())


def source(path: AnyPath) -> Any:
    """What Polars and pyarrow readers take for one file: the path, or for an object store its
    bytes (read through fsspec, so the same options and credentials apply)."""
    return path.read_bytes() if is_remote(path) else path


def new_run_id() -> str:
    """A run (or compaction) id: UTC start time to the microsecond, then 8 random hex digits.

    Ids sort in start order, also for runs started within one second (a daily job's retries, the
    tests), and the random part keeps two machines starting at the same instant apart.
    """
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f") + "-" + uuid.uuid4().hex[:8]
