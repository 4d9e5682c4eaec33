"""Benchmarks: each script prints its numbers (see README.md here)."""
