"""The Versions tab of a workflow: publish, history, read-only view, restore, diff, the MCP tool setting."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.permissions import Action, can, get_for
from accounts.views import signed_in
from builder import child_publishing, gates, mcp_tools, versions, workflows
from builder.models import PublishGate, Workflow, WorkflowVersion
from builder.workflow_forms import DRAFT, CompareForm, GateForm, PublishForm, graph_of, side_label
from engine.models import Run
from evals.models import EvalSet
from evals.sets import EvalSetInvalid


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
    verdict: gates.Verdict | None = None,
    gate_form: GateForm | None = None,
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
        **_gate_context(request, workflow, verdict, gate_form),
    }
    return render(request, "builder/workflow_versions.html", context, status=status)


def _gate_context(
    request: HttpRequest, workflow: Workflow, verdict: gates.Verdict | None, form: GateForm | None
) -> dict[str, object]:
    gate = PublishGate.objects.select_related("eval_set").filter(workflow=workflow).first()
    eval_sets = list(EvalSet.objects.filter(workflow=workflow).order_by("name").values_list("pk", "name"))
    initial = (
        {
            "eval_set": gate.eval_set_id,
            "scorer": gate.scorer,
            "min_pass_rate": gate.min_pass_rate,
            "max_drop_points": gate.max_drop_points,
            "enabled": gate.enabled,
        }
        if gate
        else {"enabled": True}
    )
    return {
        "gate": gate,
        "gate_rule": gates.describe(gate) if gate else "",
        "gate_form": form or GateForm(initial=initial, eval_sets=eval_sets),
        "has_eval_sets": bool(eval_sets),
        "verdict": verdict,
        "can_override": can(request.user, workflow.workspace_id, Action.MANAGE),
    }


@login_required
@require_http_methods(["GET", "POST"])
def workflow_versions(request: HttpRequest, workflow_id: int) -> HttpResponse:
    if request.method == "GET":
        return _page(request, get_for(request.user, Workflow, Action.VIEW, pk=workflow_id), PublishForm())
    workflow = get_for(request.user, Workflow, Action.EDIT, pk=workflow_id)
    form = PublishForm(request.POST, children=child_publishing.changed_children(workflow))
    if not form.is_valid():
        return _page(request, workflow, form, status=422)
    override = form.cleaned_data["override_note"]
    if override and not can(request.user, workflow.workspace_id, Action.MANAGE):
        form.add_error("override_note", "Only an owner may publish past the publish gate")
        return _page(request, workflow, form, status=403)
    try:
        verdict = gates.check(workflow, signed_in(request), override)
    except (gates.GatePending, gates.GateRefused) as stopped:
        pending = isinstance(stopped, gates.GatePending)
        return _page(request, workflow, form, status=409 if pending else 422, verdict=stopped.verdict)
    except EvalSetInvalid as invalid:
        form.add_error(None, f"gate: {invalid.field}: {invalid}")
        return _page(request, workflow, form, status=422)
    try:
        made = child_publishing.publish_with_children(
            workflow, form.cleaned_data["note"], signed_in(request), form.cleaned_data["children"]
        )
        gates.note_on(made[-1], verdict, signed_in(request), override)
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


@login_required
@require_POST
def gate_settings(request: HttpRequest, workflow_id: int) -> HttpResponse:
    """Owners set the gate: an editor who could change it could also publish past it."""
    workflow = get_for(request.user, Workflow, Action.MANAGE, pk=workflow_id)
    eval_sets = list(EvalSet.objects.filter(workflow=workflow).order_by("name").values_list("pk", "name"))
    form = GateForm(request.POST, eval_sets=eval_sets)
    if not form.is_valid():
        return _page(request, workflow, PublishForm(), status=422, gate_form=form)
    data = form.cleaned_data
    settings = gates.GateSettings(
        data["eval_set"], data["scorer"].strip(), data["min_pass_rate"], data["max_drop_points"], data["enabled"]
    )
    try:
        gates.save_gate(workflow, settings, signed_in(request))
    except gates.GateInvalid as invalid:
        form.add_error(invalid.field if invalid.field in form.fields else None, str(invalid))
        return _page(request, workflow, PublishForm(), status=422, gate_form=form)
    messages.success(request, "Saved the publish gate.")
    return redirect("builder:workflow-versions", workflow.pk)


@login_required
@require_POST
def check_draft(request: HttpRequest, workflow_id: int) -> HttpResponse:
    """ "Is my draft better than what is live?": evaluate both (fresh runs reused) and open their comparison."""
    workflow = get_for(request.user, Workflow, Action.EDIT, pk=workflow_id)
    try:
        pair = gates.draft_comparison(workflow, signed_in(request))
    except EvalSetInvalid as invalid:
        messages.error(request, f"Could not evaluate: {invalid.field}: {invalid}")
        return redirect("builder:workflow-versions", workflow.pk)
    if pair is None:
        messages.error(request, "Publish a version and add an eval set first: there is nothing to compare.")
        return redirect("builder:workflow-versions", workflow.pk)
    base, draft = pair
    return redirect(reverse("builder:eval-compare", args=[workflow.pk]) + f"?base={base.pk}&candidate={draft.pk}")
