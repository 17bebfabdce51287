"""The engine core, in-process: every test here runs the engine in its own thread (the `in_process` fixture).

These tests run on PostgreSQL and, in `make pytest`'s second run, on SQLite (the embedded mode).
"""

import pytest


@pytest.fixture(autouse=True)
def _in_process(in_process: None) -> None:
    """Every test of the engine core runs the engine in-process."""
