"""Benchmark commands that print figures; never run by the test suite (see bench/README.md)."""
