"""Model providers over the API: the pickers' list, provider configurations with a write-only API key, and the
workspace's embedding model."""

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from accounts.api_auth import session_only, token_scope
from accounts.audit import record
from accounts.models import Scope
from accounts.permissions import Action, get_for, require
from engine import provider_configs, providers, workspace_embeddings
from engine.models import ProviderConfig, ProviderKind
from engine.partial_update import PartialUpdate

router = Router(tags=["providers"])


class ProviderOut(Schema):
    name: str
    kind: str
    label: str
    models: list[str]
    embedding_models: list[str]


class ProviderConfigOut(Schema):
    id: int
    name: str
    kind: str
    base_url: str
    chat_models: list[str]
    embedding_models: list[str]
    headers: dict[str, str]
    timeout_s: int
    has_api_key: bool = Field(description="the key itself is never returned")
    updated_at: datetime


class ProviderConfigPatch(PartialUpdate):
    nullable = frozenset({"api_key", "workspace_id"})
    name: str | None = Field(None, pattern=r"^[-a-zA-Z0-9_]{1,100}$")
    kind: ProviderKind | None = None
    base_url: str | None = Field(None, max_length=500)
    chat_models: list[str] | None = None
    embedding_models: list[str] | None = None
    headers: dict[str, str] | None = None
    timeout_s: int | None = Field(None, ge=1, le=600)
    api_key: str | None = Field(None, max_length=4000, description='write-only: omit to keep, "" to remove')


class ProviderConfigIn(ProviderConfigPatch):
    name: str = Field(pattern=r"^[-a-zA-Z0-9_]{1,100}$")
    base_url: str = Field(max_length=500)
    workspace_id: int | None = None


def _workspace_id(request: HttpRequest, chosen: int | None) -> int:
    workspace = chosen or getattr(request.user, "token_workspace_id", None) or getattr(request, "workspace", None)
    workspace_id = getattr(workspace, "pk", workspace)
    if not workspace_id:
        raise HttpError(422, "workspace_id: say which workspace")
    return int(workspace_id)


def _out(config: ProviderConfig) -> ProviderConfigOut:
    return ProviderConfigOut.from_orm(config)


def _save(workspace_id: int, body: ProviderConfigPatch, config: ProviderConfig | None) -> ProviderConfig:
    values: dict[str, Any] = body.model_dump(exclude_unset=True, exclude={"api_key", "workspace_id"})
    try:
        return provider_configs.save(workspace_id, values, body.api_key, config)
    except provider_configs.ConfigInvalid as error:
        raise HttpError(422, f"body.{error.field}: {error.message}") from None


@router.get("/providers", response=list[ProviderOut], summary="Providers and models a node may use; built-in first")
@token_scope(Scope.WORKFLOWS_READ)
def list_providers(request: HttpRequest, workspace_id: int | None = None) -> list[dict[str, Any]]:
    chosen = _workspace_id(request, workspace_id)
    require(request.user, chosen, Action.VIEW)
    return providers.catalog(chosen)


@router.get("/provider-configs", response=list[ProviderConfigOut], summary="Provider configurations, without keys")
@session_only
def list_configs(request: HttpRequest, workspace_id: int | None = None) -> list[ProviderConfigOut]:
    chosen = _workspace_id(request, workspace_id)
    require(request.user, chosen, Action.MANAGE)
    return [_out(config) for config in ProviderConfig.objects.filter(workspace_id=chosen)]


@router.post("/provider-configs", response={201: ProviderConfigOut}, summary="Add a provider; the key is write-only")
@session_only
def create_config(request: HttpRequest, body: ProviderConfigIn) -> Status[ProviderConfigOut]:
    membership = require(request.user, _workspace_id(request, body.workspace_id), Action.MANAGE)
    config = _save(membership.workspace_id, body, None)
    record(request.user, "provider.created", workspace=membership.workspace, target=config, name=config.name)
    return Status(201, _out(config))


@router.patch("/provider-configs/{config_id}", response=ProviderConfigOut, summary="Change a provider")
@session_only
def update_config(request: HttpRequest, config_id: int, body: ProviderConfigPatch) -> ProviderConfigOut:
    config = get_for(request.user, ProviderConfig, Action.MANAGE, pk=config_id)
    config = _save(config.workspace_id, body, config)
    changed = sorted(body.model_dump(exclude_unset=True))
    record(request.user, "provider.changed", workspace=config.workspace, target=config, fields=changed)
    return _out(config)


@router.delete("/provider-configs/{config_id}", response={204: None}, summary="Remove a provider and its key")
@session_only
def delete_config(request: HttpRequest, config_id: int) -> Status[None]:
    config = get_for(request.user, ProviderConfig, Action.MANAGE, pk=config_id)
    record(request.user, "provider.deleted", workspace=config.workspace, target=config, name=config.name)
    config.delete()
    return Status(204, None)


class EmbeddingModelOut(Schema):
    provider: str
    model: str
    builtin: bool = Field(description="the built-in hashing embeddings, the default")


class EmbeddingModelIn(Schema):
    provider: str = Field(max_length=100)
    model: str = Field(max_length=200)
    workspace_id: int | None = None


def _embedding_out(chosen: workspace_embeddings.EmbeddingModel) -> EmbeddingModelOut:
    return EmbeddingModelOut(
        provider=chosen.provider, model=chosen.model, builtin=chosen == workspace_embeddings.DEFAULT
    )


@router.get(
    "/embedding-model",
    response=EmbeddingModelOut,
    summary="The workspace's embedding model: semantic similarity's when its scorer names none",
)
@token_scope(Scope.WORKFLOWS_READ)
def get_embedding_model(request: HttpRequest, workspace_id: int | None = None) -> EmbeddingModelOut:
    chosen = _workspace_id(request, workspace_id)
    require(request.user, chosen, Action.VIEW)
    return _embedding_out(workspace_embeddings.of_workspace(chosen))


@router.put("/embedding-model", response=EmbeddingModelOut, summary="Choose the workspace's embedding model (owners)")
@session_only
def set_embedding_model(request: HttpRequest, body: EmbeddingModelIn) -> EmbeddingModelOut:
    membership = require(request.user, _workspace_id(request, body.workspace_id), Action.MANAGE)
    workspace = membership.workspace
    before = workspace_embeddings.of_workspace(workspace.pk)
    try:
        chosen = workspace_embeddings.choose(workspace, body.provider, body.model)
    except workspace_embeddings.EmbeddingModelInvalid as error:
        raise HttpError(422, f"body.{error.field}: {error.message}") from None
    record(
        request.user,
        "workspace.embedding_model_changed",
        workspace=workspace,
        target=workspace,
        old=before.choice,
        new=chosen.choice,
    )
    return _embedding_out(chosen)
