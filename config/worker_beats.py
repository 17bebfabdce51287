"""Workers say they are alive: each writes its name and the time to Redis every few seconds, /readyz counts them.

One sorted set (worker name → time of its last beat) instead of one key per worker: counting
the recent beats is one ZCOUNT, where keys with a TTL would need a SCAN of every key in the
database. Times are the workers' clocks, so hosts must keep their clocks in step (NTP) to
within a few seconds of READY_WORKER_SECONDS. In the embedded mode there is no Redis: the
worker runs in the web's own process and its beats stay in this module.
"""

import functools
import logging
import socket
import threading
import time
from typing import Any

import redis
from celery.signals import worker_ready, worker_shutdown
from django.conf import settings

KEY = "switchyard:worker-beats"
# Names not heard from for a day are dropped from the set when a worker beats.
FORGET_AFTER_S = 86_400

log = logging.getLogger(__name__)
_local_beats: dict[str, float] = {}
_stop = threading.Event()


def _client() -> redis.Redis:
    return _client_for(settings.REDIS_URL)


@functools.lru_cache(maxsize=4)
def _client_for(url: str) -> redis.Redis:
    """One client (and connection pool) per URL: a beat every few seconds need not connect anew."""
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def beat(name: str, now: float | None = None) -> None:
    """Record that the worker `name` is alive at `now` (the current time by default)."""
    at = time.time() if now is None else now
    if not settings.REDIS_URL:
        _local_beats[name] = at
        return
    with _client().pipeline() as pipe:
        pipe.zadd(KEY, {name: at})
        pipe.zremrangebyscore(KEY, "-inf", at - FORGET_AFTER_S)
        pipe.execute()


def forget(name: str) -> None:
    """The worker `name` stops: it no longer counts, without waiting for its last beat to age."""
    if not settings.REDIS_URL:
        _local_beats.pop(name, None)
        return
    _client().zrem(KEY, name)


def live_workers(within_s: float, now: float | None = None) -> int:
    """How many workers beat within the last `within_s` seconds; redis.RedisError if Redis is down."""
    since = (time.time() if now is None else now) - within_s
    if not settings.REDIS_URL:
        return sum(1 for at in _local_beats.values() if at >= since)
    return int(_client().zcount(KEY, since, "+inf"))


def _beat_until_stopped(name: str) -> None:
    """A worker's beat thread: a Redis outage is logged once and beating goes on when it is back."""
    failing = False
    while not _stop.is_set():
        try:
            beat(name)
        except redis.RedisError as error:
            if not failing:
                log.warning("could not record this worker's heartbeat: %s", error)
            failing = True
        else:
            failing = False
        _stop.wait(settings.WORKER_BEAT_SECONDS)


def worker_name(sender: Any) -> str:
    """The worker's node name (celery@host), unique among live workers; its host and pid if it has none."""
    return str(getattr(sender, "hostname", "") or f"{socket.gethostname()}:{threading.get_native_id()}")


@worker_ready.connect
def start_beating(sender: Any = None, **_: Any) -> None:
    """In the worker's main process once it consumes; with prefork its children need no beat of their own."""
    _stop.clear()
    threading.Thread(target=_beat_until_stopped, args=(worker_name(sender),), name="worker-beat", daemon=True).start()


@worker_shutdown.connect
def stop_beating(sender: Any = None, **_: Any) -> None:
    _stop.set()
    try:
        forget(worker_name(sender))
    except redis.RedisError as error:
        log.warning("could not remove this worker's heartbeat: %s", error)
