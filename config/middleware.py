"""Django's middleware (and django-csp's) on the event loop under ASGI instead of a thread, and the handler to load it.

Under ASGI every middleware built on Django's MiddlewareMixin hands its `process_request`,
`process_view` and `process_response` each to a thread and back (about 80 us of CPU and, on a
busy machine, half a millisecond of waiting per hand-off: docs/benchmarks.md, "API trigger
throughput"). The ones in ON_THE_LOOP read the request, set headers and cookies, and install
lazy objects (the session, the user, the message storage) that views evaluate on their own
thread. Their variants here run each step on the loop, and hand a step to a thread only when it
may read or write the database: saving a changed session, storing messages that were added or
shown, a CSRF check that reads the form or keeps its secret in the session.

settings.MIDDLEWARE keeps Django's names, which its deployment checks look for (security, CSRF
and X-Frame-Options warnings are given only when their class is named there): `ASGIHandler`
loads these variants in their place. Django's sync handler (the test client) runs Django's own
classes, which these equal outside an event loop.
"""

from collections.abc import Callable
from typing import Any

from asgiref.sync import ThreadSensitiveContext, iscoroutinefunction, sync_to_async
from csp import middleware as csp
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.core.handlers import asgi
from django.http import HttpRequest, HttpResponseBase
from django.middleware import clickjacking, common, csrf, security

from config import request_threads

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


class OnTheLoop:
    """For a MiddlewareMixin: under ASGI its `process_request` and `process_response` run on the event loop, each
    on a thread only when its `..._on_a_thread` says so (MiddlewareMixin sends each to a thread every time)."""

    get_response: Any

    def request_on_a_thread(self, request: HttpRequest) -> bool:
        return False

    def response_on_a_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        return False

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = None
        if hasattr(self, "process_request"):
            response = await step(self.process_request, self.request_on_a_thread(request), request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = await step(
                self.process_response, self.response_on_a_thread(request, response), request, response
            )
        return response


async def step(method: Callable[..., Any], on_a_thread: bool, *args: Any) -> Any:
    """Call a middleware's sync method here, or on the request's thread as MiddlewareMixin would."""
    if on_a_thread:
        return await sync_to_async(method, thread_sensitive=True)(*args)
    return method(*args)


class SecurityMiddleware(OnTheLoop, security.SecurityMiddleware):
    pass


class CSPMiddleware(OnTheLoop, csp.CSPMiddleware):
    pass


class CommonMiddleware(OnTheLoop, common.CommonMiddleware):
    pass


class AuthenticationMiddleware(OnTheLoop, auth.AuthenticationMiddleware):
    """Installs the lazy user; the view, on its thread, is what reads it."""


class XFrameOptionsMiddleware(OnTheLoop, clickjacking.XFrameOptionsMiddleware):
    pass


class SessionMiddleware(OnTheLoop, sessions.SessionMiddleware):
    """Makes the store on the loop (it reads nothing until asked); a session to be saved is saved on a thread."""

    def response_on_a_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        session = getattr(request, "session", None)
        return session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


class MessageMiddleware(OnTheLoop, messages.MessageMiddleware):
    """Makes the storage on the loop; messages that were added or shown are stored on a thread, since the
    fallback storage reads and writes the session."""

    def response_on_a_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and (storage.used or storage.added_new)


class CsrfViewMiddleware(OnTheLoop, csrf.CsrfViewMiddleware):
    """Reads and sets the cookie on the loop, and lets safe methods and exempt views through there. A check of an
    unsafe request reads the form (a multipart body may be large) and may render the failure page: a thread."""

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)
        if iscoroutinefunction(get_response):
            # Django keeps a coroutine function's process_view on the loop and adapts a sync one to a thread.
            self.process_view = self._process_view_async  # type: ignore[assignment]

    def request_on_a_thread(self, request: HttpRequest) -> bool:
        return settings.CSRF_USE_SESSIONS

    def response_on_a_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        return settings.CSRF_USE_SESSIONS

    async def _process_view_async(
        self, request: HttpRequest, callback: Any, callback_args: Any, callback_kwargs: Any
    ) -> HttpResponseBase | None:
        # The cases in which Django's process_view returns before it reads anything.
        reads_nothing = (
            getattr(request, "csrf_processing_done", False)
            or getattr(callback, "csrf_exempt", False)
            or request.method in SAFE_METHODS
        )
        return await step(super().process_view, not reads_nothing, request, callback, callback_args, callback_kwargs)


def dotted(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# Django's (or django-csp's) dotted name -> its variant's; a variant's second base is the class it stands in for.
ON_THE_LOOP = {
    dotted(variant.__bases__[1]): dotted(variant)
    for variant in (
        SecurityMiddleware,
        CSPMiddleware,
        SessionMiddleware,
        CommonMiddleware,
        CsrfViewMiddleware,
        AuthenticationMiddleware,
        MessageMiddleware,
        XFrameOptionsMiddleware,
    )
}


class ASGIHandler(asgi.ASGIHandler):
    """Django's ASGI handler, with ON_THE_LOOP's variants in place of the classes settings.MIDDLEWARE names, and a
    kept thread for each request's sync work (config/request_threads.py) instead of a new one."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)  # Django's refusal
            return
        thread = request_threads.take()
        try:
            async with ThreadSensitiveContext(executor=thread):
                await self.handle(scope, receive, send)
        finally:
            request_threads.give_back(thread)

    def load_middleware(self, is_async: bool = False) -> None:
        # Django reads the list from the settings; it is put back as soon as the chain is built, at start-up.
        named = settings.MIDDLEWARE
        settings.MIDDLEWARE = [ON_THE_LOOP.get(path, path) for path in named]
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = named
