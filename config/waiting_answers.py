"""The innermost middleware: a sync API operation's WaitingAnswer awaited on the event loop, and rendered by the API.

See builder.run_waits.WaitingAnswer. Innermost, so that the middleware above it see the answer
it gives, not the placeholder. Under Django's sync handler (its test client) the wait holds the
request's thread, as any wait there does.
"""

from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync, iscoroutinefunction
from django.http import HttpRequest, HttpResponseBase
from django.utils.decorators import sync_and_async_middleware

from builder.run_waits import WaitingAnswer
from config.api import api


async def _answered(request: HttpRequest, waiting: WaitingAnswer) -> HttpResponseBase:
    """What the operation would have answered with the result (or the error) `waiting` gives."""
    try:
        result = await waiting.result()
    except Exception as error:  # noqa: BLE001  (the API's handlers answer it, or raise it again, as for any operation)
        return api.on_exception(request, error)
    return api.create_response(request, result.value.model_dump(), status=result.status_code)


@sync_and_async_middleware
def answer_when_done(get_response: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], Any]:
    if iscoroutinefunction(get_response):

        async def on_the_loop(request: HttpRequest) -> HttpResponseBase:
            response = await get_response(request)
            return await _answered(request, response) if isinstance(response, WaitingAnswer) else response

        return on_the_loop

    def on_the_thread(request: HttpRequest) -> HttpResponseBase:
        response = get_response(request)
        return async_to_sync(_answered)(request, response) if isinstance(response, WaitingAnswer) else response

    return on_the_thread
