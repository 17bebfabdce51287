"""Completion webhooks (signed, retried, logged) and inbound webhook triggers."""

import json
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from engine import reaper, webhooks
from engine.models import DeliveryStatus, Run, WebhookDelivery
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import start, wait_for
from tests.eventually import eventually
from tests.factories import WorkflowFactory, WorkflowVersionFactory
from tests.fakes import Reply

GRAPH = chain(TRIGGER, node("answer", "reply", answer="Re: {{ input.subject }}"))


def wait_for_delivery(delivery: WebhookDelivery, status: str, timeout: float = 15) -> WebhookDelivery:
    def reached() -> WebhookDelivery | None:
        delivery.refresh_from_db()
        return delivery if delivery.status == status else None

    return eventually(reached, timeout, message=lambda: f"delivery is {delivery.status}: {delivery.last_error}")


def test_signatures_check_secret_time_and_body():
    body = b'{"a": 1}'
    now = time.time()
    header = webhooks.sign("whsec_x", int(now), body)
    assert webhooks.verify("whsec_x", header, body, now=now)
    assert not webhooks.verify("whsec_y", header, body, now=now)
    assert not webhooks.verify("whsec_x", header, b'{"a": 2}', now=now)
    assert not webhooks.verify("whsec_x", header, body, now=now + 301)
    assert not webhooks.verify("whsec_x", "v1=deadbeef", body, now=now)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker")
class TestCompletion:
    def test_it_posts_a_signed_notice_when_the_run_ends(self, workspace, server):
        flow = WorkflowFactory(workspace=workspace, draft=GRAPH, completion_url=server.url + "/done")
        version = WorkflowVersionFactory(workflow=flow, number=1, graph=GRAPH)
        workspace.http_allowlist = ["127.0.0.1"]
        workspace.save()
        from builder.versions import run_version
        from engine.runs import Options

        run = wait_for(run_version(version, {"subject": "login"}, Options(), (server.url + "/extra",)))
        deliveries = list(WebhookDelivery.objects.filter(run=run).order_by("url"))
        assert [d.url for d in deliveries] == [server.url + "/done", server.url + "/extra"]
        for delivery in deliveries:
            wait_for_delivery(delivery, DeliveryStatus.DELIVERED)
        received = server.requests("/done")[0]
        secret = webhooks.signing_secret(workspace.pk)
        assert webhooks.verify(secret, received.headers["X-Switchyard-Signature"], received.body)
        notice = received.json()
        assert notice["id"] == received.headers["X-Switchyard-Event-Id"] == str(deliveries[0].event_id)
        assert (notice["type"], notice["run"]["id"], notice["run"]["status"]) == ("run.ended", run.pk, "succeeded")
        assert notice["run"]["output"] == {"answer": "Re: login"}

    def test_it_retries_a_failed_delivery_with_the_same_event_id(self, workspace, server):
        server.then(Reply(status=503))
        run = wait_for(start(workspace, GRAPH, {"subject": "x"}))
        Run.objects.filter(pk=run.pk).update(callback_urls=[server.url + "/hook"])
        run.refresh_from_db()
        # The run ended before the callback was set: queue its notice as the engine would.
        webhooks.queue(run, timezone.now())
        delivery = WebhookDelivery.objects.get(run=run)
        assert not webhooks.deliver(delivery.pk)
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 503)
        assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=5)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())  # time passes
        assert reaper.reap()["notices"] == 1
        delivery = wait_for_delivery(delivery, DeliveryStatus.DELIVERED)
        assert delivery.attempts == 2
        ids = {r.headers["X-Switchyard-Event-Id"] for r in server.requests("/hook")}
        assert ids == {str(delivery.event_id)}

    def test_it_gives_up_after_the_last_attempt_and_keeps_the_error(self, workspace, server):
        server.default = Reply(status=500)
        run = wait_for(start(workspace, GRAPH, {"subject": "x"}))
        Run.objects.filter(pk=run.pk).update(callback_urls=[server.url + "/down"])
        run.refresh_from_db()
        webhooks.queue(run, timezone.now())
        delivery = WebhookDelivery.objects.get(run=run)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=webhooks.MAX_ATTEMPTS - 1)
        webhooks.deliver(delivery.pk)
        delivery.refresh_from_db()
        assert (delivery.status, delivery.last_error) == ("failed", "the receiver answered 500")

    def test_it_refuses_a_private_callback_without_the_allowlist(self, workspace, server):
        run = wait_for(start(workspace, GRAPH, {"subject": "x"}, allowlist=()))
        Run.objects.filter(pk=run.pk).update(callback_urls=[server.url + "/x"])
        run.refresh_from_db()
        webhooks.queue(run, timezone.now())
        delivery = WebhookDelivery.objects.get(run=run)
        webhooks.deliver(delivery.pk)
        delivery.refresh_from_db()
        assert "loopback" in delivery.last_error
        assert server.requests() == []


