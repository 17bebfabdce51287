"""Schedules: cron in a time zone, validated edits, and firing the due ones from beat once per slot.

Missed fires: a schedule whose slots passed while nothing was firing (beat or workers down,
a deploy) fires ONCE, for the most recent missed slot, and the number of older slots it
skipped goes to the audit log ("schedule.caught_up") and the returned Firing. Firing every
missed slot would start a burst of identical runs after an outage; firing none would hide
that the outage happened.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from croniter import CroniterBadDateError, croniter
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from accounts.audit import record
from builder import versions
from builder.models import Schedule, Workflow
from datasets import batches
from datasets.models import Dataset
from engine.models import TriggerKind
from engine.runs import Options, RunRejected

logger = logging.getLogger(__name__)

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
EDITABLE = frozenset({"cron", "timezone", "input", "enabled", "dataset_id", "batch_concurrency"})
# Counting missed slots one by one costs ~0.1 ms each; past this many we stop counting and jump.
MAX_COUNTED = 1000
# One beat tick handles at most this many schedules; the rest are still due on the next tick.
BATCH = 500


class ScheduleInvalid(ValueError):
    """A field of a schedule is wrong; the message starts with the field's name."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


@dataclass(frozen=True)
class Spec:
    cron: str
    timezone: str = "UTC"
    input: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    # A dataset of the workflow's workspace: each fire starts a batch over its rows instead of one run.
    dataset_id: int | None = None
    batch_concurrency: int = 10


@dataclass(frozen=True)
class Firing:
    """What one schedule did on one tick: a run started, or `error` says why not."""

    schedule_id: int
    fire_time: datetime
    skipped: int
    run_id: int | None = None
    error: str = ""


@cache
def zone_names() -> frozenset[str]:
    # available_timezones() walks the tz database on disk at every call.
    return frozenset(available_timezones())


def check_cron(cron: Any) -> str:
    cron = " ".join(str(cron).split())
    # Six fields would mean seconds to croniter; schedules have minute resolution (beat ticks every 15 s).
    if len(MACROS.get(cron.lower(), cron).split()) != 5:
        raise ScheduleInvalid(
            "cron", "use five fields (minute hour day-of-month month day-of-week) or @hourly, @daily, @weekly…"
        )
    if not croniter.is_valid(cron):
        raise ScheduleInvalid("cron", f"{cron!r} is not a valid cron expression")
    return cron


def check_timezone(name: Any) -> str:
    name = str(name).strip()
    if name not in zone_names():
        raise ScheduleInvalid("timezone", f"{name!r} is not a time zone name such as UTC or Europe/Berlin")
    return name


