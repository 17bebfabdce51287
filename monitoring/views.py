"""Run pages of the current workspace: the runs list and one run's page."""

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.vary import vary_on_headers

from accounts.permissions import Action, can, get_for, require
from accounts.views import current_membership
from engine.event_types import EventType
from engine.models import ENDED_RUN, Run, RunEvent
from engine.runs import children
from monitoring.filters import RunFilterForm, RunPage, filtered

# Item runs listed on a run's page per for_each node; the rest through the runs list (?parent=).
ITEMS_SHOWN = 200


def run_list_page(request: HttpRequest, workflow: Any = None) -> HttpResponse:
    """The runs list, of the workspace or (the builder's runs tab) of one workflow, filtered and paged."""
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.VIEW)
    query = request.GET.copy()
    if workflow is not None:
        query["workflow"] = str(workflow.pk)
    form = RunFilterForm(query)
    runs = Run.objects.filter(workspace_id=me.workspace_id)
    page = filtered(runs, form.cleaned_data) if form.is_valid() else RunPage(runs=[], next_before=None)
    params = query.copy()
    params.pop("before", None)
    context = {"form": form, "page": page, "workflow": workflow, "params": params.urlencode()}
    # The live list re-fetches only its rows over htmx (app.ts, liveRuns) when the workspace socket says a run moved.
    template = "monitoring/run_list.html#rows" if request.htmx else "monitoring/run_list.html"  # type: ignore[attr-defined]
    return render(request, template, context, status=200 if form.is_valid() else 422)


@login_required
@vary_on_headers("HX-Request")
def run_list(request: HttpRequest) -> HttpResponse:
    return run_list_page(request)


@login_required
@vary_on_headers("HX-Request")
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_for(request.user, Run, Action.VIEW, pk=run_id)
    can_edit = can(request.user, run.workspace_id, Action.EDIT)
    context = {
        "run": run,
        "can_edit": can_edit,
        "deliveries": run.deliveries.all(),
        "parent": run.parent_run_id and Run.objects.filter(pk=run.parent_run_id).only("pk", "workflow_name").first(),
        "child_nodes": _child_nodes(run),
        # Until a calling node parks there is nothing to show, but the section must poll to show it then.
        "awaits_children": run.status not in ENDED_RUN
        and any(node.get("type") in children.CHILD_KINDS for node in (run.graph or {}).get("nodes", [])),
        "trace_url": trace_url(run),
    }
    # While items run, the child runs section re-fetches itself (a fragment of this page).
    template = "monitoring/run_detail.html#children" if request.htmx else "monitoring/run_detail.html"  # type: ignore[attr-defined]
    return render(request, template, context)


def _child_nodes(run: Run) -> list[dict[str, Any]]:
    """Each subworkflow or for_each node of the run: its latest round's counts and its first item runs."""
    labels = {node.get("id"): node.get("label") for node in (run.graph or {}).get("nodes", [])}
    found = []
    for node_id in run.child_rounds.order_by("node_id").values_list("node_id", flat=True).distinct():
        progress = children.progress(run.pk, node_id)
        items = children.item_runs(run.pk, node_id, outputs=False)
        found.append(
            {
                "node_id": node_id,
                "label": labels.get(node_id) or "",
                "progress": progress,
                "items": items[:ITEMS_SHOWN],
                "more": len(items) > ITEMS_SHOWN,
            }
        )
    return found


def trace_url(run: Run) -> str:
    """The run's trace in the operator's tracing UI (TRACE_URL_TEMPLATE), when it was started in a traced request."""
    if not settings.TRACE_URL_TEMPLATE:
        return ""
    queued = RunEvent.objects.filter(run=run, type=EventType.RUN_QUEUED).values_list("payload", flat=True).first()
    trace_id = (queued or {}).get("trace_id", "")
    return settings.TRACE_URL_TEMPLATE.replace("{trace_id}", trace_id) if trace_id else ""
