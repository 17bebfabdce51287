"""Django's middleware made cheaper under ASGI: the browser's skipped for API requests with a Bearer token, and two
run on the event loop.

Under ASGI every middleware built on Django's MiddlewareMixin hands its `process_request` and
its `process_response` each to a thread and back: a trigger paid about twenty such hand-offs,
most of them for the session, the user and messages (docs/benchmarks.md, "API trigger
throughput"). An API request with a Bearer token is authenticated by its token alone
(accounts.api_auth), so these middlewares skip it: it gets an empty session that is never
saved (not the browser's, whatever cookie came with it), the anonymous user until its token
authenticates, and messages that are dropped. A Bearer token that does not authenticate is
therefore not rescued by a session cookie sent with it (401). Everything else goes through the
whole stack as before; CSRF, the security headers and X-Frame-Options keep Django's own
classes, whose dotted names Django's deployment checks look for.

Two middlewares that only read the request and set headers (CSP and CommonMiddleware) run
on the event loop instead of a thread under ASGI (`OnTheLoop`): for every request.
"""

from collections.abc import Awaitable
from typing import Any

from csp import middleware as csp
from django.contrib.auth import middleware as auth
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import middleware as messages
from django.contrib.messages.storage import default_storage
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest, HttpResponseBase
from django.middleware import common

from accounts.api_auth import bearer

Answer = HttpResponseBase | Awaitable[HttpResponseBase]


class SessionMiddleware(sessions.SessionMiddleware):
    def __call__(self, request: HttpRequest) -> Answer:
        if not bearer(request):
            return super().__call__(request)
        request.session = self.SessionStore()
        return self.get_response(request)


class AuthenticationMiddleware(auth.AuthenticationMiddleware):
    def __call__(self, request: HttpRequest) -> Answer:
        if not bearer(request):
            return super().__call__(request)
        request.user = AnonymousUser()

        async def anonymous() -> Any:
            return request.user  # the token's user once its token authenticated (accounts.api_auth)

        request.auser = anonymous
        return self.get_response(request)


class MessageMiddleware(messages.MessageMiddleware):
    def __call__(self, request: HttpRequest) -> Answer:
        if not bearer(request):
            return super().__call__(request)
        request._messages = default_storage(request)  # type: ignore[attr-defined]
        return self.get_response(request)


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
