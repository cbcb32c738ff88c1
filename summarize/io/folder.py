"""The files of an input folder that are read, and the ones that are skipped (with why).

A folder is what it looks like: a symbolic link that leads out of it (`link.txt -> /etc/passwd`)
is not followed unless `--follow-symlinks` says so, and is listed as skipped; a subfolder that
cannot be listed, and a named pipe or a device, are skipped too, so all become reject rows instead
of vanishing. File names that
are not UTF-8 (a Latin-1 name copied from an old disk) get an escaped id that maps back to the
exact bytes (`escape_name` / `unescape_name`), so they can be written to Parquet and JSON and
found again. The same listing decides what `--resume` fingerprints, so files that are never
read (`.DS_Store`) do not change a run's identity; a dataset folder (one holding `_summarize/`,
such as `--out` placed inside the input folder) is output and is never read or fingerprinted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..schema import BOOKKEEPING

TEXT_SUFFIXES = (".txt", ".md")
HTML_SUFFIXES = (".html", ".htm")
FOLDER_SUFFIXES = (*TEXT_SUFFIXES, *HTML_SUFFIXES)


@dataclass(frozen=True)
class Entry:
    """One file an input folder holds.

    Attributes:
        path: Where it is (for a followed link: the link itself).
        rel: Its path below the folder, escaped (see `escape_name`), `/`-separated.
        skipped: Why it is not read (None: it is read).
    """

    path: Path
    rel: str
    skipped: str | None = None


def escape_name(name: str) -> str:
    """`name` (as `os` gives it, with undecodable bytes as surrogate escapes) as valid Unicode:
    each byte that is not UTF-8 becomes `\\xNN` and a backslash becomes `\\\\`, so the id maps back
    to the bytes (`unescape_name`). A UTF-8 name without backslashes is unchanged."""
    if "\\" not in name:
        try:
            name.encode("utf-8")
            return name
        except UnicodeEncodeError:
            pass
    raw = os.fsencode(name)
    out: list[str] = []
    i = 0
    while i < len(raw):
        for width in (1, 2, 3, 4):  # the shortest valid UTF-8 character starting here
            try:
                ch = raw[i:i + width].decode("utf-8")
                break
            except UnicodeDecodeError:
                continue
        else:
            out.append(f"\\x{raw[i]:02x}")
            i += 1
            continue
        out.append("\\\\" if ch == "\\" else ch)
        i += width
    return "".join(out)


def unescape_name(escaped: str) -> bytes:
    """The bytes of a name escaped by `escape_name`."""
    out = bytearray()
    i = 0
    while i < len(escaped):
        if escaped.startswith("\\\\", i):
            out += b"\\"
            i += 2
        elif escaped.startswith("\\x", i):
            out.append(int(escaped[i + 2:i + 4], 16))
            i += 4
        else:
            out += escaped[i].encode("utf-8")
            i += 1
    return bytes(out)


def _inside(target: Path, root: Path) -> bool:
    try:
        target.relative_to(root)
        return True
    except ValueError:
        return False


def list_folder(folder: Path, *, follow_symlinks: bool = False) -> list[Entry]:
    """Every text or HTML file below `folder` (sorted by escaped relative path), and every link
    or subfolder skipped on the way, with why.

    A link is read when it resolves inside the folder (or with `follow_symlinks`); a link to a
    folder is descended into only with `follow_symlinks`, once per real folder (no loops).
    """
    root = folder.resolve()
    entries: list[Entry] = []
    seen_dirs: set[Path] = set()

    def rel(p: Path) -> str:
        return "/".join(escape_name(part) for part in p.relative_to(folder).parts)

    def onerror(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else folder
        try:
            name = rel(where)
        except ValueError:
            name = escape_name(str(where))
        entries.append(Entry(where, name + "/", f"cannot list folder: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(folder, onerror=onerror, followlinks=follow_symlinks):
        here = Path(dirpath)
        real = here.resolve()
        if real in seen_dirs:
            dirnames[:] = []
            continue
        seen_dirs.add(real)
        # A summarize dataset inside the input folder (`--out` placed there) is output, never input.
        dirnames[:] = [d for d in dirnames if not (here / d / BOOKKEEPING).is_dir()]
        for d in sorted(dirnames):
            p = here / d
            if p.is_symlink() and not follow_symlinks and not _inside(p.resolve(), root):
                entries.append(Entry(p, rel(p) + "/", "symbolic link to a folder outside the input folder, not "
                                                      "followed (--follow-symlinks reads it)"))
        dirnames.sort()
        for f in sorted(filenames):
            p = here / f
            if not f.lower().endswith(FOLDER_SUFFIXES):
                continue
            if p.is_symlink():
                target = p.resolve()
                if not follow_symlinks and not _inside(target, root):
                    entries.append(Entry(p, rel(p), f"symbolic link to {escape_name(str(target))}, outside the input "
                                                    "folder; not followed (--follow-symlinks reads it)"))
                    continue
                if not target.is_file():
                    entries.append(Entry(p, rel(p), "symbolic link to nothing readable"))
                    continue
            elif not p.is_file():
                # A named pipe or a device is never opened (a read could block for ever), and is
                # listed so it becomes a reject row instead of vanishing.
                entries.append(Entry(p, rel(p), "not a regular file (a named pipe or a device), never opened"))
                continue
            entries.append(Entry(p, rel(p)))
    return sorted(entries, key=lambda e: e.rel)

