"""Run pages of the current workspace."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.audit import record
from accounts.permissions import Action, require
from accounts.views import current_membership
from engine.forms import AllowlistForm
from engine.models import Run

RECENT = 50


@login_required
def run_list(request: HttpRequest) -> HttpResponse:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.VIEW)
    runs = Run.objects.filter(workspace_id=me.workspace_id).only(
        "pk",
        "workflow_name",
        "version_number",
        "status",
        "trigger_kind",
        "is_test",
        "created_at",
        "started_at",
        "finished_at",
    )[:RECENT]
    return render(request, "engine/run_list.html", {"runs": runs, "limit": RECENT})


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
        return render(request, "engine/network_settings.html", {"form": form}, status=422)
    form = AllowlistForm(initial={"entries": "\n".join(workspace.http_allowlist)})
    return render(request, "engine/network_settings.html", {"form": form})
