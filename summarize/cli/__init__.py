"""The `summarize` command line: parse, build options, call the library, map errors to exit codes.

`params` declares the options several commands share (defaults from `summarize.options`),
`run` holds `run`, `detect` and `schema`, `models` the `models` sub-commands, and `app` puts
them together. Imports point one way: app -> run, models -> params -> common.
"""

from __future__ import annotations

from .app import app, build_default_map, main

__all__ = ["app", "build_default_map", "main"]
