"""CSP and CommonMiddleware on the event loop under ASGI, instead of a thread.

Under ASGI every middleware built on Django's MiddlewareMixin hands its `process_request` and
its `process_response` each to a thread and back (about 80 us of CPU and, on a busy machine,
half a millisecond of waiting per hand-off: docs/benchmarks.md, "API trigger throughput"). Two
of ours only read the request and set headers, so they run on the loop (`OnTheLoop`), for every
request. Security headers, CSRF and X-Frame-Options keep Django's own classes, whose dotted
names Django's deployment checks look for; the session, user and messages middleware may read
the database, so they stay on a thread.
"""

from typing import Any

from csp import middleware as csp
from django.http import HttpRequest, HttpResponseBase
from django.middleware import common


class OnTheLoop:
    """For a MiddlewareMixin whose process_request and process_response do no I/O and touch nothing
    thread-bound (no database, no session): under ASGI they run on the event loop, without the two
    hand-offs to a thread MiddlewareMixin makes for any middleware it cannot vouch for."""

    get_response: Any

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.process_request(request)  # type: ignore[attr-defined]
        response = response or await self.get_response(request)
        return self.process_response(request, response)  # type: ignore[attr-defined]


class CSPMiddleware(OnTheLoop, csp.CSPMiddleware):
    pass


class CommonMiddleware(OnTheLoop, common.CommonMiddleware):
    pass
