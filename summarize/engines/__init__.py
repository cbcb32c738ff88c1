"""Engines that turn shards of articles into results: local (`summarize.api.LocalEngine`) and Ray."""
