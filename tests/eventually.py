"""`eventually`: wait for something another thread or process does, instead of a hand-written polling loop."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# Short enough that a test waits little past the moment its condition holds, long enough that
# a poll reading the database does not take a core of this 2-core machine from the worker.
INTERVAL_S = 0.02


def eventually(
    predicate: Callable[[], T],
    timeout: float = 10,
    *,
    message: str | Callable[[], str] = "",
    interval: float = INTERVAL_S,
) -> T:
    """Call `predicate` until it returns something truthy, and return that; AssertionError after `timeout` s.

    The timeout is a bound for a stuck test, never a measurement: a condition that holds is
    seen at the next poll however loaded the machine is. `message` (or a function giving it,
    called only on failure) says what was awaited and what was seen instead.
    """
    deadline = time.monotonic() + timeout
    while True:
        if value := predicate():
            return value
        if time.monotonic() > deadline:
            said = message() if callable(message) else message
            raise AssertionError(f"not within {timeout} s: {said or getattr(predicate, '__name__', predicate)}")
        time.sleep(interval)
