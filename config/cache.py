"""The Redis cache with one client (and so one connection pool) per process instead of one per thread."""

import re
import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_clients: dict[str, RedisCacheClient] = {}
_lock = threading.Lock()


class SharedRedisCache(RedisCache):
    """Django makes a cache object per thread, each with its own pool. The ASGI handler runs every
    request on a thread of its own, so each request opened a new Redis connection (a connect and
    a HELLO: a tenth of the web process's time at 30 triggers/s). redis-py's pool is thread-safe,
    and it notices a fork (a prefork worker's child) and starts afresh there."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._arguments = (re.split("[;,]", server), dict(params.get("OPTIONS", {})))
        self._key = repr((server, sorted(self._arguments[1].items())))

    @property
    def client(self) -> RedisCacheClient:
        """This process's client for this cache's servers and options."""
        found = _clients.get(self._key)
        if found is None:
            with _lock:
                servers, options = self._arguments
                found = _clients.setdefault(self._key, RedisCacheClient(servers, **options))
        return found

    @property
    def _cache(self) -> RedisCacheClient:  # Django's RedisCache reads its client from here
        return self.client
