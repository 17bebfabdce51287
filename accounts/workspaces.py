"""What owners do to a workspace: create it, add and remove members, change roles. Each is audited."""

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.text import slugify

from accounts.audit import record
from accounts.models import Membership, Role, Workspace
from accounts.signals import workspace_created


class MembershipError(Exception):
    """A change that would leave the workspace in a bad state; the message is shown to the user."""


def unique_slug(name: str) -> str:
    base = slugify(name)[:80] or "workspace"
    slug, n = base, 1
    while Workspace.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def create_workspace(name: str, owner: User) -> Workspace:
    workspace = Workspace.objects.create(name=name, slug=unique_slug(name))
    Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
    record(owner, "workspace.created", workspace=workspace, target=workspace)
    workspace_created.send(sender=Workspace, workspace=workspace)
    return workspace


@transaction.atomic
def add_member(workspace: Workspace, user: User, role: str, by: User) -> Membership:
    if Membership.objects.filter(workspace=workspace, user_id=user.pk).exists():
        raise MembershipError(f"{user.get_username()} is already a member of {workspace}")
    member = Membership.objects.create(workspace=workspace, user=user, role=role)
    record(by, "member.added", workspace=workspace, target=member, username=user.get_username(), role=role)
    return member


def _lock_owners(workspace_id: int) -> int:
    """Count owners with the workspace row locked, so two owners demoting each other cannot both succeed."""
    Workspace.objects.select_for_update().filter(pk=workspace_id).first()
    return Membership.objects.filter(workspace_id=workspace_id, role=Role.OWNER).count()


@transaction.atomic
def change_role(member: Membership, role: str, by: User) -> Membership:
    if role not in Role.values:
        raise MembershipError(f"Unknown role {role!r}")
    old = member.role
    if old == Role.OWNER and role != Role.OWNER and _lock_owners(member.workspace_id) <= 1:
        raise MembershipError("A workspace needs at least one owner: make someone else owner first")
    Membership.objects.filter(pk=member.pk).update(role=role)
    member.role = role
    record(by, "member.role_changed", workspace=member.workspace, target=member, old=old, new=role)
    return member


@transaction.atomic
def remove_member(member: Membership, by: User) -> None:
    if member.role == Role.OWNER and _lock_owners(member.workspace_id) <= 1:
        raise MembershipError("The last owner cannot be removed")
    record(by, "member.removed", workspace=member.workspace, target=member, username=member.user.get_username())
    member.delete()
