"""Threads kept for the sync parts of HTTP requests under ASGI, instead of a new thread per request.

Django's ASGI handler runs each request in an asgiref ThreadSensitiveContext: the request's
sync work (its view, a middleware step that touches the database, `request_started` and
`request_finished`) runs on one thread of its own, so that requests do not queue behind one
another and a request's database connection stays on one thread. Left to itself, asgiref
creates that thread (a ThreadPoolExecutor of one) for every request and, when the request
ends, one more thread to join it: the thread starts and their locks were about a tenth of the
web process's samples under load (docs/benchmarks.md, "API trigger throughput"). A context
may instead use an executor its caller owns (asgiref 3.13), which it does not shut down: these
are kept for the next request, one request at a time each, as a WSGI server keeps its threads.
What a thread keeps between requests is what it keeps under WSGI: Django's database
connection (given back to the pool, or closed, by `request_finished` as before) and
thread-local clients.
"""

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

# Idle threads kept beyond this (after a burst of concurrent requests) are let go.
IDLE_KEPT = 64


class RequestThread(ThreadPoolExecutor):
    """One thread that counts the calls it has not finished: only an idle one is kept for another request."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="request")
        self.unfinished = 0
        self._count = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._count:
            self.unfinished += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _: Future[Any]) -> None:
        with self._count:
            self.unfinished -= 1


_idle: list[RequestThread] = []


def take() -> RequestThread:
    """A thread for one request: an idle one, or a new one."""
    try:
        return _idle.pop()
    except IndexError:
        return RequestThread()


def give_back(thread: RequestThread) -> None:
    """Keep the request's thread for the next request if it has nothing left to run. A request cancelled while its
    sync work ran (the client went away) leaves that work running: its thread is let go, and ends when the work does."""
    if thread.unfinished == 0 and len(_idle) < IDLE_KEPT:
        _idle.append(thread)
    else:
        thread.shutdown(wait=False)
