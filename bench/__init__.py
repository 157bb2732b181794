"""Benchmarks for voicehook. See docs/benchmarks.md."""
