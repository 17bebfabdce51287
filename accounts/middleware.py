"""Picks the workspace a signed-in user is working in, kept in the session.

A fresh session (after sign-in) starts in the workspace the user used last
(accounts.workspaces.landing), which then counts as used.
"""

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse

from accounts import workspaces
from accounts.models import Membership

SESSION_KEY = "workspace_id"


class CurrentWorkspaceMiddleware:
    """Sync and async alike, so that Django runs an async view (a waiting trigger) on no thread of its own."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self.__acall__(request)
        choose(request)
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        if request.session.session_key is None:
            # No session cookie (an API token, a first visit): the user is anonymous, which choose() learns
            # from the empty session without reading the database, so it runs here on the event loop.
            choose(request)
        else:
            # The session and the membership are read as the sync path reads them, on the request's thread.
            await sync_to_async(choose)(request)
        return await self.get_response(request)  # type: ignore[misc]


def choose(request: HttpRequest) -> None:
    """Put the membership and workspace the user is working in on `request` (None for anonymous users)."""
    request.membership = None  # type: ignore[attr-defined]
    request.workspace = None  # type: ignore[attr-defined]
    if request.user.is_authenticated:
        chosen = request.session.get(SESSION_KEY)
        found = (
            Membership.objects.select_related("workspace").filter(user_id=request.user.pk, workspace_id=chosen).first()
            if chosen
            else None
        )
        if found is None:
            found = workspaces.landing(request.user.pk)
            if found is not None:
                workspaces.mark_used(found)
        if found is not None:
            request.membership = found  # type: ignore[attr-defined]
            request.workspace = found.workspace  # type: ignore[attr-defined]
            if chosen != found.workspace_id:
                request.session[SESSION_KEY] = found.workspace_id
