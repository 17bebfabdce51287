"""kombu's Redis transport with one redis-py client per channel, instead of a new one per command.

kombu builds a `redis.Redis` object (its response callbacks copied, its options checked) for
every publish and for each of the two pipelines that track a delivered message until its ack
(`Channel.conn_or_acquire`): about 0.2 ms of CPU each, three per run between the web process's
publish and the worker's delivery and ack (docs/benchmarks.md). A client holds no connection of
its own: every command takes one from the channel's pool and gives it back, so one client serves
every thread of the process, as one pool already does. When the channel lets its pool go (a lost
connection), the client goes with it and the next command builds one on the new pool.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import redis


class Channel(redis.Channel):
    _shared_client: Any = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        shared = self._shared_client
        if shared is None or shared.connection_pool is not self.pool:
            shared = self._shared_client = self._create_client()  # type: ignore[attr-defined]  # (kombu's, not in the stubs)
        yield shared


class Transport(redis.Transport):
    Channel = Channel
