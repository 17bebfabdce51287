"""Schedules: fire times across DST, validation, firing each slot once, catching up once, the API and page."""

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection

from accounts.models import AuditEntry
from builder import schedules
from builder.models import Schedule
from builder.schedules import Spec, next_fire
from builder.tasks import fire_schedules
from engine.models import Run, RunStatus
from tests import workers
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import wait_for
from tests.eventually import eventually
from tests.factories import MembershipFactory, WorkflowFactory, WorkflowVersionFactory

GOOD = chain(TRIGGER, node("answer", "reply", answer="hi {{ input.customer }}"))
T0 = datetime(2025, 6, 2, 10, 30, tzinfo=UTC)


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return T0.replace(hour=hour, minute=minute, second=second)


@pytest.fixture
def workflow(owner):
    published = WorkflowFactory(workspace=owner.workspace, name="Digest", draft=GOOD)
    WorkflowVersionFactory(workflow=published, number=1, graph=GOOD)
    return published


def hourly(workflow, **spec):
    return schedules.create(workflow, Spec("0 * * * *", input={"customer": "Ada"}, **spec), by=None, now=T0)


def local(times):
    return [t.isoformat() for t in times]


def upcoming(cron, tz, after, count):
    times = []
    for _ in range(count):
        after = next_fire(cron, tz, after)
        times.append(after)
    return times


# Fire times


def test_it_keeps_local_time_across_the_spring_change_in_berlin():
    fires = upcoming("0 9 * * *", "Europe/Berlin", datetime(2025, 3, 28, 12, tzinfo=UTC), 3)
    assert local(fires) == ["2025-03-29T09:00:00+01:00", "2025-03-30T09:00:00+02:00", "2025-03-31T09:00:00+02:00"]
    assert [f.astimezone(UTC).hour for f in fires] == [8, 7, 7]


def test_a_time_the_spring_change_skips_fires_just_after_the_gap():
    fires = upcoming("30 2 * * *", "Europe/Berlin", datetime(2025, 3, 28, 12, tzinfo=UTC), 3)
    assert local(fires) == ["2025-03-29T02:30:00+01:00", "2025-03-30T03:00:00+02:00", "2025-03-31T02:30:00+02:00"]


def test_a_repeated_autumn_hour_fires_a_fixed_time_once_and_an_hourly_cron_both_times():
    daily = upcoming("30 2 * * *", "Europe/Berlin", datetime(2025, 10, 24, 12, tzinfo=UTC), 3)
    assert local(daily) == ["2025-10-25T02:30:00+02:00", "2025-10-26T02:30:00+02:00", "2025-10-27T02:30:00+01:00"]
    hourly = upcoming("0 * * * *", "Europe/Berlin", datetime(2025, 10, 25, 23, 30, tzinfo=UTC), 3)
    assert local(hourly) == ["2025-10-26T02:00:00+02:00", "2025-10-26T02:00:00+01:00", "2025-10-26T03:00:00+01:00"]


# Validation


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        (Spec("every day"), "cron", "five fields"),
        (Spec("61 * * * *"), "cron", "not a valid cron expression"),
        (Spec("* * * * * *"), "cron", "five fields"),
        (Spec("0 0 30 2 *"), "cron", "never fires"),
        (Spec("0 9 * * *", timezone="Mars/Olympus"), "timezone", "not a time zone name"),
        (Spec("0 9 * * *", input=[1, 2]), "input", "must be a JSON object"),  # type: ignore[arg-type]
    ],
)
def test_it_names_the_field_that_is_wrong(workflow, spec, field, words):
    with pytest.raises(schedules.ScheduleInvalid) as raised:
        schedules.create(workflow, spec, by=None)
    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")
    assert words in str(raised.value)
    assert not Schedule.objects.exists()


# Firing


def test_it_starts_one_run_per_due_slot_and_advances(workflow):
    schedule = hourly(workflow)
    assert schedule.next_fire_at == at(11)
    assert schedules.fire_due(at(10, 59, 59)) == []

    [firing] = schedules.fire_due(at(11, 0, 10))

    run = Run.objects.get()
    assert (firing.run_id, firing.skipped, firing.error) == (run.pk, 0, "")
    assert (run.trigger_kind, run.input, run.version_number) == ("schedule", {"customer": "Ada"}, 1)
    assert run.idempotency_key == f"schedule-{schedule.pk}-2025-06-02T11:00:00+00:00"
    schedule.refresh_from_db()
    assert (schedule.next_fire_at, schedule.last_fired_at) == (at(12), at(11))
    assert schedules.fire_due(at(11, 0, 25)) == []
    [later] = schedules.fire_due(at(12, 0, 5))
    assert later.run_id != run.pk
    assert Run.objects.count() == 2


