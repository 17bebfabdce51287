"""Workflow pages of the current workspace."""

from django.contrib.auth.decorators import login_required
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve

from accounts.permissions import Action, can, get_for, require
from accounts.views import current_membership
from builder.models import Workflow, WorkflowVersion
from engine import graph as graphs
from engine import registry
from engine.models import Run
from engine.views import run_list_page


@login_required
def workflow_list(request: HttpRequest) -> HttpResponse:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.VIEW)
    latest = WorkflowVersion.objects.filter(workflow=OuterRef("pk")).order_by("-number")
    last_run = Run.objects.filter(workflow_id=OuterRef("pk")).order_by("-created_at")
    workflows = Workflow.objects.filter(workspace_id=me.workspace_id, archived_at__isnull=True).annotate(
        version=Subquery(latest.values("number")[:1]),
        last_status=Subquery(last_run.values("status")[:1]),
        last_run_at=Subquery(last_run.values("created_at")[:1]),
    )
    return render(request, "builder/workflow_list.html", {"workflows": workflows})


@login_required
def workflow_runs(request: HttpRequest, workflow_id: int) -> HttpResponse:
    return run_list_page(request, get_for(request.user, Workflow, Action.VIEW, pk=workflow_id))


# Added by the AI nodes (another branch); until then provider and model fields are free text.
PROVIDERS_PATH = "/api/v1/providers"


def _existing(path: str) -> str:
    try:
        resolve(path)
    except Resolver404:
        return ""
    return path


@login_required
def workflow_designer(request: HttpRequest, workflow_id: int) -> HttpResponse:
    """The canvas island; it gets the draft, its revision and the node types inline so it draws at once."""
    workflow = get_for(request.user, Workflow, Action.VIEW, pk=workflow_id)
    boot = {
        "workflow": {"id": workflow.pk, "name": workflow.name, "revision": workflow.draft_revision},
        "graph": workflow.draft,
        "node_types": [kind.describe() for kind in registry.kinds()],
        "sample_input": workflow.sample_input,
        "problems": [problem.as_dict() for problem in graphs.validate(workflow.draft)],
        "providers_url": _existing(PROVIDERS_PATH),
    }
    context = {"workflow": workflow, "boot": boot, "can_edit": can(request.user, workflow.workspace_id, Action.EDIT)}
    return render(request, "builder/designer.html", context)
