"""Writing through a database blip: a write that must not be lost is tried again with backoff.

Used for what records work already done outside the database (a side effect's answer, a
model call the provider answered, a node's outcome): giving up would make the work happen
again, or leave it unbilled. Only errors that say the database could not take the write
now (a lost connection, a restart, a serialization failure: Django's OperationalError and
InterfaceError) are tried again; any other error is the write's own and is raised at once.
"""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

log = logging.getLogger(__name__)
T = TypeVar("T")

TRANSIENT = (OperationalError, InterfaceError)
FIRST_DELAY_S = 0.05
LONGEST_DELAY_S = 2.0


def is_transient(error: BaseException) -> bool:
    return isinstance(error, TRANSIENT)


def next_delay(delay: float) -> float:
    return min(delay * 2, LONGEST_DELAY_S)


def persist(write: Callable[[], T], what: str, within_s: float | None = None) -> T:
    """`write()`, tried again on a transient error for up to `within_s` (the node's lease by default).

    Inside an outer transaction nothing can be tried again (the transaction is broken), so
    the error is raised at once there.
    """
    give_up = time.monotonic() + (settings.ENGINE_LEASE_S if within_s is None else within_s)
    delay = FIRST_DELAY_S
    while True:
        try:
            return write()
        except TRANSIENT as error:
            if connection.in_atomic_block or time.monotonic() + delay > give_up:
                raise
            log.warning("could not %s (%s); trying again in %.2f s", what, error, delay)
            # A connection the error left unusable is closed, so the next try opens a new one.
            connection.close_if_unusable_or_obsolete()
            time.sleep(delay)
            delay = next_delay(delay)
