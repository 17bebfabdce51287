"""The Schedules tab of a workflow: list, add, pause or resume, delete."""

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import Action, can, get_for
from accounts.views import signed_in
from builder import schedules
from builder.models import Schedule, Workflow
from builder.schedule_forms import ScheduleForm
from datasets.models import Dataset

SHOWN_FIRES = 3


def _local(moment: datetime | None, schedule: Schedule) -> dict[str, str] | None:
    """A time as the schedule's zone reads it; the template filters would show the server's zone."""
    if moment is None:
        return None
    local = moment.astimezone(ZoneInfo(schedule.timezone))
    return {"iso": local.isoformat(), "text": f"{local:%Y-%m-%d %H:%M} {local.tzname()}"}


def _row(schedule: Schedule) -> dict[str, Any]:
    return {
        "schedule": schedule,
        "input": json.dumps(schedule.input, indent=2, sort_keys=True),
        "dataset": schedule.dataset,
        "last_fired": _local(schedule.last_fired_at, schedule),
        "upcoming": [_local(moment, schedule) for moment in schedules.upcoming(schedule, SHOWN_FIRES)],
    }


def _page(request: HttpRequest, workflow: Workflow, form: ScheduleForm, status: int = 200) -> HttpResponse:
    context = {
        "workflow": workflow,
        "rows": [_row(s) for s in workflow.schedules.select_related("dataset").order_by("pk")],
        "form": form,
        "can_edit": can(request.user, workflow.workspace_id, Action.EDIT),
        "zone_names": sorted(schedules.zone_names()),
    }
    return render(request, "builder/schedule_list.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def workflow_schedules(request: HttpRequest, workflow_id: int) -> HttpResponse:
    if request.method == "GET":
        workflow = get_for(request.user, Workflow, Action.VIEW, pk=workflow_id)
        return _page(request, workflow, ScheduleForm(datasets=_datasets(workflow)))
    workflow = get_for(request.user, Workflow, Action.EDIT, pk=workflow_id)
    form = ScheduleForm(request.POST, datasets=_datasets(workflow))
    if not form.is_valid():
        return _page(request, workflow, form, status=422)
    try:
        schedules.create(workflow, form.spec(), by=signed_in(request))
    except schedules.ScheduleInvalid as invalid:
        form.add_error("dataset" if invalid.field == "dataset_id" else None, str(invalid))
        return _page(request, workflow, form, status=422)
    messages.success(request, "Added the schedule.")
    return redirect("builder:workflow-schedules", workflow.pk)


def _datasets(workflow: Workflow) -> list[tuple[int, str]]:
    return list(Dataset.objects.filter(workspace_id=workflow.workspace_id).values_list("pk", "name"))


def _schedule(request: HttpRequest, workflow_id: int, schedule_id: int) -> Schedule:
    workflow = get_for(request.user, Workflow, Action.EDIT, pk=workflow_id)
    return get_object_or_404(Schedule.objects.select_related("workflow__workspace"), pk=schedule_id, workflow=workflow)


@login_required
@require_POST
def schedule_toggle(request: HttpRequest, workflow_id: int, schedule_id: int) -> HttpResponse:
    schedule = _schedule(request, workflow_id, schedule_id)
    schedules.update(schedule, {"enabled": not schedule.enabled}, by=signed_in(request))
    messages.success(request, f"{'Resumed' if schedule.enabled else 'Paused'} the schedule {schedule.cron}.")
    return redirect("builder:workflow-schedules", workflow_id)


@login_required
@require_POST
def schedule_delete(request: HttpRequest, workflow_id: int, schedule_id: int) -> HttpResponse:
    schedule = _schedule(request, workflow_id, schedule_id)
    schedules.delete(schedule, by=signed_in(request))
    messages.success(request, f"Deleted the schedule {schedule.cron}.")
    return redirect("builder:workflow-schedules", workflow_id)
