"""kill -9 in the middle of nodes: every run still finishes, and no callback is posted twice."""

import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.utils import timezone

from engine import runs
from engine.models import BudgetHold, CostEntry, Effect, EffectStatus, NodeRun, NodeStatus, RunEvent
from tests.engine.graphs import TRIGGER, chain, edge, graph, node
from tests.engine.refused_writes import refusing
from tests.engine.running import history, start, wait_for
from tests.eventually import eventually
from tests.factories import BudgetFactory, ModelPriceFactory, ProviderConfigFactory
from tests.fake_openai import FakeOpenAI
from tests.fakes import RecordingServer, Reply
from tests.workers import Worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("without_worker")]
RUNS = 20


@pytest.fixture
def receiver():
    fake = RecordingServer()
    yield fake
    fake.close()


def test_runs_survive_a_killed_worker_without_duplicate_callbacks(workspace, server, receiver):
    # The lookups are held until the first worker is killed, so none of its `reply` nodes runs: a
    # callback cut off by the kill would be posted again, with the same Idempotency-Key (at least
    # once, docs/engine.md), and this test counts every POST the receiver gets.
    killed = threading.Event()
    server.default = Reply(held_until=killed)
    data = chain(
        TRIGGER,
        node("lookup", "http_request", url=server.url + "/lookup?ticket={{ input.n }}"),
        node("answer", "reply", answer="ticket {{ input.n }}", callback_url=receiver.url + "/callback"),
    )
    first = Worker(beat=True, lease_s=2)
    try:
        started = [start(workspace, data, {"n": n}) for n in range(RUNS)]
        lookups = NodeRun.objects.filter(node_id="lookup", status=NodeStatus.RUNNING)
        eventually(lambda: lookups.count() >= 5, timeout=15, message="nodes never got going")
    finally:
        first.kill()
        killed.set()
    assert not receiver.requests("/callback"), "a reply ran on the first worker"
    assert NodeRun.objects.filter(node_id="lookup", status=NodeStatus.RUNNING).exists(), "the kill hit no running node"

    second = Worker(beat=True, lease_s=2)
    try:
        finished = [wait_for(run, timeout=60) for run in started]
    except AssertionError as stuck:
        raise AssertionError(f"{stuck}\nsecond worker's log:\n{second.output()[-4000:]}") from None
    finally:
        second.stop()
    assert [run.status for run in finished] == ["succeeded"] * RUNS
    assert sorted(run.output["answer"] for run in finished) == sorted(f"ticket {n}" for n in range(RUNS))
    keys = Counter(request.headers["Idempotency-Key"] for request in receiver.requests("/callback"))
    assert len(keys) == RUNS
    assert [key for key, count in keys.items() if count > 1] == [], "a callback was posted twice"
    assert RunEvent.objects.filter(type="node.crashed").count() >= 5


def lease_expired(node_run_id: int) -> bool:
    return NodeRun.objects.get(pk=node_run_id).lease_expires_at < timezone.now()


def test_a_zombie_worker_cannot_overwrite_a_newer_attempt(workspace):
    from engine.registry import NodeResult

    run = runs.start_run(
        runs.RunSource(workspace_id=workspace.pk, graph=chain(TRIGGER, node("slow", "transform"))), {}, runs.Options()
    )
    zombie = runs.claim(NodeRun.objects.get(run=run, node_id="slow").pk, "zombie", lease_s=0.01)
    assert zombie is not None
    eventually(lambda: lease_expired(zombie.pk))
    assert runs.crash(zombie), "the reaper takes the expired lease"
    fresh = runs.claim(zombie.pk, "fresh", lease_s=30)
    assert fresh is not None
    assert fresh.attempt == zombie.attempt + 1
    assert not runs.succeed(zombie, NodeResult(output={"from": "zombie"})), "the zombie's late write must be refused"
    assert not runs.heartbeat(zombie, 30)
    assert runs.succeed(fresh, NodeResult(output={"from": "fresh"}))
    assert NodeRun.objects.get(pk=zombie.pk).output == {"from": "fresh"}
    kinds = list(RunEvent.objects.filter(run=run, node_id="slow").values_list("type", flat=True))
    assert kinds == ["node.queued", "node.running", "node.crashed", "node.running", "node.succeeded"]


