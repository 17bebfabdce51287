"""Picks the workspace a signed-in user is working in, kept in the session.

A fresh session (after sign-in) starts in the workspace the user used last
(accounts.workspaces.landing), which then counts as used.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from accounts import workspaces
from accounts.models import Membership

SESSION_KEY = "workspace_id"


class CurrentWorkspaceMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.membership = None  # type: ignore[attr-defined]
        request.workspace = None  # type: ignore[attr-defined]
        if request.user.is_authenticated:
            chosen = request.session.get(SESSION_KEY)
            found = (
                Membership.objects.select_related("workspace")
                .filter(user_id=request.user.pk, workspace_id=chosen)
                .first()
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
        return self.get_response(request)
