"""Invitations: an owner offers a role, the invitee accepts or declines, an owner may revoke. Each step is audited.

Whether an account exists is never told to the inviting owner: an invitation to a username
or address nobody has is stored and answered exactly like any other, and simply never shows
up for anyone (unless that account is made later).
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from accounts.audit import record
from accounts.models import Invitation, InvitationStatus, Membership, Role, Workspace

LIFETIME = timedelta(days=14)
SENT = "Invitation sent"


class InvitationError(Exception):
    """The invitation cannot be made; `field` names the input at fault and the message is shown."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def invite(workspace: Workspace, *, username: str = "", email: str = "", role: str, by: User) -> Invitation:
    """Invite one person by username or by e-mail address; the answer is the same whether they exist."""
    username, email = username.strip(), email.strip().lower()
    if bool(username) == bool(email):
        raise InvitationError("username", "Name one person: a username or an e-mail address")
    if role not in Role.values:
        raise InvitationError("role", f"Unknown role {role!r}; use one of {', '.join(Role.values)}")
    if len(username) > 150:
        raise InvitationError("username", "A username has at most 150 characters")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise InvitationError("email", "Enter a valid e-mail address") from None
    user = get_user_model()._default_manager.filter(username=username, is_active=True).first() if username else None
    # Owners see the member list, so saying this reveals nothing they could not read already.
    if user is not None and Membership.objects.filter(workspace=workspace, user=user).exists():
        raise InvitationError("username", f"{username} is already a member of {workspace}")
    with transaction.atomic():
        earlier = pending_in(workspace).filter(username=username, email=email)
        for old in earlier:
            revoke(old, by=by)
        invitation = Invitation.objects.create(
            workspace=workspace,
            username=username,
            email=email,
            user=user,
            role=role,
            invited_by=by,
            expires_at=timezone.now() + LIFETIME,
        )
        record(by, "invitation.created", workspace=workspace, target=invitation, invitee=username or email, role=role)
    return invitation


def pending_in(workspace: Workspace | int) -> QuerySet[Invitation]:
    """The workspace's invitations still waiting for an answer, for its owners."""
    return Invitation.objects.filter(
        workspace=workspace, status=InvitationStatus.PENDING, expires_at__gt=timezone.now()
    )


def _addressed_to(user: User) -> Q:
    # A username that named an account at invitation time is bound to that account's id, so a
    # later rename cannot pass the invitation on. Accounts are made and given their e-mail
    # address by an administrator (there is no self-service sign-up or address change), so an
    # account's address counts as verified.
    mine = Q(user_id=user.pk) | Q(user__isnull=True, username=user.get_username())
    if user.email:
        mine |= Q(user__isnull=True, username="", email__iexact=user.email)
    return mine


def pending_for(user: User) -> QuerySet[Invitation]:
    """Invitations the signed-in user may accept or decline."""
    if not user.is_active:
        return Invitation.objects.none()
    return (
        Invitation.objects.filter(_addressed_to(user), status=InvitationStatus.PENDING, expires_at__gt=timezone.now())
        .select_related("workspace", "invited_by")
        .order_by("-created_at", "-id")
    )


def find_for(user: User, invitation_id: int) -> Invitation:
    """One of the user's pending invitations; anyone else's (or a used or expired one) is missing: 404."""
    found = pending_for(user).filter(pk=invitation_id).first()
    if found is None:
        raise Http404("No such invitation, or it is no longer open")
    return found


def _answer(invitation: Invitation, status: str) -> bool:
    """Move a pending invitation to `status` with a conditional update: of two answers one wins."""
    now = timezone.now()
    changed = Invitation.objects.filter(pk=invitation.pk, status=InvitationStatus.PENDING, expires_at__gt=now).update(
        status=status, responded_at=now
    )
    if changed:
        invitation.status, invitation.responded_at = status, now
    return bool(changed)


@transaction.atomic
def accept(invitation: Invitation, user: User) -> Membership:
    """Join the workspace with the invitation's role (an existing membership keeps its role)."""
    if not _answer(invitation, InvitationStatus.ACCEPTED):
        raise Http404("No such invitation, or it is no longer open")
    Invitation.objects.filter(pk=invitation.pk).update(user=user)
    workspace = invitation.workspace
    record(user, "invitation.accepted", workspace=workspace, target=invitation, role=invitation.role)
    member, joined = Membership.objects.get_or_create(
        workspace=workspace, user=user, defaults={"role": invitation.role, "last_used_at": timezone.now()}
    )
    if joined:
        record(
            user,
            "member.joined",
            workspace=workspace,
            target=member,
            username=user.get_username(),
            role=member.role,
            invitation=invitation.pk,
        )
    return member


@transaction.atomic
def decline(invitation: Invitation, user: User) -> None:
    if not _answer(invitation, InvitationStatus.DECLINED):
        raise Http404("No such invitation, or it is no longer open")
    record(user, "invitation.declined", workspace=invitation.workspace, target=invitation)


@transaction.atomic
def revoke(invitation: Invitation, by: User) -> bool:
    revoked = _answer(invitation, InvitationStatus.REVOKED)
    if revoked:
        record(by, "invitation.revoked", workspace=invitation.workspace, target=invitation)
    return revoked
