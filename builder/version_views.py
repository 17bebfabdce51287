"""The Versions tab of a workflow: publish, history, read-only view, restore, diff, the MCP tool setting."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.permissions import Action, can, get_for
from accounts.views import signed_in
from builder import child_publishing, mcp_tools, versions, workflows
from builder.models import Workflow, WorkflowVersion
from builder.workflow_forms import DRAFT, CompareForm, PublishForm, graph_of, side_label
from engine.models import Run


def _history(workflow: Workflow) -> list[WorkflowVersion]:
    pinned = (
        Run.objects.filter(version_id=OuterRef("pk"))
        .order_by()
        .values("version_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return list(
        workflow.versions.select_related("created_by").annotate(runs=Coalesce(Subquery(pinned), 0)).order_by("-number")
    )


def _page(
    request: HttpRequest,
    workflow: Workflow,
    form: PublishForm,
    status: int = 200,
    refused: list[child_publishing.ChildProblem] | None = None,
) -> HttpResponse:
    history = _history(workflow)
    children = child_publishing.changed_children(workflow)
    # Ticked by default; a refused publish shows the boxes as they were sent.
    sent = form["children"].value() if form.is_bound else [child.pk for child in children]
    ticked = {str(pk) for pk in sent or ()}
    context = {
        "workflow": workflow,
        "history": history,
        "problems": child_publishing.problems_with_children(workflow, children),
        "changed_children": [(child, str(child.pk) in ticked, child.latest_version()) for child in children],
        "refused": refused or [],
        "form": form,
        "can_edit": can(request.user, workflow.workspace_id, Action.EDIT),
        "compare_before": str(history[0].number) if history else DRAFT,
        "mcp_tool_name": mcp_tools.tool_name(workflow),
    }
    return render(request, "builder/workflow_versions.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def workflow_versions(request: HttpRequest, workflow_id: int) -> HttpResponse:
    if request.method == "GET":
        return _page(request, get_for(request.user, Workflow, Action.VIEW, pk=workflow_id), PublishForm())
    workflow = get_for(request.user, Workflow, Action.EDIT, pk=workflow_id)
    form = PublishForm(request.POST, children=child_publishing.changed_children(workflow))
    if not form.is_valid():
        return _page(request, workflow, form, status=422)
    try:
        made = child_publishing.publish_with_children(
            workflow, form.cleaned_data["note"], signed_in(request), form.cleaned_data["children"]
        )
    except child_publishing.NotAChangedChild as wrong:
        form.add_error("children", str(wrong))
        return _page(request, workflow, form, status=422)
    except child_publishing.PublishRefused as refused:
        # The page lists every problem with its workflow and path; nothing was published.
        return _page(request, workflow, form, status=422, refused=refused.problems)
    also = [f"{v.workflow.name} v{v.number}" for v in made[:-1]]
    messages.success(request, f"Published v{made[-1].number}" + (f" with {', '.join(also)}." if also else "."))
    return redirect("builder:workflow-versions", workflow.pk)


def _version(request: HttpRequest, workflow_id: int, number: int, action: Action) -> WorkflowVersion:
    workflow = get_for(request.user, Workflow, action, pk=workflow_id)
    return get_object_or_404(
        WorkflowVersion.objects.select_related("workflow", "created_by"), workflow=workflow, number=number
    )


@login_required
@require_GET
def version_detail(request: HttpRequest, workflow_id: int, number: int) -> HttpResponse:
    version = _version(request, workflow_id, number, Action.VIEW)
    context = {
        "workflow": version.workflow,
        "version": version,
        "runs": Run.objects.filter(version_id=version.pk).count(),
        "can_edit": can(request.user, version.workflow.workspace_id, Action.EDIT),
    }
    return render(request, "builder/version_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def version_restore(request: HttpRequest, workflow_id: int, number: int) -> HttpResponse:
    """GET asks for confirmation; POST replaces the draft with the version."""
    version = _version(request, workflow_id, number, Action.EDIT)
    if request.method == "GET":
        return render(request, "builder/version_restore.html", {"workflow": version.workflow, "version": version})
    versions.restore_version(version.workflow, version, by=signed_in(request))
    messages.success(request, f"Restored v{version.number} as the draft; publish it to make it the latest version.")
    return redirect("builder:workflow-versions", workflow_id)


@login_required
@require_GET
def version_diff(request: HttpRequest, workflow_id: int) -> HttpResponse:
    """The page embeds both graphs; the diff itself is computed in the browser (frontend/src/lib/diff.ts)."""
    workflow = get_for(request.user, Workflow, Action.VIEW, pk=workflow_id)
    history = _history(workflow)
    form = CompareForm(request.GET, numbers=[v.number for v in history])
    context: dict[str, object] = {"workflow": workflow, "history": history, "form": form}
    if not form.is_valid():
        return render(request, "builder/version_diff.html", context, status=422)
    before, after = form.cleaned_data["before"], form.cleaned_data["after"]
    context |= {
        "before": before,
        "after": after,
        "before_label": side_label(before),
        "after_label": side_label(after),
        "before_graph": graph_of(history, workflow.draft, before),
        "after_graph": graph_of(history, workflow.draft, after),
    }
    return render(request, "builder/version_diff.html", context)


@login_required
@require_POST
def workflow_mcp_tool(request: HttpRequest, workflow_id: int) -> HttpResponse:
    """Offer the workflow (its latest published version) as a tool at the MCP endpoint, or stop offering it."""
    workflow = get_for(request.user, Workflow, Action.EDIT, pk=workflow_id)
    offered = request.POST.get("mcp_tool") == "1"
    workflows.offer_as_mcp_tool(workflow, offered, signed_in(request))
    name = mcp_tools.tool_name(workflow)
    messages.success(request, f"Offered as the MCP tool {name}." if offered else "No longer offered as an MCP tool.")
    return redirect("builder:workflow-versions", workflow.pk)
