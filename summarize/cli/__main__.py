"""`python -m summarize.cli`: the same as the `summarize` console script."""

from __future__ import annotations

from .app import main

main()
