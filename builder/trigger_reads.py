"""What the API trigger reads in its token's query: the workflow, the caller's role there, the latest version.

A trigger otherwise makes three reads before its start (the token, the workflow with the
role, the version), each a round trip and an ORM compile (docs/benchmarks.md, "API trigger
throughput"). The token authentication of this one operation annotates its query with the
rest (`with_workflow`); the view then checks them as `get_for` would (`workflow`).
"""

from typing import Any

from django.db import connection
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest

from accounts.models import ApiToken, Membership
from accounts.permissions import Action, checked
from builder.models import Workflow, WorkflowVersion

# The workflow's columns a start reads (versions.run_version); the others stay deferred.
WORKFLOW_FIELDS = ("name", "completion_url")


def with_workflow(request: HttpRequest, tokens: QuerySet[ApiToken]) -> QuerySet[ApiToken]:
    """`tokens` annotated with the path's workflow (if live and in the token's workspace), its latest version
    and the token user's role there."""
    # The path's parameter as the URL captured it (a string): ninja validates it only after authentication.
    # Anything but a plain id that fits a bigint is left to the view's own lookup (get_for) and its answers.
    match = request.resolver_match
    captured = str(match.kwargs.get("workflow_id", "")) if match else ""
    if not (captured.isascii() and captured.isdigit() and len(captured) <= 18):
        return tokens
    workflow_id = int(captured)
    workflows = Workflow.objects.filter(pk=workflow_id, workspace_id=OuterRef("workspace_id"), archived_at__isnull=True)
    role = Membership.objects.filter(workspace_id=OuterRef("workspace_id"), user_id=OuterRef("user_id"))
    latest = WorkflowVersion.objects.filter(workflow_id=workflow_id).order_by("-number")
    return tokens.annotate(
        trigger_workflow_id=Subquery(workflows.values("pk")[:1]),
        **{f"trigger_{name}": Subquery(workflows.values(name)[:1]) for name in WORKFLOW_FIELDS},
        trigger_role=Subquery(role.values("role")[:1]),
        trigger_latest_id=Subquery(latest.values("pk")[:1]),
        trigger_latest_number=Subquery(latest.values("number")[:1]),
        trigger_latest_graph=Subquery(latest.values("graph")[:1]),
    )


def workflow(request: HttpRequest, workflow_id: int) -> Workflow | None:
    """The workflow `with_workflow` read, checked for EDIT (404, 403 as get_for), with with_latest's annotations;
    None when the request did not come with a token read that way (a session): the caller uses get_for."""
    token: Any = getattr(request, "auth", None)
    if not isinstance(token, ApiToken) or not hasattr(token, "trigger_role"):
        return None
    found = None
    if getattr(token, "trigger_workflow_id", None) == workflow_id:
        values = [workflow_id, token.workspace_id, *(getattr(token, f"trigger_{name}") for name in WORKFLOW_FIELDS)]
        found = Workflow.from_db(connection.alias, ["id", "workspace_id", *WORKFLOW_FIELDS], values)
        found.latest_id = token.trigger_latest_id  # type: ignore[attr-defined]
        found.latest_number = token.trigger_latest_number  # type: ignore[attr-defined]
        found.latest_graph = token.trigger_latest_graph  # type: ignore[attr-defined]
    return checked(found, token.trigger_role, Action.EDIT, Workflow)
