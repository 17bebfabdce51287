"""Sign-in throttling around django-axes: the lockout page, its audit entry, and the reset on success."""

import math
from typing import Any

from axes.signals import user_locked_out
from axes.utils import reset
from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.audit import record


def lockout_response(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """429 with a page saying when to try again, for the sign-in page and the admin's alike.

    Axes calls this with (request, original_response, credentials), or with (request, credentials)
    from its async middleware; neither is needed here.
    """
    seconds = math.ceil(settings.AXES_COOLOFF_TIME.total_seconds())
    response = render(request, "accounts/locked_out.html", {"minutes": math.ceil(seconds / 60)}, status=429)
    response["Retry-After"] = str(seconds)
    return response


@receiver(user_locked_out)
def audit_lockout(
    sender: Any, request: HttpRequest, username: str | None, ip_address: str | None, **kwargs: Any
) -> None:
    # Sent for the attempt that reaches the limit and for every attempt refused while locked.
    record(
        None,
        "user.locked_out",
        username=(username or "")[:150],
        ip_address=ip_address or "",
        path=request.path[:200],
    )


@receiver(user_logged_in)
def reset_failures_on_success(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    # Only this username's failures: the address's count must survive an attacker signing in to
    # an account of their own between guesses at someone else's.
    reset(username=user.get_username())
