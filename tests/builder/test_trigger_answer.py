"""The API trigger answers before its run's node message leaves: the caller does not wait for the broker."""

import asyncio
import json
from typing import Any

import pytest

from accounts import tokens
from accounts.models import Scope
from config.asgi import application
from engine.models import NodeRun
from tests.engine.graphs import TRIGGER, chain, node
from tests.factories import WorkflowFactory, WorkflowVersionFactory
from tests.workers import queued_messages

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("without_worker")]

GRAPH = chain(TRIGGER, node("shape", "transform", fields={"ok": True}))


def call(path: str, secret: str, on_answer: Any) -> list[dict[str, Any]]:
    """POST `path` through the production ASGI application, calling `on_answer()` as its answer's last part is
    sent; the ASGI messages it sent."""
    incoming = [{"type": "http.request", "body": json.dumps({"input": {}}).encode(), "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop(0)
        await asyncio.Event().wait()  # the caller stays connected
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body"):
            on_answer()
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"localhost"),
            (b"authorization", f"Bearer {secret}".encode()),
            (b"content-type", b"application/json"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
    }
    asyncio.run(application(scope, receive, send))
    return sent


def test_the_answer_leaves_before_the_node_message(owner):
    flow = WorkflowFactory(workspace=owner.workspace, name="Hook", draft=GRAPH)
    WorkflowVersionFactory(workflow=flow, number=1, graph=GRAPH)
    secret = tokens.issue(owner.workspace, owner.user, "ci", [Scope.RUNS_TRIGGER.value], None).secret
    before = queued_messages()
    at_answer: list[int] = []

    sent = call(f"/api/v1/workflows/{flow.pk}/runs", secret, lambda: at_answer.append(queued_messages()))

    assert sent[0]["status"] == 202
    run_id = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))["id"]
    assert at_answer == [before], "the node message had left before the answer"
    assert queued_messages() == before + 1, "the node message left once the request finished"
    trigger = NodeRun.objects.get(run_id=run_id, node_id=TRIGGER["id"])
    assert trigger.dispatched_at is not None  # stamped as sent: the reaper leaves it to its message