def test_the_run_page_lists_its_deliveries(owner, login_as):
    from tests.factories import RunFactory

    run = RunFactory(workspace=owner.workspace)
    WebhookDelivery.objects.create(
        run=run,
        url="https://example.com/hook",
        event_id="7d3f1c2e-0000-4000-8000-000000000000",
        status="failed",
        attempts=8,
        last_error="the receiver answered 500",
    )
    page = login_as(owner).get(f"/runs/{run.pk}/").content.decode()
    assert "https://example.com/hook" in page
    assert 'data-delivery-status="failed"' in page
    assert "the receiver answered 500" in page


@pytest.fixture
def hook(owner, login_as):
    flow = WorkflowFactory(workspace=owner.workspace, name="Inbound", draft=GRAPH)
    WorkflowVersionFactory(workflow=flow, number=1, graph=GRAPH)
    made = login_as(owner).post_json(
        f"/api/v1/workflows/{flow.pk}/webhook", {"input_mapping": {"subject": "{{ input.title }}"}}
    )
    assert made.status_code == 201
    return made.json()


def post_signed(url: str, body: dict, secret: str, skew: int = 0):
    raw = json.dumps(body).encode()
    signature = webhooks.sign(secret, int(time.time()) + skew, raw)
    return Client().post(url, raw, content_type="application/json", headers={"X-Switchyard-Signature": signature})


def test_a_signed_webhook_starts_a_run_with_the_mapped_input(hook):
    response = post_signed(hook["url"], {"title": "Printer on fire"}, hook["signing_secret"])
    assert response.status_code == 202
    run = Run.objects.get(pk=response.json()["id"])
    assert (run.trigger_kind, run.input) == ("webhook", {"subject": "Printer on fire"})


def test_it_refuses_unsigned_forged_and_stale_requests(hook):
    assert Client().post(hook["url"], {"title": "x"}, content_type="application/json").status_code == 401
    assert post_signed(hook["url"], {"title": "x"}, "whsec_wrong").status_code == 401
    assert post_signed(hook["url"], {"title": "x"}, hook["signing_secret"], skew=-600).status_code == 401
    assert not Run.objects.exists()


def test_it_names_the_problem_with_a_bad_body_or_unknown_hook(hook):
    raw = b"not json"
    signature = webhooks.sign(hook["signing_secret"], int(time.time()), raw)
    bad = Client().post(
        hook["url"], raw, content_type="application/json", headers={"X-Switchyard-Signature": signature}
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["message"].startswith("body: not JSON")
    assert Client().post("/api/v1/hooks/nope", {}, content_type="application/json").status_code == 404


def test_the_hook_url_is_shown_without_its_secret_and_can_be_removed(owner, hook, login_as):
    from builder.models import Workflow

    client = login_as(owner)
    workflow_id = Workflow.objects.get(name="Inbound").pk
    shown = client.get(f"/api/v1/workflows/{workflow_id}/webhook").json()
    assert shown["url"] == hook["url"]
    assert shown["signing_secret"] is None
    assert (
        client.delete(
            f"/api/v1/workflows/{workflow_id}/webhook", headers={"X-CSRFToken": client.csrf_token()}
        ).status_code
        == 204
    )
    assert Client().post(hook["url"], {}, content_type="application/json").status_code == 404


def test_a_mapping_with_a_bad_template_is_refused_naming_its_path(owner, login_as):
    flow = WorkflowFactory(workspace=owner.workspace, draft=GRAPH)
    response = login_as(owner).post_json(
        f"/api/v1/workflows/{flow.pk}/webhook", {"input_mapping": {"a": {"b": "{{ secrets.x }}"}}}
    )
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("input_mapping.a.b: ")