def test_firing_the_same_slot_again_returns_the_same_run(workflow):
    schedule = hourly(workflow)
    [first] = schedules.fire_due(at(11, 0, 10))
    # As if the claim had been lost: a restored backup, or a tick that read the old next_fire_at.
    Schedule.objects.filter(pk=schedule.pk).update(next_fire_at=at(11))

    [again] = schedules.fire_due(at(11, 0, 20))

    assert again.run_id == first.run_id
    assert Run.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_ticks_fire_a_slot_once(workflow):
    schedule = hourly(workflow)
    results: list[list[schedules.Firing]] = []

    def tick() -> None:
        try:
            results.append(schedules.fire_due(at(11, 0, 10)))
        finally:
            connection.close()

    threads = [threading.Thread(target=tick, daemon=True) for _ in range(2)]
    with (
        psycopg.connect(workers.test_database_url()) as holder,
        psycopg.connect(workers.test_database_url(), autocommit=True) as watcher,
    ):
        # Another session holds the schedule's row. Both ticks read the due schedule (reads take
        # no row lock) and then queue on their claiming UPDATE; only when both are seen waiting
        # is the row let go, so each claim is decided by the UPDATE's condition, re-checked on
        # the row as the winning tick left it.
        holder.execute("SELECT 1 FROM builder_schedule WHERE id = %s FOR UPDATE", [schedule.pk])
        try:
            for thread in threads:
                thread.start()
            waiting = claims_waiting_on_a_lock(watcher, want=2, within=10)
        finally:
            holder.rollback()
    for thread in threads:
        thread.join(20)

    assert len(waiting) == 2, f"both ticks should have queued on the claim; seen waiting: {waiting}"
    assert not any(thread.is_alive() for thread in threads)
    assert sorted(len(fired) for fired in results) == [0, 1]
    assert Run.objects.filter(trigger_kind="schedule").count() == 1
    assert Schedule.objects.get(pk=schedule.pk).next_fire_at == at(12)


def claims_waiting_on_a_lock(watcher: psycopg.Connection, want: int, within: float) -> set[int]:
    """The sessions of the test database whose claiming UPDATE of a schedule waits on a lock, once there are `want`."""
    claim = 'UPDATE "builder_schedule" SET "next_fire_at"%'
    query = (
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND wait_event_type = 'Lock' AND query LIKE %s"
    )

    def waiting() -> set[int] | None:
        found = {pid for (pid,) in watcher.execute(query, [claim]).fetchall()}
        return found if len(found) >= want else None

    return eventually(waiting, within, message=f"fewer than {want} claims waited on the lock")


def test_after_downtime_it_catches_up_once_for_the_latest_missed_slot(workflow):
    schedule = hourly(workflow)

    # Down from 10:30 to 13:20: the 11:00, 12:00 and 13:00 slots passed.
    [firing] = schedules.fire_due(at(13, 20))

    run = Run.objects.get()
    assert (firing.run_id, firing.fire_time, firing.skipped) == (run.pk, at(13), 2)
    assert run.idempotency_key.endswith("T13:00:00+00:00")
    schedule.refresh_from_db()
    assert (schedule.next_fire_at, schedule.last_fired_at) == (at(14), at(13))
    entry = AuditEntry.objects.get(action="schedule.caught_up")
    assert (entry.target_id, entry.details["skipped"], entry.details["run"]) == (str(schedule.pk), 2, run.pk)


def test_without_a_published_version_it_records_the_failure_and_moves_on(owner):
    draft_only = WorkflowFactory(workspace=owner.workspace, name="Unpublished", draft=GOOD)
    schedule = hourly(draft_only)

    [firing] = schedules.fire_due(at(11, 0, 10))

    assert "has no published version" in firing.error
    assert not Run.objects.exists()
    schedule.refresh_from_db()
    assert (schedule.next_fire_at, schedule.last_fired_at) == (at(12), None)
    entry = AuditEntry.objects.get(action="schedule.fire_failed")
    assert "has no published version" in entry.details["reason"]
    assert entry.workspace == owner.workspace


