"""AI nodes through the fake server, on a worker logging at DEBUG: self-rating, extraction, the key kept out."""

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from config.celery import app
from engine.models import CostEntry, Run, RunEvent
from tests.accounts.test_consumers import connect as connect_workspace
from tests.accounts.test_consumers import session_cookie
from tests.engine.graphs import TRIGGER, chain, edge, graph, node
from tests.engine.running import node as node_run
from tests.engine.running import start, wait_for
from tests.engine.test_consumers import connect as connect_run
from tests.engine.test_credentials import CANARY
from tests.factories import ProviderConfigFactory
from tests.fake_openai import Failure
from tests.workers import Worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]

ENDED_EVENTS = {"run.succeeded", "run.failed", "run.cancelled"}


@pytest.fixture(scope="module")
def worker_process(django_db_setup: None, django_db_blocker: object) -> Iterator[Worker]:
    """This module's worker logs everything down to DEBUG, so a leaked key would be in its output."""
    app.control.purge()
    worker = Worker(loglevel="DEBUG")
    yield worker
    worker.stop()


def checked(retrieval_score: float) -> dict[str, Any]:
    """A confidence check on the top retrieval score and the fake model's rating of the draft, then pass or fail."""
    check = node(
        "check",
        "confidence_check",
        retrieval_score="{{ input.score }}",
        min_retrieval_score=0.5,
        threshold=0.7,
        self_rating={
            "provider": "fake",
            "model": "gpt-test",
            "draft": "{{ input.draft }}",
            "request": "{{ input.body }}",
        },
    )
    return graph(
        TRIGGER,
        check,
        node("send", "transform", fields={"sent": True}),
        node("review", "transform", fields={"sent": False}),
        edges=[edge("start", "check"), edge("check", "send", "pass"), edge("check", "review", "fail")],
    )


@pytest.mark.parametrize(
    ("retrieval_score", "handle", "score", "reasons"),
    [
        (0.8, "pass", 0.85, ["all checks passed"]),
        (
            0.3,
            "fail",
            0.6,
            ["retrieval_score 0.30 is below 0.50", "score 0.60 is below the threshold 0.70"],
        ),
    ],
    ids=["above", "below"],
)
def test_it_weighs_the_models_self_rating_with_the_top_retrieval_score(
    workspace, provider, price, fake, retrieval_score, handle, score, reasons
):
    fake.answers = ['{"rating": 0.9}']
    given = {"score": retrieval_score, "draft": "It ships today.", "body": "Where is my parcel?"}

    run = wait_for(start(workspace, checked(retrieval_score), given))

    assert run.status == "succeeded", node_run(run, "check").error
    check = node_run(run, "check")
    assert check.handle == handle
    assert check.output["score"] == pytest.approx(score)
    assert check.output["reasons"] == reasons
    assert check.output["passed"] is (handle == "pass")
    assert check.output["signals"] == {"retrieval_score": retrieval_score, "self_rating": 0.9}
    taken, skipped = ("send", "review") if handle == "pass" else ("review", "send")
    assert (node_run(run, taken).status, node_run(run, skipped).status) == ("succeeded", "skipped")
    [asked] = fake.chat_requests()
    assert asked.body["messages"][-1]["content"] == "Request:\nWhere is my parcel?\n\nDraft:\nIt ships today."
    assert asked.body["response_format"]["json_schema"]["schema"]["required"] == ["rating"]
    entry = CostEntry.objects.get(run=run)
    assert (entry.node_type, entry.cost) == ("confidence_check", Decimal("0.007500"))
    assert check.usage["calls"][0]["response"] == '{"rating": 0.9}'


