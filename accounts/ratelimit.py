"""Fixed one-minute windows in the shared cache: how many times a key was used this minute."""

from django.core.cache import cache
from django.utils import timezone


class RateLimited(Exception):
    def __init__(self, what: str, retry_after: int) -> None:
        super().__init__(f"Too many runs started {what}; retry in {retry_after} s")
        self.retry_after = retry_after


def hit(key: str, per_minute: int, what: str) -> None:
    """Count one use of `key`; raise RateLimited once it is over `per_minute` in this minute.

    With the cache (Redis) unreachable, its ConnectionError goes up on purpose and the caller
    answers 503 with Retry-After (config/unavailable.py): the limit does not fail open, since the
    run it would let through could not be queued either, Redis being the Celery broker too
    (docs/security.md).
    """
    now = int(timezone.now().timestamp())
    window = now - now % 60
    slot = f"rate:{key}:{window}"
    try:
        used = cache.incr(slot)  # one round trip, but for the minute's first use
    except ValueError:
        cache.add(slot, 0, timeout=120)
        used = cache.incr(slot)
    if used > per_minute:
        raise RateLimited(what, retry_after=window + 60 - now)
