"""What owners do to a workspace: create it, change roles, remove members; and where a user lands. Audited.

Members join only by accepting an invitation (accounts.invitations).
"""

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils import timezone
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
    Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER, last_used_at=timezone.now())
    record(owner, "workspace.created", workspace=workspace, target=workspace)
    workspace_created.send(sender=Workspace, workspace=workspace)
    return workspace


def mark_used(member: Membership) -> None:
    """Remember that the user works in this workspace now: their next sign-in lands here."""
    Membership.objects.filter(pk=member.pk).update(last_used_at=timezone.now())


def landing(user_id: int) -> Membership | None:
    """Where a fresh session starts: the workspace used last, else the one created or joined first.

    Never by name: a workspace someone else named "!Acme" must not become anyone's landing place.
    """
    memberships = Membership.objects.select_related("workspace").filter(user_id=user_id)
    return memberships.order_by(F("last_used_at").desc(nulls_last=True), "created_at", "pk").first()


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
    member.role = role
    member.save(update_fields=["role"])  # save(), not update(): post_save prompts the member's open sockets
    record(by, "member.role_changed", workspace=member.workspace, target=member, old=old, new=role)
    return member


@transaction.atomic
def remove_member(member: Membership, by: User) -> None:
    if member.role == Role.OWNER and _lock_owners(member.workspace_id) <= 1:
        raise MembershipError("The last owner cannot be removed")
    record(by, "member.removed", workspace=member.workspace, target=member, username=member.user.get_username())
    member.delete()
