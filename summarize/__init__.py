"""Summarize and translate batches of news articles into Parquet with full metadata."""

from __future__ import annotations

__version__ = "0.1.0"
