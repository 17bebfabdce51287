"""Benchmarks: scripts run by hand from the repo root, never as part of the test suite."""