def test_input_that_no_longer_fits_the_trigger_is_recorded_with_its_problems(owner, workflow):
    strict = chain(node("start", "trigger", input_schema={"type": "object", "required": ["ticket"]}))
    WorkflowVersionFactory(workflow=workflow, number=2, graph=strict)
    hourly(workflow)

    [firing] = schedules.fire_due(at(11, 0, 10))

    assert firing.error == "The input does not match the trigger's schema"
    entry = AuditEntry.objects.get(action="schedule.fire_failed")
    assert entry.details["problems"][0]["message"] == "'ticket' is a required property"
    assert not Run.objects.exists()


def test_a_paused_schedule_does_not_fire_or_catch_up_when_resumed(workflow):
    schedule = hourly(workflow)
    schedules.update(schedule, {"enabled": False}, by=None, now=T0)
    assert schedules.fire_due(at(15)) == []
    schedules.update(schedule, {"enabled": True}, by=None, now=at(15, 10))
    assert schedule.next_fire_at == at(16)
    assert schedules.fire_due(at(15, 59)) == []


# API


@pytest.fixture
def client(owner, login_as):
    return login_as(owner)


def patch(client, url, body):
    return client.patch(url, body, content_type="application/json", headers={"X-CSRFToken": client.csrf_token()})


def test_it_adds_lists_changes_and_deletes_schedules_over_the_api(client, workflow):
    url = f"/api/v1/workflows/{workflow.pk}/schedules"
    made = client.post_json(url, {"cron": "0 9 * * mon-fri", "timezone": "Europe/Berlin", "input": {"customer": "Bo"}})
    assert made.status_code == 201
    body = made.json()
    assert (body["cron"], body["timezone"], body["input"], body["enabled"]) == (
        "0 9 * * mon-fri",
        "Europe/Berlin",
        {"customer": "Bo"},
        True,
    )
    assert len(body["next_fire_times"]) == 5
    assert all(t.endswith(("+01:00", "+02:00")) and "T09:00:00" in t for t in body["next_fire_times"])
    assert [s["id"] for s in client.get(url).json()] == [body["id"]]

    paused = patch(client, f"/api/v1/schedules/{body['id']}", {"enabled": False, "cron": "@daily"})
    assert (paused.json()["enabled"], paused.json()["cron"], paused.json()["next_fire_times"]) == (False, "@daily", [])
    assert Schedule.objects.get(pk=body["id"]).next_fire_at is None

    deleted = client.delete(f"/api/v1/schedules/{body['id']}", headers={"X-CSRFToken": client.csrf_token()})
    assert deleted.status_code == 204
    assert not Schedule.objects.exists()
    actions = list(AuditEntry.objects.filter(action__startswith="schedule.").values_list("action", flat=True))
    assert sorted(actions) == ["schedule.created", "schedule.deleted", "schedule.updated"]


def test_the_api_answers_422_naming_a_bad_cron_or_time_zone(client, workflow):
    url = f"/api/v1/workflows/{workflow.pk}/schedules"
    bad_cron = client.post_json(url, {"cron": "0 25 * * *"})
    assert bad_cron.status_code == 422
    assert bad_cron.json()["error"]["message"].startswith("cron: ")
    assert bad_cron.json()["error"]["details"]["problems"][0]["path"] == "cron"
    bad_zone = client.post_json(url, {"cron": "0 9 * * *", "timezone": "Europe/Atlantis"})
    assert bad_zone.status_code == 422
    assert bad_zone.json()["error"]["message"].startswith("timezone: ")
    made = client.post_json(url, {"cron": "0 9 * * *"}).json()
    bad_patch = patch(client, f"/api/v1/schedules/{made['id']}", {"timezone": "Nowhere"})
    assert (bad_patch.status_code, bad_patch.json()["error"]["details"]["problems"][0]["path"]) == (422, "timezone")
    assert Schedule.objects.get().timezone == "UTC"


