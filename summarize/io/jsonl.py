"""JSON Lines read with limits: one poisoned line becomes a reject, never a crash or a stall.

A line is read with a length cap (a 10 GB line is skipped in bounded memory, not loaded), is
checked for nesting depth before `json.loads` sees it (a 50,000-deep array would otherwise raise
RecursionError, and crash again on every `--resume`), and any other error the parser raises (an
integer of more digits than Python converts) is that line's reject reason. A file that starts
with a UTF-16 or UTF-32 byte order mark (PowerShell writes UTF-16 by default) is read as text in
that encoding; otherwise each line is decoded on its own by `decode.decode`, as UTF-8 first.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from .decode import bom_encoding, decode

MAX_LINE_BYTES = 64 * 1024 * 1024  # a news article is kilobytes; --max-chars cuts texts at 100,000 characters anyway
MAX_DEPTH = 64  # a record is an object of fields; kept values nest a few levels at most
_SKIP_CHUNK = 1 << 20
# A JSON string (skipped whole, so brackets inside it do not count) or a bracket.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


@dataclass
class Line:
    """One line of a JSONL input.

    Attributes:
        number: 1-based line number.
        text: The decoded line (without its newline); None when it was longer than the limit.
        flags: How it was decoded (`decoded_from:...`, `invalid_utf8`).
        size: Its length in bytes (characters, for a UTF-16/32 file) when too long.
    """

    number: int
    text: str | None
    flags: list[str] = field(default_factory=list)
    size: int = 0


class _Prefixed(io.RawIOBase):
    """A binary stream with some bytes already read put back in front (to sniff a BOM)."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        if self._head:
            n = min(len(buf), len(self._head))
            buf[:n], self._head = self._head[:n], self._head[n:]
            return n
        data = self._rest.read(len(buf))
        buf[: len(data)] = data
        return len(data)


def read_lines(stream: IO[bytes], where: str, max_bytes: int | None = None) -> Iterator[Line]:
    """The non-blank lines of a JSONL stream, decoded, each at most `max_bytes` long."""
    limit = MAX_LINE_BYTES if max_bytes is None else max_bytes
    head = stream.read(4)
    bom = bom_encoding(head)
    buffered = io.BufferedReader(_Prefixed(head, stream))
    if bom and bom[0] != "utf-8":
        enc, size = bom
        buffered.read(size)
        text = io.TextIOWrapper(buffered, encoding=enc, errors="replace", newline="\n")
        yield from _lines(text, limit, lambda s, n: (s, [f"decoded_from:{enc}"]), "")
        return
    yield from _lines(buffered, limit, lambda b, n: decode(b, f"{where}:{n}"), b"")


def _lines(stream: Any, limit: int, convert: Any, empty: Any) -> Iterator[Line]:
    newline = "\n" if isinstance(empty, str) else b"\n"
    n = 0
    while True:
        data = stream.readline(limit + 1)
        if not data:
            return
        n += 1
        if len(data) > limit and not data.endswith(newline):
            size = len(data)
            while data and not data.endswith(newline):  # skip the rest of the line, a chunk at a time
                data = stream.readline(_SKIP_CHUNK)
                size += len(data)
            yield Line(n, None, [], size)
            continue
        if not data.strip():
            continue
        text, flags = convert(data.rstrip("\r\n" if isinstance(data, str) else b"\r\n"), n)
        yield Line(n, text, flags)


def count_lines(stream: IO[bytes]) -> int:
    """How many non-blank lines a stream holds, reading at most a chunk at a time (the total of
    a progress bar; a UTF-16 file's lines are counted as well, its blank ones too)."""
    n = 0
    blank = True
    while chunk := stream.readline(_SKIP_CHUNK):
        blank = blank and not chunk.strip()
        if chunk.endswith(b"\n"):
            n += not blank
            blank = True
    return n + (not blank)


def too_deep(text: str, limit: int = MAX_DEPTH) -> int:
    """The nesting depth of a JSON text when it is over `limit`, else 0 (cheap for flat records:
    brackets are only followed when there are more of them than the limit)."""
    if text.count("[") + text.count("{") <= limit:
        return 0
    depth = 0
    for m in _TOKENS.finditer(text):
        tok = m.group()
        if tok in "[{":
            depth += 1
            if depth > limit:
                return depth
        elif tok in "]}":
            depth -= 1
    return 0


def parse(text: str) -> tuple[Any, str | None]:
    """(value, None) for a JSON text, or (None, reason) when it cannot or may not be parsed."""
    if too_deep(text):
        return None, f"JSON nested more than {MAX_DEPTH} levels deep"
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc.msg} at column {exc.colno}"
    except RecursionError:
        return None, f"JSON nested more than {MAX_DEPTH} levels deep"
    except ValueError as exc:  # an integer of more than 4,300 digits, say
        return None, f"invalid JSON: {exc}"
