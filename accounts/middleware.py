"""Picks the workspace a signed-in user is working in, kept in the session."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from accounts.models import Membership

SESSION_KEY = "workspace_id"


class CurrentWorkspaceMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.membership = None  # type: ignore[attr-defined]
        request.workspace = None  # type: ignore[attr-defined]
        if request.user.is_authenticated:
            memberships = Membership.objects.select_related("workspace").filter(user_id=request.user.pk)
            chosen = request.session.get(SESSION_KEY)
            found = memberships.filter(workspace_id=chosen).first() if chosen else None
            found = found or memberships.order_by("workspace__name").first()
            if found is not None:
                request.membership = found  # type: ignore[attr-defined]
                request.workspace = found.workspace  # type: ignore[attr-defined]
                if chosen != found.workspace_id:
                    request.session[SESSION_KEY] = found.workspace_id
        return self.get_response(request)