def test_a_viewer_reads_but_cannot_change_and_an_outsider_sees_nothing(owner, outsider, login_as, workflow):
    schedule = hourly(workflow)
    viewer = login_as(MembershipFactory(workspace=owner.workspace, role="viewer"))
    url = f"/api/v1/workflows/{workflow.pk}/schedules"
    assert [s["id"] for s in viewer.get(url).json()] == [schedule.pk]
    assert viewer.get(f"/api/v1/schedules/{schedule.pk}").status_code == 200
    assert viewer.post_json(url, {"cron": "0 9 * * *"}).status_code == 403
    assert patch(viewer, f"/api/v1/schedules/{schedule.pk}", {"enabled": False}).status_code == 403
    stranger = login_as(outsider)
    assert stranger.get(url).status_code == 404
    assert stranger.get(f"/api/v1/schedules/{schedule.pk}").status_code == 404
    assert patch(stranger, f"/api/v1/schedules/{schedule.pk}", {"enabled": False}).status_code == 404
    gone = stranger.delete(f"/api/v1/schedules/{schedule.pk}", headers={"X-CSRFToken": stranger.csrf_token()})
    assert gone.status_code == 404
    assert Schedule.objects.get(pk=schedule.pk).enabled


# The Schedules page


def test_the_page_adds_a_schedule_and_shows_its_next_fires(client, workflow):
    page = f"/workflows/{workflow.pk}/schedules/"
    form = {"cron": "0 9 * * *", "timezone": "Europe/Berlin", "input": '{"customer": "Cy"}'}
    added = client.post(page, form, headers={"X-CSRFToken": client.csrf_token()})
    assert (added.status_code, added["Location"]) == (302, page)
    assert Schedule.objects.get().input == {"customer": "Cy"}
    html = client.get(page).content.decode()
    assert html.count("09:00 CE") == 3  # the next three fires, in Berlin time (CET or CEST)
    assert 'aria-current="page">Schedules</a>' in html
    assert f'href="{page}"' in client.get(f"/workflows/{workflow.pk}/runs/").content.decode()
    assert f'href="{page}"' in client.get("/workflows/").content.decode()


def test_the_page_form_names_the_wrong_fields(client, workflow):
    page = f"/workflows/{workflow.pk}/schedules/"
    form = {"cron": "sometimes", "timezone": "Atlantis", "input": "[1, 2]"}
    refused = client.post(page, form, headers={"X-CSRFToken": client.csrf_token()})
    assert refused.status_code == 422
    errors = refused.context["form"].errors
    assert errors["cron"][0].startswith("cron: ")
    assert errors["timezone"][0].startswith("timezone: ")
    assert errors["input"] == ["input: must be a JSON object"]
    not_json = client.post(
        page,
        {**form, "cron": "0 9 * * *", "timezone": "UTC", "input": "{"},
        headers={"X-CSRFToken": client.csrf_token()},
    )
    assert not_json.context["form"].errors["input"][0].startswith("input: not JSON")
    assert not Schedule.objects.exists()


def test_the_page_pauses_and_deletes_for_editors_and_only_shows_for_viewers(owner, teammate, login_as, workflow):
    schedule = hourly(workflow)
    editor = login_as(teammate)
    base = f"/workflows/{workflow.pk}/schedules/{schedule.pk}"
    editor.post(f"{base}/toggle/", headers={"X-CSRFToken": editor.csrf_token()})
    assert not Schedule.objects.get(pk=schedule.pk).enabled
    viewer = login_as(MembershipFactory(workspace=owner.workspace, role="viewer"))
    html = viewer.get(f"/workflows/{workflow.pk}/schedules/").content.decode()
    assert "0 * * * *" in html
    assert "Add schedule" not in html
    assert viewer.post(f"{base}/delete/", headers={"X-CSRFToken": viewer.csrf_token()}).status_code == 403
    editor.post(f"{base}/delete/", headers={"X-CSRFToken": editor.csrf_token()})
    assert not Schedule.objects.exists()


def test_an_outsider_gets_404_for_the_page(outsider, login_as, workflow):
    assert login_as(outsider).get(f"/workflows/{workflow.pk}/schedules/").status_code == 404


# End to end: the beat task on a real worker


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_fires_a_due_schedule_and_the_run_succeeds(celery_worker, workflow):
    schedule = schedules.create(
        workflow, Spec("* * * * *", input={"customer": "Eve"}), by=None, now=datetime.now(UTC) - timedelta(minutes=3)
    )

    fire_schedules.delay()

    run = eventually(
        lambda: Run.objects.filter(trigger_kind="schedule").first(),
        timeout=20,
        message=lambda: f"no scheduled run:\n{celery_worker.output()}",
    )
    assert wait_for(run).status == RunStatus.SUCCEEDED
    assert run.output == {"answer": "hi Eve"}
    schedule.refresh_from_db()
    assert schedule.next_fire_at > datetime.now(UTC) - timedelta(seconds=5)
    assert AuditEntry.objects.get(action="schedule.caught_up").details["skipped"] in {2, 3}
