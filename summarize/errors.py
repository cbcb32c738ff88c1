"""The few exceptions the library raises on purpose.

The CLI prints any `SummarizeError` as one line on stderr and exits with its `exit_code`;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class SummarizeError(Exception):
    """Base class of every expected error; `exit_code` is what the CLI exits with."""

    exit_code = 1


class UsageError(SummarizeError):
    """Bad options, an unreadable input, an unknown column: the user must change the command."""

    exit_code = 2


class InputError(SummarizeError):
    """One input record cannot be read; it goes to `rejects/` and the run goes on."""


class ModelError(SummarizeError):
    """A model cannot be found, fetched or loaded."""

    exit_code = 2


class UnsupportedLanguageError(SummarizeError):
    """A model (or route) has no code for the language asked for; a per-row error."""


class PromptError(SummarizeError):
    """A prompt template is unknown or needs a variable that was not given."""

    exit_code = 2


class OutputError(SummarizeError):
    """The output folder cannot be written, or holds a run that conflicts with this one."""

    exit_code = 2


# errno -> what to say: the failures that come from the machine, not from the code.
_OS_REASONS = {
    "EROFS": "the file system is read-only (remounted read-only after an error?)",
    "ENOSPC": "no space left on the device",
    "EDQUOT": "the disk quota is exhausted",
    "ENAMETOOLONG": "a file name is too long (most file systems allow 255 bytes per name)",
    "EACCES": "permission denied",
    "EPERM": "operation not permitted",
    "EIO": "input/output error (a failing disk or a lost network mount)",
    "ESTALE": "stale file handle (a network mount went away)",
    "EMFILE": "too many open files (raise `ulimit -n`)",
}
# Exceptions object-store clients raise when an endpoint cannot be reached or refuses the
# credentials (botocore, aiohttp, Azure and Google clients), recognised by class name so that
# none of those packages must be imported here.
_UNREACHABLE = {"EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ClientConnectorError",
                "ServerTimeoutError", "ConnectionClosedError", "ServiceRequestError", "TransportError"}
_CREDENTIALS = {"NoCredentialsError", "PartialCredentialsError", "ClientAuthenticationError", "DefaultCredentialsError"}


def environment_error(exc: BaseException) -> SummarizeError | None:
    """An error of the machine rather than of the code, as one sentence with exit code 2: a file
    system that refuses a write (read-only, full, a name too long), an object store that cannot
    be reached or refuses the credentials. None for anything else, which is a bug and keeps its
    traceback."""
    import errno

    if isinstance(exc, BrokenPipeError):
        return None  # stdout's reader went away: the commands end quietly themselves
    names = {cls.__name__ for cause in _chain(exc) for cls in type(cause).__mro__}
    if names & _UNREACHABLE or isinstance(exc, ConnectionError):
        return OutputError(f"cannot reach the storage endpoint: {_first_line(exc)}; check the endpoint URL "
                           "(--storage-option endpoint_url=... or AWS_ENDPOINT_URL) and the network")
    if names & _CREDENTIALS:
        return OutputError(f"the object store refused the credentials: {_first_line(exc)}")
    if isinstance(exc, OSError) and exc.errno is not None:
        name = errno.errorcode.get(exc.errno, "")
        reason = _OS_REASONS.get(name, exc.strerror or name)
        where = f"{exc.filename}: " if exc.filename else ""
        return OutputError(f"{where}{reason}; what was committed before stays, and --resume continues once "
                           "the cause is fixed")
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in out and len(out) < 10:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
