"""Writing to the audit log: the one function every feature calls."""

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import models

from accounts.models import AuditEntry, Workspace


def record(
    actor: User | AnonymousUser | None,
    action: str,
    *,
    workspace: Workspace | None = None,
    target: models.Model | None = None,
    **details: Any,
) -> AuditEntry:
    """Append one entry. `action` is a dotted verb such as "member.added"; details must be JSON."""
    user = actor if isinstance(actor, User) else None
    entry = AuditEntry(
        workspace=workspace,
        actor=user,
        actor_label=user.get_username() if user is not None else "",
        action=action,
        details=details,
    )
    if target is not None:
        entry.target_type = target._meta.label_lower
        entry.target_id = str(target.pk)
        entry.target_label = str(target)[:200]
    entry.save()
    return entry
