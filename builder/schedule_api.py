"""Schedules over the API: list and add a workflow's schedules, change or delete one."""

from datetime import datetime
from typing import Any, cast

from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from accounts.api_auth import token_scope
from accounts.models import Scope
from accounts.permissions import Action, get_for
from builder import schedules
from builder.models import Schedule, Workflow

router = Router(tags=["schedules"])
SHOWN_FIRES = 5


class ScheduleIn(Schema):
    cron: str = Field(max_length=100, description="five fields (minute hour day-of-month month day-of-week) or @daily…")
    timezone: str = Field("UTC", max_length=64, description="a tz database name such as Europe/Berlin")
    input: dict[str, Any] = Field(default_factory=dict, description="the trigger input of every run it starts")
    enabled: bool = True
    dataset_id: int | None = Field(None, description="a dataset: each fire starts a batch over its rows (no `input`)")
    batch_concurrency: int = Field(10, ge=1, le=500, description="a batch's rows running at once")


class SchedulePatch(Schema):
    cron: str | None = Field(None, max_length=100)
    timezone: str | None = Field(None, max_length=64)
    input: dict[str, Any] | None = None
    enabled: bool | None = None
    dataset_id: int | None = None
    batch_concurrency: int | None = Field(None, ge=1, le=500)


class ScheduleOut(Schema):
    id: int
    workflow_id: int
    cron: str
    timezone: str
    input: dict[str, Any]
    enabled: bool
    dataset_id: int | None
    batch_concurrency: int
    last_fired_at: datetime | None
    next_fire_times: list[datetime] = Field(description="the next 5, with the offset of the schedule's time zone")


def schedule_out(schedule: Schedule) -> ScheduleOut:
    return ScheduleOut(
        id=schedule.pk,
        workflow_id=schedule.workflow_id,
        cron=schedule.cron,
        timezone=schedule.timezone,
        input=schedule.input,
        enabled=schedule.enabled,
        dataset_id=schedule.dataset_id,
        batch_concurrency=schedule.batch_concurrency,
        last_fired_at=schedule.last_fired_at,
        next_fire_times=schedules.upcoming(schedule, SHOWN_FIRES),
    )


def _schedule(request: HttpRequest, schedule_id: int, action: Action) -> Schedule:
    # Schedules have no workspace of their own: the permission is the workflow's.
    workflow = get_for(request.user, Workflow, action, schedules__pk=schedule_id)
    return Schedule.objects.select_related("workflow__workspace").get(pk=schedule_id, workflow=workflow)


@router.get("/workflows/{workflow_id}/schedules", response=list[ScheduleOut], summary="A workflow's schedules")
@token_scope(Scope.WORKFLOWS_READ)
def list_schedules(request: HttpRequest, workflow_id: int) -> list[ScheduleOut]:
    workflow = get_for(request.user, Workflow, Action.VIEW, pk=workflow_id)
    return [schedule_out(s) for s in workflow.schedules.order_by("pk")]


@router.post("/workflows/{workflow_id}/schedules", response={201: ScheduleOut}, summary="Add a schedule")
@token_scope(Scope.WORKFLOWS_WRITE)
def create_schedule(request: HttpRequest, workflow_id: int, body: ScheduleIn) -> Status[ScheduleOut]:
    """Each fire time starts a run of the latest published version with `input`, or with `dataset_id` a batch
    of it over the dataset's rows. 422 names a bad `cron`, `timezone` or `dataset_id`."""
    workflow = get_for(request.user, Workflow, Action.EDIT, pk=workflow_id)
    spec = schedules.Spec(body.cron, body.timezone, body.input, body.enabled, body.dataset_id, body.batch_concurrency)
    return Status(201, schedule_out(schedules.create(workflow, spec, by=cast(User, request.user))))


@router.get("/schedules/{schedule_id}", response=ScheduleOut, summary="One schedule")
@token_scope(Scope.WORKFLOWS_READ)
def get_schedule(request: HttpRequest, schedule_id: int) -> ScheduleOut:
    return schedule_out(_schedule(request, schedule_id, Action.VIEW))


@router.patch("/schedules/{schedule_id}", response=ScheduleOut, summary="Change, pause or resume a schedule")
@token_scope(Scope.WORKFLOWS_WRITE)
def update_schedule(request: HttpRequest, schedule_id: int, body: SchedulePatch) -> ScheduleOut:
    """A new cron or time zone, or resuming, counts from now: a paused schedule does not catch up."""
    schedule = _schedule(request, schedule_id, Action.EDIT)
    changes = {name: value for name, value in body.model_dump(exclude_unset=True).items() if value is not None}
    return schedule_out(schedules.update(schedule, changes, by=cast(User, request.user)))


@router.delete("/schedules/{schedule_id}", response={204: None}, summary="Delete a schedule")
@token_scope(Scope.WORKFLOWS_WRITE)
def delete_schedule(request: HttpRequest, schedule_id: int) -> Status[None]:
    schedules.delete(_schedule(request, schedule_id, Action.EDIT), by=cast(User, request.user))
    return Status(204, None)
