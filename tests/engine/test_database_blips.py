"""A database that refuses a write for a moment does not repeat finished work or lose a bill; a crash
between a model's answer and its bill is billed at the call's reservation (issue 19, parts 2 and 3)."""

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.db import connection

from engine.models import BudgetHold, CostEntry, NodeRun, NodeStatus, RunEvent
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.refused_writes import refusing
from tests.engine.running import start, wait_for
from tests.eventually import eventually
from tests.factories import BudgetFactory, ModelPriceFactory, ProviderConfigFactory
from tests.fake_openai import FakeOpenAI
from tests.workers import Worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("without_worker")]
ADVISORY_KEY = 1919


@contextmanager
def refused_once(name: str, table: str, when: str, condition: str, action: str = "") -> Iterator[None]:
    """PostgreSQL itself refuses, once, the first write to `table` that meets `condition`.

    It refuses as a database going away does (SQLSTATE 57P01, admin_shutdown: an
    OperationalError to Django), or runs `action` instead when one is given.
    """
    act = action or "RAISE EXCEPTION 'injected: the database went away' USING ERRCODE = '57P01';"
    once = f"IF nextval('{name}_seen') = 1 THEN {act} END IF;"
    sequence = f"CREATE SEQUENCE {name}_seen;", f"DROP SEQUENCE {name}_seen;"
    with refusing(name, condition, once, table=table, when=when, before=sequence[0], after=sequence[1]):
        yield


def refusals(name: str) -> int:
    """How many writes reached the trigger's condition (1 once it has refused one)."""
    read = f"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {name}_seen"  # noqa: S608  (the test's own name)
    with connection.cursor() as cursor:
        cursor.execute(read)
        return int(cursor.fetchone()[0])


def test_an_effect_whose_answer_arrived_is_recorded_through_a_blip_and_not_repeated(workspace, server):
    data = chain(TRIGGER, node("post", "http_request", method="POST", url=server.url + "/hook", body={"n": 1}))
    with refused_once("refuse_effect_done", "engine_effect", "BEFORE UPDATE", "NEW.status = 'done'"):
        worker = Worker(lease_s=4, loglevel="WARNING")
        try:
            finished = wait_for(start(workspace, data), timeout=30)
            said = worker.output()
        finally:
            worker.stop()
        assert refusals("refuse_effect_done") >= 1, "the blip never happened"
    assert finished.status == "succeeded", said[-3000:]
    assert len(server.requests("/hook")) == 1, "the POST was repeated after its answer had arrived"
    assert list(NodeRun.objects.filter(run=finished, node_id="post").values_list("attempt", flat=True)) == [1]
    assert "could not record the effect" in said


def test_an_outcome_refused_for_a_moment_is_recorded_at_its_first_attempt(workspace, server):
    data = chain(TRIGGER, node("call", "http_request", url=server.url + "/get"))
    condition = "NEW.node_id = 'call' AND NEW.status = 'succeeded'"
    with refused_once("refuse_call_success", "engine_noderun", "BEFORE UPDATE", condition):
        worker = Worker(lease_s=4, loglevel="WARNING")
        try:
            finished = wait_for(start(workspace, data), timeout=30)
            said = worker.output()
        finally:
            worker.stop()
        assert refusals("refuse_call_success") >= 1, "the blip never happened"
    assert finished.status == "succeeded", said[-3000:]
    assert len(server.requests("/get")) == 1
    call = NodeRun.objects.get(run=finished, node_id="call")
    assert (call.status, call.attempt) == (NodeStatus.SUCCEEDED, 1)
    assert not RunEvent.objects.filter(run=finished, type="node.crashed").exists()
    assert "for now" in said
    assert "trying again" in said


def test_a_claim_refused_for_a_moment_is_made_again_not_left_to_the_reaper(workspace):
    """The worker that took the node's message claims it through the blip; without a reaper the run ends only so."""
    condition = "NEW.node_id = 'start' AND NEW.status = 'running'"
    with refused_once("refuse_claim", "engine_noderun", "BEFORE UPDATE", condition):
        worker = Worker(lease_s=4, loglevel="WARNING")
        try:
            finished = wait_for(start(workspace, chain(TRIGGER)), timeout=30)
            said = worker.output()
        finally:
            worker.stop()
        assert refusals("refuse_claim") >= 1, "the blip never happened"
    assert finished.status == "succeeded", said[-3000:]
    assert NodeRun.objects.get(run=finished, node_id="start").attempt == 1
    assert "could not claim node" in said


