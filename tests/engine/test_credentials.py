"""A provider's API key reaches the provider and nowhere else: no API answer, page, log line, event or run data."""

import logging

import pytest

from accounts.models import AuditEntry
from engine.models import CostEntry, NodeRun, Run, RunEvent
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import start, wait_for
from tests.factories import ModelPriceFactory
from tests.fake_openai import Failure, FakeOpenAI

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]

CANARY = "sk-canary-7f3c9e1d2b"


def test_it_never_shows_the_api_key_anywhere(owner, login_as, celery_worker, caplog):
    caplog.set_level(logging.DEBUG)
    ModelPriceFactory()
    fake = FakeOpenAI()
    fake.failures = [Failure(401, message="bad key"), Failure(500)]
    owner.workspace.http_allowlist = ["127.0.0.1"]  # the fake server's address; the guard refuses loopback otherwise
    owner.workspace.save(update_fields=["http_allowlist"])
    client = login_as(owner)
    try:
        created = client.post_json(
            "/api/v1/provider-configs",
            {"name": "fake", "base_url": fake.url, "chat_models": ["gpt-test"], "api_key": CANARY},
        )
        draft = node("draft", "generate", provider="fake", model="gpt-test", prompt="hi")
        failed = wait_for(start(owner.workspace, chain(TRIGGER, draft)))
        succeeded = wait_for(start(owner.workspace, chain(TRIGGER, draft)))
    finally:
        fake.close()

    assert created.status_code == 201
    assert (failed.status, succeeded.status) == ("failed", "succeeded")
    assert all(seen.headers["authorization"] == f"Bearer {CANARY}" for seen in fake.seen)
    answers = [
        created,
        client.get("/api/v1/provider-configs"),
        client.get("/api/v1/providers"),
        client.get(f"/api/v1/runs/{failed.pk}"),
        client.get(f"/api/v1/runs/{succeeded.pk}"),
        client.get(f"/api/v1/runs/{failed.pk}/events"),
        client.get("/accounts/settings/providers/"),
        client.get(f"/accounts/settings/providers/{created.json()['id']}/"),
        client.get(f"/runs/{failed.pk}/"),
        client.get(f"/runs/{succeeded.pk}/"),
        client.get("/accounts/settings/audit/"),
    ]
    for answer in answers:
        assert answer.status_code in {200, 201}, answer.request["PATH_INFO"]
        assert CANARY not in answer.content.decode(), answer.request["PATH_INFO"]
    stored = [
        *RunEvent.objects.values_list("payload", flat=True),
        *NodeRun.objects.values_list("input", "output", "error", "usage"),
        *Run.objects.values_list("input", "output", "graph"),
        *CostEntry.objects.values_list("provider", "model"),
        *AuditEntry.objects.values_list("details", flat=True),
    ]
    assert CANARY not in str(stored)
    assert CANARY not in celery_worker.output()
    assert CANARY not in caplog.text
