"""Invitations over the API: owners invite and revoke, the signed-in user lists, accepts and declines their own.

Browser sessions only (cookie and CSRF header): an API token acts inside one workspace and
must not be able to bring people into it, nor join others on its user's behalf.
"""

from datetime import datetime
from typing import cast

from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from accounts import invitations, workspaces
from accounts.api_auth import session_only
from accounts.models import Invitation, Role
from accounts.permissions import Action, get_for, require

router = Router(tags=["invitations"])


class InviteIn(Schema):
    username: str = ""
    email: str = ""
    role: Role = Role.VIEWER


class InvitationOut(Schema):
    id: int
    invitee: str
    role: str
    status: str
    invited_by: str
    created_at: datetime
    expires_at: datetime


class InvitationSent(InvitationOut):
    message: str


class MyInvitationOut(Schema):
    id: int
    workspace_id: int
    workspace_name: str
    role: str
    invited_by: str
    expires_at: datetime


class JoinedOut(Schema):
    workspace_id: int
    name: str
    slug: str
    role: str


def _out(invitation: Invitation) -> InvitationOut:
    return InvitationOut(
        id=invitation.pk,
        invitee=invitation.invitee,
        role=invitation.role,
        status=invitation.status,
        invited_by=invitation.invited_by.get_username() if invitation.invited_by else "",
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
    )


@router.get("/workspaces/{workspace_id}/invitations", response=list[InvitationOut], summary="Open invitations (owners)")
@session_only
def list_invitations(request: HttpRequest, workspace_id: int) -> list[InvitationOut]:
    require(request.user, workspace_id, Action.MANAGE)
    return [_out(i) for i in invitations.pending_in(workspace_id).select_related("invited_by")]


@router.post(
    "/workspaces/{workspace_id}/invitations",
    response={201: InvitationSent},
    summary="Invite someone by username or e-mail (owners)",
)
@session_only
def create_invitation(request: HttpRequest, workspace_id: int, body: InviteIn) -> Status[InvitationSent]:
    """The answer is the same whether or not an account has that username or address."""
    member = require(request.user, workspace_id, Action.MANAGE)
    try:
        invitation = invitations.invite(
            member.workspace, username=body.username, email=body.email, role=body.role, by=cast(User, request.user)
        )
    except invitations.InvitationError as error:
        raise HttpError(422, f"body.{error.field}: {error}") from None
    return Status(201, InvitationSent(**_out(invitation).model_dump(), message=invitations.SENT))


@router.delete(
    "/workspaces/{workspace_id}/invitations/{invitation_id}", response={204: None}, summary="Revoke an invitation"
)
@session_only
def revoke_invitation(request: HttpRequest, workspace_id: int, invitation_id: int) -> Status[None]:
    found = get_for(request.user, Invitation, Action.MANAGE, pk=invitation_id, workspace_id=workspace_id)
    invitations.revoke(found, by=cast(User, request.user))
    return Status(204, None)


@router.get("/invitations", response=list[MyInvitationOut], summary="Invitations waiting for me")
@session_only
def my_invitations(request: HttpRequest) -> list[MyInvitationOut]:
    return [
        MyInvitationOut(
            id=i.pk,
            workspace_id=i.workspace_id,
            workspace_name=i.workspace.name,
            role=i.role,
            invited_by=i.invited_by.get_username() if i.invited_by else "",
            expires_at=i.expires_at,
        )
        for i in invitations.pending_for(cast(User, request.user))
    ]


@router.post("/invitations/{invitation_id}/accept", response=JoinedOut, summary="Accept: join the workspace")
@session_only
def accept_invitation(request: HttpRequest, invitation_id: int) -> JoinedOut:
    user = cast(User, request.user)
    member = invitations.accept(invitations.find_for(user, invitation_id), user)
    workspaces.mark_used(member)
    return JoinedOut(
        workspace_id=member.workspace_id, name=member.workspace.name, slug=member.workspace.slug, role=member.role
    )


@router.post("/invitations/{invitation_id}/decline", response={204: None}, summary="Decline an invitation")
@session_only
def decline_invitation(request: HttpRequest, invitation_id: int) -> Status[None]:
    user = cast(User, request.user)
    invitations.decline(invitations.find_for(user, invitation_id), user)
    return Status(204, None)
