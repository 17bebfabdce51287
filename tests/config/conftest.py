"""Fixtures for the tests of config/: a private Redis to stop and restart."""

import signal
from collections.abc import Iterator

import pytest

from tests.private_services import RedisServer


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A `redis-server` of the test's own (tests.private_services), killed after the test."""
    server = RedisServer()
    try:
        yield server
    finally:
        server.stop(signal.SIGKILL)