def check_input(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScheduleInvalid("input", "must be a JSON object")
    return value


def check_batch(workflow: Workflow, spec: Spec) -> None:
    """A batch schedule's dataset is one of the workflow's workspace, and its concurrency one a batch takes."""
    if (
        spec.dataset_id is not None
        and not Dataset.objects.filter(pk=spec.dataset_id, workspace_id=workflow.workspace_id).exists()
    ):
        raise ScheduleInvalid("dataset_id", f"no dataset {spec.dataset_id} in this workspace")
    if not 1 <= spec.batch_concurrency <= batches.MAX_CONCURRENCY:
        raise ScheduleInvalid("batch_concurrency", f"must be from 1 to {batches.MAX_CONCURRENCY}")


def clean(spec: Spec) -> Spec:
    cleaned = replace(
        spec,
        cron=check_cron(spec.cron),
        timezone=check_timezone(spec.timezone),
        input=check_input(spec.input),
        enabled=bool(spec.enabled),
    )
    try:
        next_fire(cleaned.cron, cleaned.timezone, timezone.now())
    except CroniterBadDateError:
        raise ScheduleInvalid("cron", f"{cleaned.cron!r} never fires") from None
    return cleaned


def next_fire(cron: str, tz: str, after: datetime) -> datetime:
    """The first fire time strictly after `after`, in the zone `tz`.

    Daylight saving, as Vixie cron does it: a wall time the spring change skips fires at the
    first minute after the gap; a wall time that occurs twice in autumn fires once when the
    cron names a fixed minute and hour ("30 2 * * *" stays daily), and at both occurrences
    when either field has a '*' ("0 * * * *" stays hourly in elapsed time).
    """
    times = croniter(cron, after.astimezone(ZoneInfo(tz)))
    while True:
        candidate: datetime = times.get_next(datetime)
        if not (_second_occurrence(candidate) and _fixed_time(cron)):
            return candidate


def upcoming(schedule: Schedule, count: int, after: datetime | None = None) -> list[datetime]:
    """The next `count` fire times in the schedule's zone; none while it is disabled."""
    if not schedule.enabled:
        return []
    moment, times = after or timezone.now(), []
    for _ in range(count):
        moment = next_fire(schedule.cron, schedule.timezone, moment)
        times.append(moment)
    return times


def _second_occurrence(moment: datetime) -> bool:
    return moment.fold == 1 and moment.replace(fold=0).utcoffset() != moment.utcoffset()


def _fixed_time(cron: str) -> bool:
    minute, hour = MACROS.get(cron.lower(), cron).split()[:2]
    return "*" not in minute and "*" not in hour


def _arm(spec: Spec, now: datetime) -> datetime | None:
    return next_fire(spec.cron, spec.timezone, now) if spec.enabled else None


@transaction.atomic
def create(workflow: Workflow, spec: Spec, by: User | None, now: datetime | None = None) -> Schedule:
    """Raises ScheduleInvalid naming the field."""
    spec = clean(spec)
    check_batch(workflow, spec)
    schedule = Schedule.objects.create(
        workflow=workflow,
        cron=spec.cron,
        timezone=spec.timezone,
        input=spec.input,
        enabled=spec.enabled,
        dataset_id=spec.dataset_id,
        batch_concurrency=spec.batch_concurrency,
        next_fire_at=_arm(spec, now or timezone.now()),
        created_by=by,
    )
    record(
        by,
        "schedule.created",
        workspace=workflow.workspace,
        target=schedule,
        cron=spec.cron,
        timezone=spec.timezone,
        enabled=spec.enabled,
    )
    return schedule


@transaction.atomic
def update(schedule: Schedule, changes: Mapping[str, Any], by: User | None, now: datetime | None = None) -> Schedule:
    """Change some of cron, timezone, input, enabled; a new cron, zone or re-enabling counts from now.

    Re-arming from now means a schedule that was paused does not catch up on the slots it
    slept through. Raises ScheduleInvalid naming the field.
    """
    for name in changes:
        if name not in EDITABLE:
            raise ScheduleInvalid(name, "cannot be changed")
    kept = (schedule.cron, schedule.timezone, schedule.input, schedule.enabled)
    current = Spec(*kept, dataset_id=schedule.dataset_id, batch_concurrency=schedule.batch_concurrency)
    spec = clean(replace(current, **changes))
    check_batch(schedule.workflow, spec)
    fields = [name for name in sorted(EDITABLE) if getattr(spec, name) != getattr(current, name)]
    for name in fields:
        setattr(schedule, name, getattr(spec, name))
    if {"cron", "timezone", "enabled"} & set(fields):
        schedule.next_fire_at = _arm(spec, now or timezone.now())
        fields.append("next_fire_at")
    if fields:
        # Only the changed columns: an input edit must not overwrite a next_fire_at that beat just advanced.
        schedule.save(update_fields=fields)
    record(by, "schedule.updated", workspace=schedule.workflow.workspace, target=schedule, fields=sorted(changes))
    return schedule


@transaction.atomic
def delete(schedule: Schedule, by: User | None) -> None:
    record(by, "schedule.deleted", workspace=schedule.workflow.workspace, target=schedule, cron=schedule.cron)
    schedule.delete()


def fire_due(now: datetime | None = None) -> list[Firing]:
    """Fire every enabled schedule whose next fire time has come; never raises.

    Each schedule is claimed with a conditional UPDATE on the next_fire_at it was read with,
    in the same transaction that starts its run: a second beat, an overlapping tick or a
    redelivered task updates no row and does nothing, and a crash before the commit leaves
    the slot due for the next tick. The run's idempotency key (schedule id + slot) makes a
    repeated fire of one slot return the same run even if the claim were bypassed.
    """
    now = now or timezone.now()
    due = (
        Schedule.objects.filter(enabled=True, next_fire_at__lte=now)
        .select_related("workflow__workspace")
        .order_by("next_fire_at", "pk")[:BATCH]
    )
    firings = []
    for schedule in due:
        try:
            firing = _fire(schedule, now)
        except Exception:
            # One broken schedule must not stop the others or the beat task. Its transaction
            # rolled back, so the slot stays due and is tried again on the next tick.
            logger.exception("schedule %s could not fire", schedule.pk)
            continue
        if firing is not None:
            firings.append(firing)
    return firings


def _fire(schedule: Schedule, now: datetime) -> Firing | None:
    planned = schedule.next_fire_at
    assert planned is not None  # the query selected next_fire_at <= now
    fire_time, skipped, counted_all = _latest_slot(schedule, planned, now)
    following = next_fire(schedule.cron, schedule.timezone, now)
    workflow = schedule.workflow
    with transaction.atomic():
        claimed = Schedule.objects.filter(pk=schedule.pk, enabled=True, next_fire_at=planned).update(
            next_fire_at=following
        )
        if not claimed:
            return None  # another tick fired this slot, or the schedule was edited meanwhile
        schedule.refresh_from_db(fields=["input"])
        slot = fire_time.astimezone(UTC)
        details: dict[str, Any] = {"fire_time": fire_time.isoformat(), "skipped": skipped}
        if not counted_all:
            details["skipped_counted_up_to"] = MAX_COUNTED
        if workflow.archived_at is not None:
            archived = Firing(schedule.pk, fire_time, skipped, error=f"{workflow.name!r} is archived")
            return _failed(schedule, archived, details)
        key = f"schedule-{schedule.pk}-{slot.isoformat()}"
        if schedule.dataset_id is not None:
            return _fire_batch(schedule, Firing(schedule.pk, fire_time, skipped), details)
        try:
            with transaction.atomic():
                run = versions.run_latest(
                    workflow, schedule.input, Options(trigger_kind=TriggerKind.SCHEDULE, idempotency_key=key)
                )
        except (versions.NothingPublished, RunRejected) as error:
            failed = Firing(schedule.pk, fire_time, skipped, error=str(error))
            return _failed(schedule, failed, {**details, "problems": getattr(error, "problems", [])})
        Schedule.objects.filter(pk=schedule.pk).update(last_fired_at=slot)
        if skipped:
            record(None, "schedule.caught_up", workspace=workflow.workspace, target=schedule, run=run.pk, **details)
    return Firing(schedule.pk, fire_time, skipped, run_id=run.pk)


def _fire_batch(schedule: Schedule, firing: Firing, details: dict[str, Any]) -> Firing:
    """Start a batch of the latest version over the schedule's dataset, in the transaction that claimed the slot.

    The claim is what makes it once per slot: a batch run has no workflow of its own for an idempotency key.
    """
    workflow = schedule.workflow
    version = workflow.latest_version()
    dataset = schedule.dataset
    if version is None or dataset is None:
        reason = f"{workflow.name!r} has no published version yet" if version is None else "the dataset is gone"
        return _failed(schedule, replace(firing, error=reason), details)
    spec = batches.BatchSpec(dataset, version, schedule.batch_concurrency)
    try:
        with transaction.atomic():
            batch = batches.start_batch(spec, schedule.created_by, trigger_kind=TriggerKind.SCHEDULE)
    except batches.BatchInvalid as error:
        return _failed(schedule, replace(firing, error=str(error)), {**details, "problems": error.problems})
    Schedule.objects.filter(pk=schedule.pk).update(last_fired_at=firing.fire_time.astimezone(UTC))
    if firing.skipped:
        record(None, "schedule.caught_up", workspace=workflow.workspace, target=schedule, run=batch.run_id, **details)
    return replace(firing, run_id=batch.run_id)


def _failed(schedule: Schedule, firing: Firing, details: dict[str, Any]) -> Firing:
    """The slot is spent all the same (next_fire_at has moved on): retrying it every tick would not
    publish the workflow or fix the input, and would fill the audit log."""
    workspace = schedule.workflow.workspace
    record(None, "schedule.fire_failed", workspace=workspace, target=schedule, reason=firing.error, **details)
    return firing


def _latest_slot(schedule: Schedule, planned: datetime, now: datetime) -> tuple[datetime, int, bool]:
    """The most recent slot at or before `now`, how many due slots before it are skipped, and
    whether that count is exact."""
    slot = planned.astimezone(ZoneInfo(schedule.timezone))
    for skipped in range(MAX_COUNTED):
        later = next_fire(schedule.cron, schedule.timezone, slot)
        if later > now:
            return slot, skipped, True
        slot = later
    # Down for longer than MAX_COUNTED slots: jump straight to the last slot at or before now.
    local_now = now.astimezone(ZoneInfo(schedule.timezone)).replace(microsecond=0) + timedelta(seconds=1)
    return croniter(schedule.cron, local_now).get_prev(datetime), MAX_COUNTED, False