def test_it_extracts_fields_with_a_json_schema_from_a_remote_model(workspace, provider, price, fake):
    fields = {
        "type": "object",
        "properties": {"order_id": {"type": "integer"}, "email": {"type": "string"}},
        "required": ["order_id", "email"],
    }
    fake.answers = ['{"order_id": 1042, "email": "ann@example.com"}']
    read = node(
        "read",
        "extract",
        provider="fake",
        model="gpt-test",
        text="{{ input.body }}",
        fields=fields,
        instructions="Ignore the signature.",
    )
    body = "Hello, my order 1042 has not arrived. Write to ann@example.com\n-- Ann, sent from my phone"

    run = wait_for(start(workspace, chain(TRIGGER, read), {"body": body}))

    assert run.status == "succeeded", node_run(run, "read").error
    output = node_run(run, "read").output
    assert (output["fields"], output["provider"], output["model"]) == (
        {"order_id": 1042, "email": "ann@example.com"},
        "fake",
        "gpt-test",
    )
    [asked] = fake.chat_requests()
    assert asked.body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": fields, "strict": False},
    }
    system, user = asked.body["messages"]
    assert system["role"] == "system"
    assert "Ignore the signature." in system["content"]
    assert user == {"role": "user", "content": body}
    assert CostEntry.objects.get(run=run).node_type == "extract"


def test_it_keeps_the_api_key_out_of_debug_logs_and_live_messages(owner, fake, celery_worker):
    ProviderConfigFactory(workspace=owner.workspace, name="fake", base_url=fake.url, api_key=CANARY)
    fake.latency_s = 0.5  # long enough for the run's socket to join before the node ends, so events arrive live
    fake.failures = [Failure(401, message="bad key"), Failure(500)]
    data = chain(TRIGGER, node("draft", "generate", provider="fake", model="gpt-test", prompt="hi"))
    cookie = session_cookie(owner)

    async def watch() -> tuple[Run, list[Any], list[Any]]:
        """Start a run with the workspace's socket open, join the run's socket, and read both until the run ends."""
        workspace_socket = connect_workspace(cookie)
        assert (await workspace_socket.connect())[0]
        workspace_messages = [await workspace_socket.receive_json_from(timeout=5)]
        run = await database_sync_to_async(start)(owner.workspace, data)
        run_socket = connect_run(cookie, run.pk)
        assert (await run_socket.connect())[0]
        run_messages = [await run_socket.receive_json_from(timeout=5)]
        while run_messages[-1].get("event") not in ENDED_EVENTS:
            run_messages.append(await run_socket.receive_json_from(timeout=30))
        while workspace_messages[-1].get("status") not in {"succeeded", "failed", "cancelled"}:
            workspace_messages.append(await workspace_socket.receive_json_from(timeout=30))
        await run_socket.disconnect()
        await workspace_socket.disconnect()
        return run, run_messages, workspace_messages

    failed, failed_run_messages, failed_workspace_messages = async_to_sync(watch)()
    succeeded, succeeded_run_messages, succeeded_workspace_messages = async_to_sync(watch)()

    assert (wait_for(failed).status, wait_for(succeeded).status) == ("failed", "succeeded")
    assert [seen.headers["authorization"] for seen in fake.seen] == [f"Bearer {CANARY}"] * 3
    assert "fake answered 401: bad key" in str(failed_run_messages)
    assert failed_run_messages[-1]["event"] == "run.failed"
    assert succeeded_run_messages[-1]["event"] == "run.succeeded"
    assert failed_workspace_messages[-1]["status"] == "failed"
    assert succeeded_workspace_messages[-1]["status"] == "succeeded"
    messages = [failed_run_messages, failed_workspace_messages, succeeded_run_messages, succeeded_workspace_messages]
    assert CANARY not in str(messages)
    assert CANARY not in str(list(RunEvent.objects.values_list("type", "payload")))
    log = celery_worker.output()
    # The SDK's and the HTTP client's own lines about each request were logged, and kept no key.
    assert "DEBUG openai._base_client: Sending HTTP Request: POST" in log
    assert "HTTP Request: POST " in log
    assert CANARY not in log
