"""A run's identity: what `--resume` and `--append` compare, so that a run is only continued with
the same inputs (by content, not by path spelling) and the same output-changing options."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from ..options import output_neutral
from . import files
from .folder import escape_name, list_folder
from .read import STDIN

log = logging.getLogger(__name__)



def fingerprint(name: str, *, follow_symlinks: bool = False) -> dict[str, Any]:
    """An input's identity by content: size and BLAKE2b of its bytes (a folder: of the files a run
    reads there, with their relative paths, and the names of those it skips; other files, such as
    a `.DS_Store` or an output folder inside it, do not count). Stdin cannot be read twice, so it
    has no fingerprint."""
    if name == STDIN:
        return {"name": name, "size": None, "blake2b": None}
    p = files.as_path(name)
    h = hashlib.blake2b(digest_size=16)
    size = 0
    if p.is_dir():
        entries = list_folder(p, follow_symlinks=follow_symlinks)
        paths = [e.path for e in entries if not e.skipped]
        for e in entries:
            h.update(e.rel.encode() + (b"\x01" if e.skipped else b"\x00"))
    else:
        paths = [p]
    for f in paths:
        try:
            with f.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
                    size += len(chunk)
        except OSError as exc:  # unreadable: the run rejects it; its identity is that it could not be read
            h.update(f"unreadable:{exc.errno}".encode())
    # The name as the rows' `source` spells it (escaped when not UTF-8), so it can be stored as JSON.
    return {"name": escape_name(name), "size": size, "blake2b": h.hexdigest()}


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): list(d) if isinstance(d, tuple) else d}


def identity(inputs: list[str], options: dict[str, Any]) -> dict[str, Any]:
    """A run's identity: its inputs' fingerprints and the (flattened) options that change output."""
    # Through JSON and back, so it compares equal to the copy stored in dataset.json.
    follow = bool(options.get("read", {}).get("follow_symlinks"))
    prints = [fingerprint(i, follow_symlinks=follow) for i in inputs]
    return json.loads(json.dumps({"inputs": prints, "options": _flat(options)}, default=str))


def identity_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two identities, one phrase each (empty when they match)."""
    diffs: list[str] = []
    a, b = old.get("inputs", []), new.get("inputs", [])
    if len(a) != len(b):
        diffs.append(f"the run had {len(a)} input(s) ({', '.join(i['name'] for i in a)}), now {len(b)}")
    for i, (x, y) in enumerate(zip(a, b, strict=False), start=1):
        if x.get("blake2b") is None or y.get("blake2b") is None:
            if x.get("name") != y.get("name"):
                diffs.append(f"input {i} was {x.get('name')}, now {y.get('name')}")
            elif y.get("name") == STDIN:
                log.warning("--resume with stdin: its content cannot be checked against the first run")
        elif (x["size"], x["blake2b"]) != (y["size"], y["blake2b"]):
            diffs.append(f"input {y['name']} differs in content from the run's input {i} ({x['name']})")
    oa, ob = old.get("options", {}), new.get("options", {})
    for key in sorted(set(oa) | set(ob)):
        # A field stored by a run made before it was known not to change the output is no difference.
        if key not in ob and output_neutral(key, oa[key]):
            continue
        if oa.get(key) != ob.get(key):
            diffs.append(f"option {key}: {oa.get(key)!r} then, {ob.get(key)!r} now")
    return diffs
