"""Choosing and fetching models: language codes, the registry (shipped TOML and user files),
routing an article to its models, prompts, the Hub and the download pre-flight."""
