"""Inbound webhooks: a secret URL per workflow that starts runs from any system's POST."""

import secrets
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from accounts import ratelimit
from accounts.api_auth import public, token_scope
from accounts.audit import record
from accounts.models import Scope
from accounts.permissions import Action, get_for
from builder import versions
from builder.models import WebhookTrigger, Workflow
from engine import dispatch, expressions, json_input
from engine.graph import strings
from engine.models import TriggerKind
from engine.runs import Options
from engine.webhooks import verify
from monitoring.api import RunOut, run_out

router = Router(tags=["webhooks"])


class HookIn(Schema):
    signed: bool = Field(True, description="require an HMAC-SHA256 signature (recommended)")
    input_mapping: dict[str, Any] = Field(
        default_factory=dict,
        description='templates over the body, e.g. {"subject": "{{ input.title }}"}; empty = the body',
    )


class HookOut(Schema):
    url: str
    enabled: bool
    signed: bool
    input_mapping: dict[str, Any]
    signing_secret: str | None = Field(None, description="shown only when the hook is created or rotated")


def _url(request: HttpRequest, hook: WebhookTrigger) -> str:
    return request.build_absolute_uri(f"/api/v1/hooks/{hook.token}")


def _out(request: HttpRequest, hook: WebhookTrigger, secret: str | None = None) -> HookOut:
    return HookOut(
        url=_url(request, hook), enabled=hook.enabled, signed=bool(hook.signing_secret),
        input_mapping=hook.input_mapping, signing_secret=secret,
    )  # fmt: skip


@router.post(
    "/workflows/{workflow_id}/webhook", response={201: HookOut}, summary="Create or rotate the inbound webhook"
)
@token_scope(Scope.WORKFLOWS_WRITE)
def create_hook(request: HttpRequest, workflow_id: int, body: HookIn) -> Status[HookOut]:
    workflow = get_for(request.user, Workflow, Action.EDIT, pk=workflow_id)
    for path, text in strings(body.input_mapping, "input_mapping"):
        if problems := expressions.problems(text):
            raise HttpError(422, f"{path}: {problems[0]}")
    secret = "whsec_" + secrets.token_urlsafe(32) if body.signed else ""
    hook, _ = WebhookTrigger.objects.update_or_create(
        workflow=workflow,
        defaults={
            "token": secrets.token_urlsafe(24),
            "signing_secret": secret,
            "enabled": True,
            "input_mapping": body.input_mapping,
        },
    )
    record(
        cast(User, request.user), "webhook.created", workspace=workflow.workspace, target=workflow, signed=body.signed
    )
    return Status(201, _out(request, hook, secret or None))


@router.get("/workflows/{workflow_id}/webhook", response=HookOut, summary="The inbound webhook's URL")
@token_scope(Scope.WORKFLOWS_READ)
def get_hook(request: HttpRequest, workflow_id: int) -> HookOut:
    workflow = get_for(request.user, Workflow, Action.EDIT, pk=workflow_id)
    hook = WebhookTrigger.objects.filter(workflow=workflow).first()
    if hook is None:
        raise HttpError(404, f"{workflow.name!r} has no inbound webhook")
    return _out(request, hook)


@router.delete("/workflows/{workflow_id}/webhook", response={204: None}, summary="Remove the inbound webhook")
@token_scope(Scope.WORKFLOWS_WRITE)
def delete_hook(request: HttpRequest, workflow_id: int) -> Status[None]:
    workflow = get_for(request.user, Workflow, Action.EDIT, pk=workflow_id)
    WebhookTrigger.objects.filter(workflow=workflow).delete()
    record(cast(User, request.user), "webhook.deleted", workspace=workflow.workspace, target=workflow)
    return Status(204, None)


@router.post("/hooks/{token}", auth=None, response={202: RunOut}, summary="Start a run from a webhook")
@public
def receive(request: HttpRequest, token: str) -> Status[RunOut]:
    """Body: a JSON object. Signed hooks need `X-Switchyard-Signature: t=<unix time>,v1=<hex>`, the
    HMAC-SHA256 of "<t>.<body>" with the hook's secret, made within the last 5 minutes.

    The run's node message leaves once the answer is out, as the API trigger's does (builder.api.send_held)."""
    dispatch.hold()
    hook = WebhookTrigger.objects.select_related("workflow").filter(token=token, enabled=True).first()
    if hook is None or hook.workflow.archived_at is not None:
        raise HttpError(404, "No such webhook")
    if hook.signing_secret and not verify(
        hook.signing_secret, request.headers.get("X-Switchyard-Signature", ""), request.body
    ):
        raise HttpError(401, "X-Switchyard-Signature: missing, wrong or older than 5 minutes")
    try:
        body = json_input.parse_object(request.body or b"{}")
    except json_input.JsonRefused as refused:
        raise HttpError(422, f"body: {refused}") from None
    ratelimit.hit(f"hook:{hook.pk}:{hook.token[:8]}", settings.API_TOKEN_TRIGGERS_PER_MINUTE, "through this webhook")
    try:
        payload = expressions.render(hook.input_mapping, {"input": body, "nodes": {}}) if hook.input_mapping else body
    except expressions.ExpressionError as error:
        raise HttpError(422, f"input_mapping: {error}") from None
    options = Options(
        trigger_kind=TriggerKind.WEBHOOK, idempotency_key=request.headers.get("Idempotency-Key", "")[:200]
    )
    try:
        run = versions.run_latest(hook.workflow, payload, options)
    except versions.NothingPublished as error:
        raise HttpError(409, str(error)) from None
    return Status(202, run_out(run))