@pytest.fixture
def priced_provider(workspace) -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(tokens_in=1000, tokens_out=500)
    ModelPriceFactory()
    ProviderConfigFactory(workspace=workspace, name="fake", base_url=fake.url, api_key="sk-test")
    yield fake
    fake.close()


DRAFT = node("draft", "generate", provider="fake", model="gpt-test", prompt="hi", max_tokens=100)


def test_a_bill_refused_once_is_written_and_charged_once(workspace, priced_provider):
    budget = BudgetFactory(workspace=workspace, name="Monthly AI", limit=Decimal("10.00"))
    with refused_once("refuse_cost", "engine_costentry", "BEFORE INSERT", "TRUE"):
        worker = Worker(lease_s=4)
        try:
            finished = wait_for(start(workspace, chain(TRIGGER, DRAFT)), timeout=30)
        finally:
            worker.stop()
        assert refusals("refuse_cost") >= 1, "the blip never happened"
    assert finished.status == "succeeded"
    assert len(priced_provider.chat_requests()) == 1
    billed = CostEntry.objects.get(run=finished)
    assert (billed.attempt, billed.estimated) == (1, False)
    assert billed.cost > 0
    spend = budget.spends.get()
    assert (spend.reserved, spend.spent, spend.calls) == (0, billed.cost, 1)
    finished.refresh_from_db()
    assert finished.cost == billed.cost


def waiting_on_advisory_lock() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
            " AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


def unbilled(worker: Worker) -> str:
    """Why a hold is still there: the holds, the node's attempts, who waits on what, and the reaper's log."""
    holds = list(BudgetHold.objects.values("node_id", "attempt", "created_at"))
    nodes = list(NodeRun.objects.values_list("node_id", "attempt", "status"))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, wait_event_type, wait_event, left(query, 120) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'"
        )
        busy = cursor.fetchall()
    return f"the hold was never charged: holds {holds}, nodes {nodes}, busy {busy}\n{worker.output()[-4000:]}"


def test_an_answer_whose_worker_dies_before_billing_is_billed_at_its_reservation(workspace, priced_provider):
    budget = BudgetFactory(workspace=workspace, name="Monthly AI", limit=Decimal("10.00"))
    # The first bill waits on a lock this test holds: the provider has answered, nothing is billed yet.
    wait = f"PERFORM pg_advisory_xact_lock({ADVISORY_KEY});"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_KEY])
    try:
        with refused_once("hold_first_bill", "engine_costentry", "BEFORE INSERT", "TRUE", action=wait):
            first = Worker(lease_s=2)
            try:
                run = start(workspace, chain(TRIGGER, DRAFT))
                stuck = eventually(waiting_on_advisory_lock, timeout=20, message="the bill never started")
            finally:
                first.kill()
            reserved = BudgetHold.objects.get().amount
            assert len(priced_provider.chat_requests()) == 1, "the provider answered the first call"
            with connection.cursor() as cursor:
                # The killed worker's session would wait for the lock until it notices its client is gone.
                cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [stuck])
            second = Worker(beat=True, lease_s=2)
            try:
                finished = wait_for(run, timeout=60)
                eventually(lambda: not BudgetHold.objects.exists(), timeout=20, message=lambda: unbilled(second))
            finally:
                second.stop()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_KEY])
    assert finished.status == "succeeded"
    answered = len(priced_provider.chat_requests())
    entries = list(CostEntry.objects.filter(run=run).order_by("attempt").values_list("attempt", "estimated", "cost"))
    assert len(entries) == answered == 2, "every answered call has a bill"
    (first_attempt, estimated, estimate), (_, actual_estimated, actual) = entries
    assert (first_attempt, estimated, estimate) == (1, True, reserved)
    assert not actual_estimated
    spend = budget.spends.get()
    assert (spend.reserved, spend.spent, spend.calls) == (0, estimate + actual, 2)
    assert Counter(CostEntry.objects.values_list("estimated", flat=True)) == Counter({True: 1, False: 1})
