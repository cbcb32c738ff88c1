"""Helpers for tests: tiny local models that stand in for Hub checkpoints nobody here can download."""
