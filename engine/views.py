"""Run pages of the current workspace, and its network settings."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.audit import record
from accounts.models import Workspace
from accounts.permissions import Action, can, get_for, require
from accounts.views import current_membership
from engine.filters import RunFilterForm, RunPage, filtered
from engine.forms import AllowlistForm
from engine.models import Run
from engine.webhooks import signing_secret


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
    for key in ("before", "fragment"):
        params.pop(key, None)
    context = {"form": form, "page": page, "workflow": workflow, "params": params.urlencode()}
    # The live list re-fetches only its rows (app.ts, liveRuns) when the workspace socket says a run moved.
    template = "engine/run_list.html#rows" if request.GET.get("fragment") == "rows" else "engine/run_list.html"
    return render(request, template, context, status=200 if form.is_valid() else 422)


@login_required
def run_list(request: HttpRequest) -> HttpResponse:
    return run_list_page(request)


@login_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_for(request.user, Run, Action.VIEW, pk=run_id)
    can_edit = can(request.user, run.workspace_id, Action.EDIT)
    context = {"run": run, "can_edit": can_edit, "deliveries": run.deliveries.all()}
    return render(request, "engine/run_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def network_settings(request: HttpRequest) -> HttpResponse:
    """Owners choose which private destinations HTTP nodes and callbacks may reach."""
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.MANAGE)
    workspace = me.workspace
    if request.method == "POST":
        form = AllowlistForm(request.POST)
        if form.is_valid():
            old, workspace.http_allowlist = workspace.http_allowlist, form.cleaned_data["entries"]
            workspace.save(update_fields=["http_allowlist"])
            record(
                request.user,
                "workspace.allowlist_changed",
                workspace=workspace,
                target=workspace,
                old=old,
                new=workspace.http_allowlist,
            )
            messages.success(request, "Saved the network allowlist.")
            return redirect("engine:network-settings")
        context = {"form": form, "webhook_secret": signing_secret(workspace.pk)}
        return render(request, "engine/network_settings.html", context, status=422)
    form = AllowlistForm(initial={"entries": "\n".join(workspace.http_allowlist)})
    return render(
        request, "engine/network_settings.html", {"form": form, "webhook_secret": signing_secret(workspace.pk)}
    )


@login_required
@require_POST
def rotate_webhook_secret(request: HttpRequest) -> HttpResponse:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.MANAGE)
    Workspace.objects.filter(pk=me.workspace_id).update(webhook_secret="")
    signing_secret(me.workspace_id)
    record(request.user, "workspace.webhook_secret_rotated", workspace=me.workspace, target=me.workspace)
    messages.success(request, "Made a new webhook signing secret; update your receivers.")
    return redirect("engine:network-settings")