def test_it_claims_a_retried_node_with_its_own_lease_and_no_resume_payload(workspace):
    """A claim reads only some columns of the node; each must land in its own field."""
    from engine.registry import NodeResult

    graph = chain(TRIGGER, node("first", "transform"), node("next", "transform"))
    run = runs.start_run(runs.RunSource(workspace_id=workspace.pk, graph=graph), {}, runs.Options())
    first = runs.claim(NodeRun.objects.get(run=run, node_id="first").pk, "first-owner", lease_s=0.01)
    assert first is not None
    eventually(lambda: lease_expired(first.pk))
    assert runs.crash(first)
    again = runs.claim(first.pk, "second-owner", lease_s=30)
    assert again is not None
    assert (again.lease_owner, again.resume, again.attempt) == ("second-owner", None, 2)
    then = runs.ClaimNext("second-owner", 30, within_s=3600)
    assert runs.succeed(again, NodeResult(output={}), then=then)
    taken = then.claimed
    assert taken is not None, "the node made ready is claimed in the same transaction"
    assert (taken.node_id, taken.lease_owner, taken.resume, taken.attempt) == ("next", "second-owner", None, 1)
    assert NodeRun.objects.get(pk=taken.pk).status == NodeStatus.RUNNING


def test_a_model_call_cut_off_by_a_killed_worker_is_billed_at_its_reservation(workspace):
    fake = FakeOpenAI(latency_s=30, tokens_in=1, tokens_out=10)
    ModelPriceFactory()
    ProviderConfigFactory(workspace=workspace, name="fake", base_url=fake.url)
    budget = BudgetFactory(workspace=workspace, name="Monthly AI", limit=Decimal("1.00"))
    draft = node("draft", "generate", provider="fake", model="gpt-test", prompt="hi", max_tokens=10)
    first = Worker(lease_s=2)
    try:
        run = start(workspace, chain(TRIGGER, draft))
        eventually(
            lambda: fake.chat_requests() and BudgetHold.objects.exists(),
            timeout=15,
            message="the model call never started",
        )
    finally:
        first.kill()
    fake.latency_s = 0.05
    reserved = budget.spends.get().reserved
    assert reserved > 0, "the killed call left its reservation"

    second = Worker(beat=True, lease_s=2)
    try:
        finished = wait_for(run, timeout=60)
        eventually(lambda: not BudgetHold.objects.exists(), timeout=20, message="the reaper never charged the hold")
    finally:
        second.stop()
    try:
        assert finished.status == "succeeded"
        assert len(fake.chat_requests()) == 2
        spend = budget.spends.get()
        # The cut-off call's outcome is unknown (the provider may charge for it): billed at its reservation.
        cut_off, billed = CostEntry.objects.filter(run=run).order_by("attempt")
        assert (cut_off.attempt, cut_off.estimated, cut_off.cost) == (1, True, reserved)
        assert (spend.reserved, spend.spent, spend.calls) == (0, reserved + billed.cost, 2)
        assert (billed.attempt, billed.estimated) == (2, False)
    finally:
        fake.close()


@pytest.fixture
def refused_success():
    """Nodes "bad…" cannot be recorded as succeeded, as with a full disk or a lost connection."""
    with refusing("refuse_bad_success", "NEW.node_id LIKE 'bad%' AND NEW.status = 'succeeded'"):
        yield


