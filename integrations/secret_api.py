"""Workspace secrets over the API: signed-in owners (never API tokens) add, rotate and delete; values are write-only."""

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from accounts.api_auth import session_only
from accounts.audit import record
from accounts.permissions import Action, get_for, require
from engine import workspace_secrets
from engine.models import WorkspaceSecret

router = Router(tags=["secrets"])


class SecretOut(Schema):
    id: int
    name: str = Field(description="refer to it in a node as {{ secrets.NAME }}")
    created_at: datetime
    updated_at: datetime = Field(description="when the value was last set")
    created_by: str | None
    updated_by: str | None


class SecretValueIn(Schema):
    value: str = Field(description="write-only: never returned")


class SecretIn(SecretValueIn):
    name: str = Field(description="capital letters, digits and _, starting with a letter; at most 64")
    workspace_id: int | None = None


def _workspace_id(request: HttpRequest, chosen: int | None) -> int:
    workspace = chosen or getattr(request, "workspace", None)
    workspace_id = getattr(workspace, "pk", workspace)
    if not workspace_id:
        raise HttpError(422, "workspace_id: say which workspace")
    return int(workspace_id)


def _out(secret: WorkspaceSecret) -> SecretOut:
    return SecretOut(
        id=secret.pk,
        name=secret.name,
        created_at=secret.created_at,
        updated_at=secret.updated_at,
        created_by=secret.created_by.username if secret.created_by else None,
        updated_by=secret.updated_by.username if secret.updated_by else None,
    )


@router.get("/secrets", response=list[SecretOut], summary="The workspace's secrets: names and dates, never values")
@session_only
def list_secrets(request: HttpRequest, workspace_id: int | None = None) -> list[SecretOut]:
    chosen = _workspace_id(request, workspace_id)
    require(request.user, chosen, Action.MANAGE)
    found = WorkspaceSecret.objects.filter(workspace_id=chosen).select_related("created_by", "updated_by")
    return [_out(secret) for secret in found]


@router.post("/secrets", response={201: SecretOut}, summary="Add a secret; its value is never shown again")
@session_only
def create_secret(request: HttpRequest, body: SecretIn) -> Status[SecretOut]:
    membership = require(request.user, _workspace_id(request, body.workspace_id), Action.MANAGE)
    try:
        secret = workspace_secrets.create(membership.workspace_id, body.name, body.value, request.user)  # type: ignore[arg-type]
    except workspace_secrets.SecretInvalid as error:
        raise HttpError(422, f"body.{error.field}: {error.message}") from None
    record(request.user, "secret.created", workspace=membership.workspace, target=secret, name=secret.name)
    return Status(201, _out(secret))


@router.put("/secrets/{secret_id}", response=SecretOut, summary="Rotate a secret: replace its value")
@session_only
def rotate_secret(request: HttpRequest, secret_id: int, body: SecretValueIn) -> SecretOut:
    secret = get_for(request.user, WorkspaceSecret, Action.MANAGE, pk=secret_id)
    try:
        workspace_secrets.rotate(secret, body.value, request.user)  # type: ignore[arg-type]
    except workspace_secrets.SecretInvalid as error:
        raise HttpError(422, f"body.{error.field}: {error.message}") from None
    record(request.user, "secret.rotated", workspace=secret.workspace, target=secret, name=secret.name)
    return _out(secret)


@router.delete("/secrets/{secret_id}", response={204: None}, summary="Delete a secret; nodes using it then fail")
@session_only
def delete_secret(request: HttpRequest, secret_id: int) -> Status[None]:
    secret = get_for(request.user, WorkspaceSecret, Action.MANAGE, pk=secret_id)
    record(request.user, "secret.deleted", workspace=secret.workspace, target=secret, name=secret.name)
    secret.delete()
    return Status(204, None)
