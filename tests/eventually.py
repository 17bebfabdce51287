"""`eventually`: wait for something another thread or process does, instead of a hand-written polling loop."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# The first look comes soon, so that a condition about to hold is seen a few milliseconds after
# it does; each look after that waits a quarter longer than the one before, up to LONGEST_S. A
# poll reads the database or asks a worker, and on a 2-core machine a wait of seconds polled
# every few milliseconds takes CPU from the worker and PostgreSQL it waits for.
FIRST_S = 0.005
GROWTH = 1.25
LONGEST_S = 0.1


def eventually(
    predicate: Callable[[], T],
    timeout: float = 10,
    *,
    message: str | Callable[[], str] = "",
    interval: float | None = None,
) -> T:
    """Call `predicate` until it returns something truthy, and return that; AssertionError after `timeout` s.

    The timeout is a bound for a stuck test, never a measurement: a condition that holds is
    seen at the next poll however loaded the machine is. `message` (or a function giving it,
    called only on failure) says what was awaited and what was seen instead. `interval` fixes
    the pause between polls (0 for a predicate that waits by itself) instead of lengthening it.
    """
    deadline = time.monotonic() + timeout
    pause = FIRST_S if interval is None else interval
    while True:
        if value := predicate():
            return value
        if time.monotonic() > deadline:
            said = message() if callable(message) else message
            raise AssertionError(f"not within {timeout} s: {said or getattr(predicate, '__name__', predicate)}")
        time.sleep(pause)
        if interval is None:
            pause = min(pause * GROWTH, LONGEST_S)
