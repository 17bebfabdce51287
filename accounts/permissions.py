"""The one permission check: which roles may do what, and lookups that enforce it.

Every view, API endpoint and websocket consumer goes through `require` or `get_for` (or `checked`,
get_for's check of an object and role read some other way).
An object in a workspace the user does not belong to is reported as missing (404), so
ids of other teams' objects cannot be probed; a member whose role is too weak gets 403.
"""

from enum import StrEnum
from typing import Any, TypeVar

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import F
from django.http import Http404

from accounts.models import Membership, Role, Workspace


class Action(StrEnum):
    VIEW = "view"
    EDIT = "edit"
    REVIEW = "review"
    MANAGE = "manage"


ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.OWNER: frozenset(Action),
    Role.EDITOR: frozenset({Action.VIEW, Action.EDIT}),
    Role.REVIEWER: frozenset({Action.VIEW, Action.REVIEW}),
    Role.VIEWER: frozenset({Action.VIEW}),
}

AnyUser = AbstractBaseUser | AnonymousUser
M = TypeVar("M", bound=models.Model)


def roles_allowed(action: Action) -> list[str]:
    return [role for role, actions in ROLE_ACTIONS.items() if action in actions]


def membership(user: AnyUser, workspace: Workspace | int) -> Membership | None:
    if not user.is_authenticated:
        return None
    workspace_id = workspace.pk if isinstance(workspace, Workspace) else workspace
    token_workspace = getattr(user, "token_workspace_id", None)
    if token_workspace is not None and token_workspace != workspace_id:
        return None  # an API token reaches only its own workspace
    return Membership.objects.select_related("workspace").filter(user_id=user.pk, workspace_id=workspace_id).first()


def can(user: AnyUser, workspace: Workspace | int, action: Action) -> bool:
    found = membership(user, workspace)
    return found is not None and action in ROLE_ACTIONS[found.role]


def require(user: AnyUser, workspace: Workspace | int, action: Action) -> Membership:
    """The caller's membership if its role allows `action`; Http404 for outsiders, PermissionDenied for weak roles."""
    found = membership(user, workspace)
    if found is None:
        raise Http404("No such workspace")
    if action not in ROLE_ACTIONS[found.role]:
        raise PermissionDenied(f"Your role ({found.get_role_display()}) may not {action} here")
    return found


def get_for(user: AnyUser, source: type[M] | models.QuerySet[M], action: Action, **lookup: Any) -> M:
    """Fetch one workspace-owned object and check `action` on its workspace, reading the caller's role in one query."""
    queryset = source._default_manager.all() if isinstance(source, type) else source
    found = (
        _members_only(user, queryset).filter(**lookup).annotate(caller_role=F("workspace__memberships__role")).first()
        if user.is_authenticated
        else None
    )
    return checked(found, None if found is None else found.caller_role, action, queryset.model)


def checked(found: M | None, role: str | None, action: Action, model: type[models.Model]) -> M:
    """`found`, read with the caller's `role` in its workspace: 404 if there is none, 403 if the role may not `action`.

    For lookups that read the object and the role some other way than get_for (the API
    trigger reads them with its token: builder/trigger_reads.py); the answers are get_for's.
    """
    if found is None or role is None:
        raise Http404(f"No such {model._meta.verbose_name}")
    if action not in ROLE_ACTIONS[role]:
        raise PermissionDenied(f"Your role ({Role(role).label}) may not {action} here")
    return found


def visible(user: AnyUser, source: type[M] | models.QuerySet[M], action: Action = Action.VIEW) -> models.QuerySet[M]:
    """Objects in every workspace where the user's role allows `action`."""
    queryset = source._default_manager.all() if isinstance(source, type) else source
    if not user.is_authenticated:
        return queryset.none()
    return _members_only(user, queryset, workspace__memberships__role__in=roles_allowed(action))


def _members_only(user: AnyUser, queryset: models.QuerySet[M], **membership: Any) -> models.QuerySet[M]:
    # One filter() call: conditions on a multi-valued relation in separate calls could be met
    # by different memberships (the user's, and someone else's role).
    scoped = queryset.filter(workspace__memberships__user_id=user.pk, **membership)
    token_workspace = getattr(user, "token_workspace_id", None)
    return scoped if token_workspace is None else scoped.filter(workspace_id=token_workspace)
