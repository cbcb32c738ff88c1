"""Engines that turn shards of articles into results: `local` (this process) and `ray` (Ray Data actors)."""
