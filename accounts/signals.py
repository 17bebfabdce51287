"""Sign-ins and sign-outs go to the audit log; `workspace_created` lets other apps add starter content."""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import Signal, receiver
from django.http import HttpRequest

from accounts.audit import record

# Sent with `workspace` by accounts.workspaces.create_workspace, inside its transaction.
workspace_created = Signal()


@receiver(user_logged_in)
def audit_login(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    record(user, "user.logged_in", target=user)


@receiver(user_logged_out)
def audit_logout(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record(user, "user.logged_out", target=user)


@receiver(user_login_failed)
def audit_login_failure(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # The credentials dict carries the password too; only the username is kept.
    record(None, "user.login_failed", username=str(credentials.get("username", ""))[:150])
