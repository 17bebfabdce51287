"""Sign-ins and sign-outs go to the audit log; changes of access prompt live sockets; `workspace_created` lets
other apps add starter content."""

from typing import Any

from django.contrib.auth.models import User
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal, receiver
from django.http import HttpRequest

from accounts import live_access
from accounts.audit import record
from accounts.models import Membership

# Sent with `workspace` by accounts.workspaces.create_workspace, inside its transaction.
workspace_created = Signal()


@receiver(user_logged_in)
def audit_login(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    record(user, "user.logged_in", target=user)


@receiver(user_logged_out)
def audit_logout(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record(user, "user.logged_out", target=user)
    # Sent before the session is flushed, so its key is still there.
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        live_access.session_ended(session_key)


@receiver(user_login_failed)
def audit_login_failure(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # The credentials dict carries the password too; only the username is kept.
    record(
        None,
        "user.login_failed",
        username=str(credentials.get("username", ""))[:150],
        ip_address=request.META.get("REMOTE_ADDR", "") if request is not None else "",
    )


@receiver(post_save, sender=Membership)
def membership_saved(
    sender: Any, instance: Membership, created: bool, update_fields: frozenset[str] | None, **kwargs: Any
) -> None:
    """A role changed: the member's sockets check again (a new membership takes nothing away)."""
    if not created and (update_fields is None or "role" in update_fields):
        live_access.user_changed(instance.user_id)


@receiver(post_delete, sender=Membership)
def membership_deleted(sender: Any, instance: Membership, **kwargs: Any) -> None:
    """A member left, or their user or workspace was deleted: their sockets check again."""
    live_access.user_changed(instance.user_id)


@receiver(post_save, sender=User)
def user_saved(sender: Any, instance: User, created: bool, update_fields: frozenset[str] | None, **kwargs: Any) -> None:
    """Deactivation, or a new password (which signs the user's other sessions out): their sockets check again."""
    if not created and update_fields != frozenset({"last_login"}):  # every sign-in saves last_login
        live_access.user_changed(instance.pk)