@pytest.mark.usefixtures("refused_success")
def test_a_node_that_cannot_be_recorded_does_not_strand_the_others_of_its_message(workspace, server):
    server.default = Reply(delay_s=1)
    slow = [node(f"n{i}", "http_request", url=f"{server.url}/n{i}") for i in range(6)]
    instant = [node(f"bad{i}", "transform", fields={"n": i}) for i in range(2)]
    data = graph(TRIGGER, *instant, *slow, edges=[edge("start", each["id"]) for each in [*instant, *slow]])
    # The trigger's task takes one ready node on itself and sends the rest as one message, so
    # that message holds a "bad" node that lands at once while the slow ones are still running.
    worker = Worker(env={"ENGINE_DISPATCH_SPREAD": "1"}, lease_s=3)
    try:
        run = start(workspace, data)
        others = NodeRun.objects.filter(run=run, node_id__startswith="n")
        eventually(
            lambda: others.filter(status=NodeStatus.SUCCEEDED).count() == len(slow),
            timeout=20,
            message=lambda: f"the slow nodes were not recorded:\n{worker.output()[-3000:]}",
        )
        said = worker.output()
    finally:
        worker.stop()
    assert set(others.values_list("attempt", flat=True)) == {1}
    assert set(NodeRun.objects.filter(run=run, node_id__startswith="bad").values_list("status", flat=True)) == {
        NodeStatus.RUNNING
    }, "left running, for the reaper to take when their leases run out"
    assert said.count("could not record node bad") == 2


@pytest.fixture
def refused_renewal():
    """The first lease renewal asked for is refused, as during a failover; a renewal is the only
    update of a running node that leaves it running."""
    first = "OLD.status = 'running' AND NEW.status = 'running' AND nextval('renewals') = 1"
    with refusing("refuse_first_renewal", first, before="CREATE SEQUENCE renewals;", after="DROP SEQUENCE renewals"):
        yield


@pytest.mark.usefixtures("refused_renewal")
def test_a_lease_renewal_the_database_refuses_once_is_tried_again_at_the_next_beat(workspace, server):
    # Leases of 3 s renewed every second: a 2.5 s call sees two renewals, the first refused.
    server.default = Reply(delay_s=2.5)
    lookups = [node(f"n{i}", "http_request", url=f"{server.url}/n{i}") for i in range(3)]
    data = graph(TRIGGER, *lookups, edges=[edge("start", lookup["id"]) for lookup in lookups])
    worker = Worker(env={"ENGINE_DISPATCH_SPREAD": "1"}, lease_s=3)
    try:
        run = wait_for(start(workspace, data), timeout=20)
        said = worker.output()
    finally:
        worker.stop()
    assert run.status == "succeeded", said[-3000:]
    assert set(NodeRun.objects.filter(run=run, node_id__startswith="n").values_list("attempt", flat=True)) == {1}
    assert said.count("could not renew the lease") == 1


@pytest.fixture
def refused_first_attempt_renewals():
    """Attempt 1 of the node "answer" cannot renew its lease, as on a machine too slow to renew it in time."""
    first = "OLD.status = 'running' AND NEW.status = 'running' AND NEW.node_id = 'answer' AND NEW.attempt = 1"
    with refusing("refuse_first_attempt_renewals", first):
        yield


@pytest.mark.usefixtures("refused_first_attempt_renewals")
def test_a_callback_whose_lease_ran_out_in_flight_is_waited_for_not_posted_again(workspace, receiver):
    # The first attempt's POST is held by the receiver; its lease runs out meanwhile and the reaper
    # gives the node to attempt 2, while the first attempt's worker is alive and its call in flight.
    answered = threading.Event()
    receiver.default = Reply(held_until=answered)
    data = chain(TRIGGER, node("answer", "reply", answer="hi", callback_url=receiver.url + "/callback"))
    worker = Worker(beat=True, lease_s=2)
    try:
        run = start(workspace, data)
        eventually(
            lambda: len(receiver.requests("/callback")) > 1 or "waits for the outcome of effect" in worker.output(),
            timeout=30,
            message=lambda: f"attempt 2 never reached the callback:\n{worker.output()[-3000:]}",
        )
        answered.set()
        finished = wait_for(run, timeout=30)
        said = worker.output()
    finally:
        answered.set()
        worker.stop()
    assert len(receiver.requests("/callback")) == 1, "the callback was posted twice"
    assert finished.status == "succeeded", said[-3000:]
    assert history(run, "answer") == ["pending", "running", "crashed", "running", "succeeded"]
    effect = Effect.objects.get(run=run, node_id="answer")
    assert (effect.status, effect.attempts, effect.result) == (EffectStatus.DONE, 1, {"status": 200})
    assert "attempt 2 of node answer of run" in said
