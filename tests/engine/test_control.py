"""Cancel, retry from the failed node, and redelivery of finished work, on a real worker."""

import pytest

from engine import ledger, runs
from engine.dispatch import dispatch
from engine.models import Effect, EffectStatus, RunEvent
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import history, start, statuses, wait_for
from tests.engine.running import node as node_run
from tests.eventually import eventually
from tests.fakes import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]


def test_it_cancels_a_waiting_run(workspace):
    run = start(workspace, chain(TRIGGER, node("wait", "delay", seconds=30), node("after", "transform")))
    wait_for(run, {"waiting"}, timeout=5)
    assert runs.cancel_run(run)
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert statuses(run) == {"start": "succeeded", "wait": "cancelled", "after": "cancelled"}
    assert not runs.cancel_run(run), "an ended run cannot be cancelled again"


def test_it_cancels_a_running_node_and_its_worker_lets_go(workspace, server, celery_worker):
    server.default = Reply(delay_s=3)
    run = start(
        workspace, chain(TRIGGER, node("call", "http_request", url=server.url + "/slow"), node("after", "transform"))
    )
    eventually(lambda: node_run(run, "call").status == "running", timeout=5)
    runs.cancel_run(run)
    # Its task has ended (it let go at a lease renewal), so nothing can record the slow call's result now.
    celery_worker.settle()
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert statuses(run) == {"start": "succeeded", "call": "cancelled", "after": "cancelled"}
    assert history(run, "call") == ["pending", "running", "cancelled"]


def test_it_retries_from_the_failed_node_reusing_upstream_outputs(workspace, server):
    data = chain(
        TRIGGER,
        node("fetch", "http_request", url=server.url + "/fetch"),
        node("send", "http_request", method="POST", url=server.url + "/send", body={"n": "{{ nodes.fetch.status }}"}),
        node("answer", "reply", answer="sent"),
    )
    server.then(Reply(status=200), Reply(status=400))  # fetch works, the first send is refused
    run = wait_for(start(workspace, data))
    assert run.status == "failed"
    fetched_at = node_run(run, "fetch").finished_at

    assert runs.retry_from_failed(run)
    run = wait_for(run)
    assert run.status == "succeeded"
    assert len(server.requests("/fetch")) == 1, "the succeeded upstream node ran again"
    assert node_run(run, "fetch").finished_at == fetched_at
    assert history(run, "send") == ["pending", "running", "failed", "pending", "running", "succeeded"]
    assert run.output == {"answer": "sent"}
    assert not runs.retry_from_failed(run), "only failed or cancelled runs can be retried"


def test_a_redelivered_reply_does_not_post_twice(workspace, server, celery_worker):
    data = chain(TRIGGER, node("answer", "reply", answer="hi", callback_url=server.url + "/callback"))
    run = wait_for(start(workspace, data))
    reply = node_run(run, "answer")
    dispatch([reply.pk])  # Redis hands the same message out again
    celery_worker.settle()  # the copy has run
    assert len(server.requests("/callback")) == 1
    posted = server.requests("/callback")[0]
    assert posted.json() == {"run_id": run.pk, "answer": "hi"}
    assert posted.headers["Idempotency-Key"] == ledger.effect_key(run.pk, "answer", "callback")
    assert Effect.objects.get(run=run, node_id="answer").status == EffectStatus.DONE


def test_a_blocked_destination_fails_the_node_and_reaches_nothing(workspace, server):
    # No allowlist from the start: cleared after start(), the worker could call before the save.
    run = start(
        workspace,
        chain(TRIGGER, node("call", "http_request", url=server.url.replace("127.0.0.1", "localhost"))),
        allowlist=(),
    )
    run = wait_for(run)
    assert run.status == "failed"
    assert node_run(run, "call").error["code"] == "blocked_destination"
    assert server.requests() == []


def test_resume_wakes_a_waiting_node_once(workspace):
    run = start(workspace, chain(TRIGGER, node("wait", "delay", seconds=3600), node("after", "transform")))
    wait_for(run, {"waiting"}, timeout=5)
    waiting = node_run(run, "wait")
    assert runs.resume(waiting.pk, {"decision": "go"})
    assert not runs.resume(waiting.pk, {"decision": "again"}), "a second resume must not continue the run twice"
    run = wait_for(run)
    assert run.status == "succeeded"
    assert history(run, "wait") == ["pending", "running", "waiting", "running", "succeeded"]
    assert node_run(run, "wait").resume == {"decision": "go"}
    assert RunEvent.objects.filter(run=run, type="node.resumed").count() == 1
