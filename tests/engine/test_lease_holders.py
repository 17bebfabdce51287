"""A dead worker's leases are released as soon as its process stops beating, not when they run out."""

import os
import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import override_settings

from engine import holders, runs
from engine.models import NodeRun, RunEvent
from engine.registry import NodeResult
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import start, wait_for
from tests.eventually import eventually
from tests.fakes import Reply
from tests.private_services import RedisServer
from tests.workers import Worker

# Far longer than the tests wait: a node retried meanwhile was not retried because its lease ran out.
LONG_LEASE_S = 120
SILENCE_S = 2  # ENGINE_WORKER_SILENCE_SECONDS in this process's settings
# A worker process on another host (another pid space), and the same host and pid started again.
ELSEWHERE = "elsewhere:4242:1000:0123456789ab"
RESTARTED = "elsewhere:4242:2000:0123456789ab"
BEAT_S = SILENCE_S / holders.BEATS_PER_SILENCE


def history(node_run: NodeRun) -> list[tuple[str, int | None, str | None]]:
    events = RunEvent.objects.filter(run_id=node_run.run_id, node_id=node_run.node_id).order_by("seq")
    return [(e.type, e.payload.get("attempt"), e.payload.get("reason")) for e in events if e.type != "node.queued"]


def worker(pool: str) -> Worker:
    return Worker(pool=pool, concurrency=2, lease_s=LONG_LEASE_S, env={"ENGINE_WORKER_SILENCE_SECONDS": "1"})


def workers(pool: str) -> list[Worker]:
    """Threads: two workers, started side by side (each takes seconds). Prefork: one, with two pool processes."""
    if pool == "prefork":
        return [worker(pool)]
    with ThreadPoolExecutor(2) as starting:
        return list(starting.map(worker, [pool, pool]))


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("without_worker")
@pytest.mark.parametrize("pool", ["threads", "prefork"])
def test_it_retries_a_killed_workers_node_before_its_lease_runs_out(workspace, server, pool):
    """Threads: the worker running the node is SIGKILLed, and the other one's beat thread sees it stop beating.
    Prefork: only the pool process running the node is (Celery's parent sees a WorkerLostError); its
    beats stopped with it, and the pool process started in its place sees that."""
    server.queue.append(Reply(delay_s=20))
    started = workers(pool)
    try:
        run = start(workspace, chain(TRIGGER, node("fetch", "http_request", url=server.url + "/slow")))
        eventually(lambda: server.requests("/slow"), message="the node never sent its request")
        fetch = NodeRun.objects.get(run=run, node_id="fetch")
        holder = fetch.lease_owner.rpartition("/")[0]
        pid = int(holder.split(":")[1])
        if pool == "threads":
            [holding] = [w for w in started if w.process.pid == pid]
            holding.kill()
        else:
            assert pid != started[0].process.pid, "a pool process holds the lease, not the worker's main process"
            os.kill(pid, signal.SIGKILL)
        finished = wait_for(run, timeout=30)
    finally:
        for each in started:
            each.stop()
    fetch.refresh_from_db()
    assert finished.status == "succeeded"
    assert history(fetch) == [
        ("node.running", 1, None),
        ("node.crashed", 1, "worker_died"),
        ("node.running", 2, None),
        ("node.succeeded", None, None),
    ]
    assert fetch.attempt == 2
    assert not fetch.lease_owner.startswith(holder + "/")
    assert len(server.requests("/slow")) == 2


@pytest.fixture
def attempt(workspace) -> Iterator[runs.Claim]:
    """The trigger of a new run, claimed by the holder ELSEWHERE under a lease that lasts."""
    run = runs.start_run(runs.RunSource(workspace_id=workspace.pk, graph=chain(TRIGGER)), {}, runs.Options())
    trigger = NodeRun.objects.get(run=run, node_id="start")
    claim = runs.claim(trigger.pk, holders.owner_prefix(ELSEWHERE) + "batch", lease_s=LONG_LEASE_S)
    assert claim is not None
    yield claim
    holders.forget(ELSEWHERE)


@pytest.mark.django_db
@pytest.mark.usefixtures("without_worker")
@override_settings(ENGINE_WORKER_SILENCE_S=SILENCE_S)
def test_it_keeps_the_leases_of_a_worker_that_missed_a_beat(attempt):
    at = holders.beat(ELSEWHERE)
    assert holders.release_dead(now=at + 2 * BEAT_S) == 0, "one beat missed, the next one due"
    node_run = NodeRun.objects.get(pk=attempt.pk)
    assert (node_run.status, node_run.attempt, node_run.lease_owner) == ("running", 1, attempt.lease_owner)
    assert runs.heartbeat(attempt, LONG_LEASE_S)

    assert holders.release_dead(now=at + SILENCE_S + BEAT_S) == 1, "silent for longer than ENGINE_WORKER_SILENCE_S"
    node_run.refresh_from_db()
    assert (node_run.status, node_run.error["reason"]) == ("crashed", "worker_died")


