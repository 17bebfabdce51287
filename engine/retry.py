"""When a failed node is tried again: exponential backoff with jitter, capped, per node policy."""

import random
from collections.abc import Callable

from engine.errors import NodeError
from engine.graph import RetryPolicy


def may_retry(policy: RetryPolicy, attempt: int, error: NodeError) -> bool:
    """`attempt` is the attempt that just failed, counting from 1."""
    return attempt < policy.max_attempts and error.retryable and error.code not in policy.non_retryable


def delay_s(policy: RetryPolicy, attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Seconds before the next attempt: initial * backoff^(attempt-1), capped, with up to `jitter` of it random.

    Jitter spreads retries of many runs that failed together (a provider outage) so they do
    not come back in one burst.
    """
    base = min(policy.max_delay_s, policy.initial_delay_s * policy.backoff ** (attempt - 1))
    return base * (1 - policy.jitter) + base * policy.jitter * rand()


def wait_s(policy: RetryPolicy, attempt: int, error: NodeError) -> float:
    """The backoff delay, or the server's Retry-After when the failed call was asked to wait longer.

    Coming back sooner than a rate-limiting server asked only earns another 429.
    """
    asked = error.details.get("retry_after_s")
    delay = delay_s(policy, attempt)
    return max(delay, float(asked)) if isinstance(asked, int | float) else delay
