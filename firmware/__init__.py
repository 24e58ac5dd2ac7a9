"""Masterbox firmware: CLI, offline renderer, presets and config (the daemon builds on these)."""