@pytest.mark.django_db
@pytest.mark.usefixtures("without_worker")
@override_settings(ENGINE_WORKER_SILENCE_S=SILENCE_S)
def test_it_refuses_the_late_report_of_a_worker_found_dead(attempt):
    at = holders.beat(ELSEWHERE)
    assert holders.release_dead(now=at + SILENCE_S + BEAT_S) == 1
    assert holders.release_dead(now=at + SILENCE_S + BEAT_S) == 0, "released once"

    assert not runs.heartbeat(attempt, LONG_LEASE_S), "its lease is gone"
    assert not runs.succeed(attempt, NodeResult(output={"late": True})), "its outcome is fenced out"
    retried = runs.claim(attempt.pk, holders.owner_prefix(RESTARTED) + "batch", lease_s=LONG_LEASE_S)
    assert retried is not None
    assert retried.attempt == 2
    assert runs.succeed(retried, NodeResult(output={"on": "time"}))
    node_run = NodeRun.objects.get(pk=attempt.pk)
    assert (node_run.status, node_run.output) == ("succeeded", {"on": "time"})
    assert history(node_run) == [
        ("node.running", 1, None),
        ("node.crashed", 1, "worker_died"),
        ("node.running", 2, None),
        ("node.succeeded", None, None),
    ]


@pytest.mark.django_db
@pytest.mark.usefixtures("without_worker")
@override_settings(ENGINE_WORKER_SILENCE_S=SILENCE_S)
def test_it_tells_a_restarted_worker_from_its_dead_predecessor(workspace, attempt):
    """Same host, same pid (a container's worker restarted), another boot id: the new one keeps its nodes."""
    run = runs.start_run(runs.RunSource(workspace_id=workspace.pk, graph=chain(TRIGGER)), {}, runs.Options())
    theirs = runs.claim(
        NodeRun.objects.get(run=run, node_id="start").pk, holders.owner_prefix(RESTARTED) + "x", LONG_LEASE_S
    )
    assert theirs is not None
    at = holders.beat(ELSEWHERE)
    holders.beat(RESTARTED, now=at + SILENCE_S)
    try:
        assert holders.release_dead(now=at + SILENCE_S + BEAT_S) == 1
    finally:
        holders.forget(RESTARTED)
    assert NodeRun.objects.get(pk=attempt.pk).status == "crashed"
    assert NodeRun.objects.get(pk=theirs.pk).status == "running"


@pytest.mark.django_db
@pytest.mark.usefixtures("without_worker")
@override_settings(ENGINE_WORKER_SILENCE_S=SILENCE_S)
def test_it_finds_nobody_elsewhere_dead_just_after_redis_restarts(attempt):
    """While Redis was down nobody's beats landed: silence counts from its start, not from the last beat."""
    private = RedisServer()
    try:
        with override_settings(REDIS_URL=private.url):
            at = holders.beat(ELSEWHERE)
            private.stop()
            private.start()
            holders.beat(ELSEWHERE, now=at - 60)  # its beat from before the restart, as Redis kept it
            assert holders.dead_holders() == []
            dead = holders.dead_holders(now=at + 60)
            assert dead == [(ELSEWHERE, pytest.approx(at - 60))], "once Redis has been up a while"
    finally:
        private.stop()


@pytest.mark.django_db
@pytest.mark.usefixtures("without_worker")
@override_settings(ENGINE_WORKER_SILENCE_S=SILENCE_S)
def test_it_sees_a_process_of_its_own_host_die_at_once_and_never_judges_a_live_one_by_its_silence(attempt):
    """On one host /proc is the truth: a killed process is dead before it could miss a beat, and a live
    one that beat long ago (a process starved of CPU) is alive."""
    process = subprocess.Popen(["sleep", "60"])
    ours = holders.holder()
    theirs = ours.replace(f":{os.getpid()}:", f":{process.pid}:").rsplit(":", 2)[0]
    theirs = f"{theirs}:{holders._started(process.pid)}:{holders.pid_space()}"
    try:
        at = holders.beat(theirs)
        holders.beat(ours, now=at - 60)
        assert holders.dead_holders(now=at) == []
        process.kill()
        process.wait()
        assert holders.dead_holders(now=at) == [(theirs, pytest.approx(at))], "dead without a missed beat"
        assert holders.dead_holders(now=at + 60) == [], "this process is alive, silent or not"
    finally:
        process.kill()
        holders.forget(ours)
        holders.forget(theirs)
