"""The API trigger and an inbound webhook answer before their run's node message leaves: the caller does not wait
for the broker (builder.api.send_held)."""

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from accounts import tokens
from accounts.models import Scope
from config.asgi import application
from engine import webhooks
from engine.models import NodeRun
from tests import asgi_calls
from tests.engine.graphs import TRIGGER, chain, node
from tests.factories import WorkflowFactory, WorkflowVersionFactory
from tests.workers import queued_messages

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("without_worker")]

GRAPH = chain(TRIGGER, node("shape", "transform", fields={"ok": True}))


def published(member):
    flow = WorkflowFactory(workspace=member.workspace, name="Hook", draft=GRAPH)
    WorkflowVersionFactory(workflow=flow, number=1, graph=GRAPH)
    return flow


def post(path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any], list[int]]:
    """POST through the production ASGI application: the answer's status and body, and the node messages queued
    in the broker as the answer's last part was sent."""
    queued_at_answer: list[int] = []

    def on_message(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body"):
            queued_at_answer.append(queued_messages())

    headers = {"content-type": "application/json", **headers}
    sent = asyncio.run(asgi_calls.request(application, "POST", path, headers, body, on_message))
    answer = json.loads(b"".join(message.get("body", b"") for message in sent[1:]))
    return sent[0]["status"], answer, queued_at_answer


def assert_sent_after_the_answer(before: int, status: int, answer: dict[str, Any], queued_at_answer: list[int]):
    assert status == 202, answer
    assert queued_at_answer == [before], "the node message had left before the answer"
    assert queued_messages() == before + 1, "the node message left once the request finished"
    first = NodeRun.objects.get(run_id=answer["id"], node_id="shape")  # the trigger was done at the start
    assert first.dispatched_at is not None  # stamped as sent: the reaper leaves it to its message


def test_the_api_trigger_answers_before_its_node_message_leaves(owner):
    flow = published(owner)
    secret = tokens.issue(owner.workspace, owner.user, "ci", [Scope.RUNS_TRIGGER.value], None).secret
    before = queued_messages()

    status, answer, queued_at_answer = post(
        f"/api/v1/workflows/{flow.pk}/runs", b'{"input": {}}', {"Authorization": f"Bearer {secret}"}
    )

    assert_sent_after_the_answer(before, status, answer, queued_at_answer)


def test_an_inbound_webhook_answers_before_its_node_message_leaves(owner, login_as):
    flow = published(owner)
    hook = login_as(owner).post_json(f"/api/v1/workflows/{flow.pk}/webhook", {}).json()
    raw = b'{"title": "Printer on fire"}'
    signature = webhooks.sign(hook["signing_secret"], int(time.time()), raw)
    before = queued_messages()

    status, answer, queued_at_answer = post(urlsplit(hook["url"]).path, raw, {"X-Switchyard-Signature": signature})

    assert_sent_after_the_answer(before, status, answer, queued_at_answer)
