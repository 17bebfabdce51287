"""Run pages of the current workspace."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.permissions import Action, require
from accounts.views import current_membership
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
