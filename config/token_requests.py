"""The browser's middleware, skipped for API requests that carry a Bearer token.

Under ASGI every middleware built on Django's MiddlewareMixin hands its `process_request` and
its `process_response` each to a thread and back: a trigger paid about twenty such hand-offs,
most of them for the session, the user, CSRF and messages (docs/benchmarks.md, "API trigger
throughput"). An API request with a Bearer token is authenticated by its token alone
(accounts.api_auth), so these middlewares skip it: it gets an empty session that is never
saved (not the browser's, whatever cookie came with it), the anonymous user until its token
authenticates, messages that are dropped, and no CSRF cookie. A Bearer token that does not
authenticate is therefore not rescued by a session cookie sent with it (401). Everything else,
the security headers included, goes through the whole stack as before.
"""

from collections.abc import Awaitable
from typing import Any

from django.contrib.auth import middleware as auth
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import middleware as messages
from django.contrib.messages.storage import default_storage
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest, HttpResponseBase
from django.middleware import csrf

from accounts.api_auth import bearer

Answer = HttpResponseBase | Awaitable[HttpResponseBase]


class SessionMiddleware(sessions.SessionMiddleware):
    def __call__(self, request: HttpRequest) -> Answer:
        if not bearer(request):
            return super().__call__(request)
        request.session = self.SessionStore()
        return self.get_response(request)


class CsrfViewMiddleware(csrf.CsrfViewMiddleware):
    """The API's operations check CSRF themselves, for sessions only (ninja's django_auth); the cookie is skipped."""

    def __call__(self, request: HttpRequest) -> Answer:
        return self.get_response(request) if bearer(request) else super().__call__(request)


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
