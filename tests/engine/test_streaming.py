"""A generate node's answer streamed from a fake OpenAI-compatible server to a real run socket."""

import threading
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from engine.event_types import EventType, LiveMessage
from engine.models import BudgetHold, CostEntry, NodeStatus
from tests.accounts.test_consumers import session_cookie
from tests.engine.graphs import TRIGGER, chain, generate
from tests.engine.running import node, start, wait_for
from tests.engine.test_consumers import connect
from tests.sockets import Socket

pytestmark = pytest.mark.django_db(transaction=True)

ANSWER = "Your parcel left the depot this morning and arrives tomorrow."


async def next_delta(socket: Socket, seen: list[dict[str, Any]]) -> dict[str, Any]:
    """The next text delta; the events passed on the way are kept in `seen`."""
    while True:
        message = await socket.receive_json_from(timeout=10)
        if message["type"] == LiveMessage.TEXT_DELTA:
            return message
        seen.append(message)


async def until_event(socket: Socket, event: str, node_id: str, seen: list[dict[str, Any]]) -> None:
    while not any(m.get("event") == event and m.get("node_id") == node_id for m in seen):
        message = await socket.receive_json_from(timeout=10)
        assert message["type"] == "event", "no delta may follow the answer's last word"
        seen.append(message)


def test_the_answer_reaches_the_run_socket_word_by_word_before_the_node_ends(
    owner, workspace, provider, price, fake, celery_worker
):
    fake.answers = [ANSWER]
    fake.gate = threading.Semaphore(0)
    words = ANSWER.split(" ")
    cookie = session_cookie(owner)
    run = start(workspace, chain(TRIGGER, generate()), {"body": "Where is my parcel?"})

    async def scenario() -> tuple[list[dict[str, Any]], list[str]]:
        socket = connect(cookie, run.pk)
        assert (await socket.connect())[0]
        seen: list[dict[str, Any]] = []
        deltas = []
        statuses_before_last = []
        for number in range(len(words)):
            if number == len(words) - 1:
                found = await database_sync_to_async(node)(run, "draft")
                statuses_before_last.append(found.status)
            # One word at a time, each only after the one before reached the socket.
            fake.gate.release()
            deltas.append(await next_delta(socket, seen))
        assert not any(m.get("event") == EventType.NODE_SUCCEEDED and m["node_id"] == "draft" for m in seen)
        await until_event(socket, EventType.NODE_SUCCEEDED, "draft", seen)
        await socket.disconnect()
        return deltas, statuses_before_last

    deltas, statuses_before_last = async_to_sync(scenario)()

    assert statuses_before_last == [NodeStatus.RUNNING]
    assert len(deltas) == len(words) > 2
    assert [d["text"] for d in deltas] == [f"{word} " for word in words[:-1]] + [words[-1]]
    assert [d["offset"] for d in deltas] == [sum(len(d["text"]) for d in deltas[:i]) for i in range(len(deltas))]
    assert {(d["node_id"], d["attempt"]) for d in deltas} == {("draft", 1)}
    finished = wait_for(run)
    assert finished.status == "succeeded"
    drafted = node(finished, "draft")
    assert drafted.output["text"] == "".join(d["text"] for d in deltas) == ANSWER
    request = fake.chat_requests()[0].body
    assert (request["stream"], request["stream_options"]) == (True, {"include_usage": True})
    # Billed from the usage in the last chunk, exactly as an answer sent whole.
    entry = CostEntry.objects.get(run=finished)
    assert (entry.tokens_in, entry.tokens_out, entry.cost, entry.call) == (1000, 500, Decimal("0.007500"), 0)
    assert drafted.usage["calls"][0]["response"] == ANSWER
    assert not BudgetHold.objects.filter(run_id=finished.pk).exists()
