"""GET /api/v1/runs/{id}/stream: Server-Sent Events over the production ASGI server, from a real worker's runs."""

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from accounts import tokens
from engine.event_types import EventType
from engine.models import Run, RunEvent
from tests.engine.graphs import TRIGGER, chain, generate, node
from tests.engine.running import start, wait_for
from tests.factories import WorkflowFactory, WorkflowVersionFactory

pytestmark = pytest.mark.django_db(transaction=True)

ANSWER = "Your parcel left the depot this morning."


def token(member: Any, scopes: tuple[str, ...] = ("runs:read",)) -> dict[str, str]:
    issued = tokens.issue(member.workspace, member.user, "sse", list(scopes), None)
    return {"Authorization": f"Bearer {issued.secret}"}


def messages(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """SSE messages as {"id", "event", "data"} (comments skipped), as a client library parses them."""
    message: dict[str, Any] = {}
    for line in lines:
        if not line:
            if "data" in message:
                yield {**message, "data": json.loads(message["data"])}
            message = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(": ")
            message[field] = value


def read_until(
    client: httpx.Client,
    url: str,
    headers: dict[str, str],
    stop: str,
    seen: Callable[[dict[str, Any]], None] = lambda message: None,
) -> list[dict[str, Any]]:
    """The messages of one connection, each passed to `seen`, up to and including the first of kind `stop`;
    then the connection is dropped."""
    got = []
    with client.stream("GET", url, headers=headers) as answer:
        assert answer.status_code == 200, answer.read()
        assert answer.headers["content-type"].startswith("text/event-stream")
        for message in messages(answer.iter_lines()):
            got.append(message)
            seen(message)
            if message["event"] == stop:
                break
    return got


def test_it_streams_deltas_then_resumes_after_a_dropped_connection_with_the_events_missed(
    owner, workspace, provider, price, fake, celery_worker, asgi_server
):
    fake.answers = [ANSWER]
    fake.gate = threading.Semaphore(0)
    run = start(workspace, chain(TRIGGER, generate()), {"body": "Where is my parcel?"})
    url = f"{asgi_server}/api/v1/runs/{run.pk}/stream"
    headers = token(owner)

    def first_word_once_running(message: dict[str, Any]) -> None:
        # The stream joined the run's group before it read this event: the first word's delta cannot pass it by.
        if message["data"].get("event") == EventType.NODE_RUNNING and message["data"]["node_id"] == "draft":
            fake.gate.release()

    with httpx.Client(timeout=20) as client:
        first = read_until(client, url, headers, "text.delta", first_word_once_running)
        fake.gate.release(len(ANSWER.split()))
        finished = wait_for(run)
        last_seen = max(int(m["id"]) for m in first if "id" in m)
        resumed = read_until(client, url, {**headers, "Last-Event-ID": str(last_seen)}, "end")

    assert first[-1]["data"] == {"type": "text.delta", "node_id": "draft", "attempt": 1, "offset": 0, "text": "Your "}
    assert [m["event"] for m in first[:-1]] == ["event"] * (len(first) - 1)
    assert [int(m["id"]) for m in first[:-1]] == list(range(1, last_seen + 1))
    # Exactly the events after the last one seen, the stored answer among them; no delta replayed.
    assert [m["event"] for m in resumed] == ["event"] * (len(resumed) - 1) + ["end"]
    assert [int(m["id"]) for m in resumed[:-1]] == list(range(last_seen + 1, finished.last_seq + 1))
    assert resumed[-1]["data"] == {"status": "succeeded", "last_seq": finished.last_seq}
    stored = list(RunEvent.objects.filter(run=run, seq__gt=last_seen).order_by("seq"))
    assert [m["data"]["event"] for m in resumed[:-1]] == [event.type for event in stored]
    assert any(m["data"]["event"] == EventType.NODE_SUCCEEDED and m["data"]["node_id"] == "draft" for m in resumed)


def test_it_refuses_another_workspaces_run_and_a_token_without_the_scope(
    owner, outsider, workspace, celery_worker, asgi_server
):
    run = wait_for(start(workspace, chain(TRIGGER), {}))
    url = f"{asgi_server}/api/v1/runs/{run.pk}/stream"

    with httpx.Client(timeout=20) as client:
        theirs = client.get(url, headers=token(outsider))
        unscoped = client.get(url, headers=token(owner, ("knowledge:read",)))
        ended = read_until(client, url, token(owner), "end")

    assert theirs.status_code == 404
    assert unscoped.status_code == 403
    assert [int(m["id"]) for m in ended[:-1]] == list(range(1, run.last_seq + 1))
    assert ended[-1]["data"] == {"status": "succeeded", "last_seq": run.last_seq}


def test_the_trigger_answers_with_the_stream_when_asked(owner, workspace, celery_worker, asgi_server):
    graph = chain(TRIGGER, generate(provider="builtin", model="builtin-extractive"))
    workflow = WorkflowFactory(workspace=workspace, draft=graph)
    WorkflowVersionFactory(workflow=workflow, graph=graph)
    url = f"{asgi_server}/api/v1/workflows/{workflow.pk}/runs"
    body = {"input": {"body": "Where is my parcel?"}, "stream": True}

    with httpx.Client(timeout=20) as client:
        trigger_only = client.post(url, json=body, headers=token(owner, ("runs:trigger",)))
        with client.stream("POST", url, json=body, headers=token(owner, ("runs:trigger", "runs:read"))) as answer:
            location = answer.headers["location"]
            got = list(messages(answer.iter_lines()))

    assert trigger_only.status_code == 403
    assert "runs:read" in trigger_only.json()["error"]["message"]
    run = Run.objects.get(pk=int(location.rsplit("/", 1)[1]))
    assert run.status == "succeeded"
    assert [int(m["id"]) for m in got if m["event"] == "event"] == list(range(1, run.last_seq + 1))
    assert got[-1] == {"event": "end", "data": {"status": "succeeded", "last_seq": run.last_seq}}
    deltas = "".join(m["data"]["text"] for m in got if m["event"] == "text.delta")
    assert run.node_runs.get(node_id="draft").output["text"].startswith(deltas)


def test_a_stream_ends_when_its_token_is_revoked(owner, workspace, asgi_server):
    run = start(workspace, chain(TRIGGER, node("pause", "delay", seconds=600)))
    issued = tokens.issue(owner.workspace, owner.user, "sse", ["runs:read"], None)
    headers = {"Authorization": f"Bearer {issued.secret}"}

    def revoke_once_following(message: dict[str, Any]) -> None:
        if message["event"] == "event" and int(message["id"]) == 1:
            tokens.revoke(issued.token, by=owner.user)

    with httpx.Client(timeout=30) as client:
        got = read_until(client, f"{asgi_server}/api/v1/runs/{run.pk}/stream", headers, "end", revoke_once_following)

    assert got[-1]["data"]["status"] == "forbidden"
    assert Run.objects.get(pk=run.pk).status not in ("succeeded", "failed", "cancelled")
