"""Template context for the navigation: the current workspace and the ones to switch to."""

from typing import Any

from django.http import HttpRequest

from accounts.models import Membership


def workspace(request: HttpRequest) -> dict[str, Any]:
    current = getattr(request, "membership", None)
    if current is None:
        return {"current_membership": None, "other_memberships": []}
    others = Membership.objects.select_related("workspace").filter(user=current.user_id).exclude(pk=current.pk)
    return {"current_membership": current, "other_memberships": others}
