"""API for the signed-in user's workspaces and their members."""

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema

from accounts.api_auth import token_scope
from accounts.invitation_api import router as invitation_router
from accounts.models import Membership, Scope
from accounts.permissions import Action, require, visible

router = Router(tags=["workspaces"])
router.add_router("/", invitation_router)


class WorkspaceOut(Schema):
    id: int
    name: str
    slug: str
    role: str


class MemberOut(Schema):
    id: int
    username: str
    role: str
    joined_at: datetime


@router.get("/workspaces", response=list[WorkspaceOut], summary="Workspaces I belong to, with my role")
@token_scope(Scope.WORKSPACE_READ)
def list_workspaces(request: HttpRequest) -> list[WorkspaceOut]:
    mine = Membership.objects.filter(user=request.user.pk or 0).select_related("workspace")
    memberships = visible(request.user, mine)
    return [
        WorkspaceOut(id=m.workspace_id, name=m.workspace.name, slug=m.workspace.slug, role=m.role)
        for m in memberships.order_by("workspace__name")
    ]


@router.get("/workspaces/{workspace_id}/members", response=list[MemberOut], summary="Members of a workspace")
@token_scope(Scope.WORKSPACE_READ)
def list_members(request: HttpRequest, workspace_id: int) -> list[MemberOut]:
    require(request.user, workspace_id, Action.VIEW)
    members = Membership.objects.filter(workspace_id=workspace_id).select_related("user").order_by("user__username")
    return [MemberOut(id=m.pk, username=m.user.get_username(), role=m.role, joined_at=m.created_at) for m in members]
