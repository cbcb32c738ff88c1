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
