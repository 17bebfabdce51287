"""The Redis cache (config/cache.py): one connection pool per process, shared by the request threads."""

import threading
from typing import cast

import pytest
from django.conf import settings
from django.core.cache import caches

from config.cache import SharedRedisCache

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="the embedded mode caches in memory")


def redis_connection_of_a_new_thread() -> int:
    """What a request does under ASGI: on a thread of its own, use the cache; the Redis connection it used."""
    found: list[int] = []

    def request() -> None:
        cache = cast(SharedRedisCache, caches["default"])
        cache.set("test-cache-probe", 1, timeout=5)
        found.append(cache.client.get_client("test-cache-probe").client_id())

    thread = threading.Thread(target=request)
    thread.start()
    thread.join()
    return found[0]


def test_it_reuses_one_redis_connection_for_requests_on_new_threads():
    first = redis_connection_of_a_new_thread()

    later = {redis_connection_of_a_new_thread() for _ in range(5)}

    assert later == {first}


def test_it_increments_an_existing_key_and_keeps_its_expiry():
    cache = cast(SharedRedisCache, caches["default"])
    cache.set("test-cache-counter", 4, timeout=100)

    assert cache.incr("test-cache-counter") == 5
    assert cache.incr("test-cache-counter", 3) == 8
    assert cache.get("test-cache-counter") == 8
    key = cache.make_and_validate_key("test-cache-counter")
    assert 0 < cache.client.get_client(key).ttl(key) <= 100


def test_it_refuses_to_increment_a_missing_key_as_django_does():
    cache = caches["default"]
    cache.delete("test-cache-missing")

    with pytest.raises(ValueError, match="not found"):
        cache.incr("test-cache-missing")
    assert cache.get("test-cache-missing") is None
