"""A worker's prompts while it claims a node and runs the cheap chain after it (engine.live.held).

The claim's prompt and the chain's go as one, so the run's viewers get the same events from
fewer messages; a node that starts on a node thread has its "running" prompt sent before it
runs, never held until it ends. Over the real channel layer, with the worker's own code in
this process.
"""

import asyncio
import json
import threading
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import channel_layers
from django.conf import settings

from engine import live, runner
from engine.event_types import EventType
from engine.models import RunEvent
from tests.engine.channel_receiver import committed, subscribed
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import sent_at_start, start
from tests.fakes import Reply

pytestmark = [
    pytest.mark.skipif(settings.EMBEDDED, reason="the Redis channel layer; the embedded mode has its own"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("without_worker"),
]

RECEIVE_S = 10  # a bound for a stuck test, never a measurement


async def until(layer: Any, channel: str, done: Any) -> list[dict[str, Any]]:
    """The messages `channel` receives, up to the first for which `done(message)` is true."""
    received: list[dict[str, Any]] = []
    while not received or not done(received[-1]):
        received.append(await asyncio.wait_for(layer.receive(channel), RECEIVE_S))
    return received


def hints(messages: list[dict[str, Any]]) -> list[tuple[int, int, int]]:
    """Each run prompt as (first, seq, events carried)."""
    return [(m["first"], m["seq"], len(m["events"])) for m in messages if m["type"] == "run.hint"]


def statuses(messages: list[dict[str, Any]]) -> list[str]:
    return [m["payload"]["status"] for m in messages if m["type"] == "workspace.event"]


def test_the_claim_and_the_cheap_chain_after_it_reach_viewers_as_one_prompt(workspace):
    shape, say = node("shape", "transform", fields={"n": 1}), node("say", "reply", answer="hi")
    run = start(workspace, chain(TRIGGER, shape, say))
    first, [sent] = run.last_seq + 1, sent_at_start(run)

    async def scenario() -> list[dict[str, Any]]:
        layer = channel_layers.make_backend("default")
        channel = await subscribed(layer, live.run_group(run.pk), live.workspace_group(workspace.pk))
        await sync_to_async(runner.execute)([sent])
        return await until(layer, channel, lambda m: m.get("payload", {}).get("status") == "succeeded")

    received = async_to_sync(scenario)()

    run.refresh_from_db()
    assert run.status == "succeeded"
    stored = list(RunEvent.objects.filter(run=run, seq__gte=first).order_by("seq").values_list("seq", "type"))
    assert hints(received) == [(first, run.last_seq, len(stored))], "one prompt, every event from the claim on"
    [hint] = [m for m in received if m["type"] == "run.hint"]
    assert [(e["seq"], e["event"]) for e in map(json.loads, hint["events"])] == stored
    assert statuses(received) == ["succeeded"], "the workspace's lists get the status the run ended in"


def test_a_node_that_runs_on_a_node_thread_is_shown_running_while_it_runs(workspace, server):
    answered = threading.Event()
    server.default = Reply(body={"ok": True}, held_until=answered)
    fetch = node("fetch", "http_request", url=server.url + "/slow")
    run = start(workspace, chain(TRIGGER, node("shape", "transform", fields={"n": 1}), fetch))
    sent = sent_at_start(run)

    async def scenario() -> list[dict[str, Any]]:
        layer = channel_layers.make_backend("default")
        channel = await subscribed(layer, live.run_group(run.pk))
        working = asyncio.ensure_future(sync_to_async(runner.execute)(sent))
        try:
            # The request is held until the fetch is seen running: a prompt held until it ends never comes.
            shown = await until(layer, channel, lambda m: _shows(m, EventType.NODE_RUNNING, "fetch"))
        finally:
            answered.set()
        await working
        return shown

    shown = async_to_sync(scenario)()

    run.refresh_from_db()
    assert run.status == "succeeded"
    assert len(server.requests("/slow")) == 1
    assert len(hints(shown)) == 1, "the transform's claim, the chain up to the fetch's claim: one prompt"


def _shows(message: dict[str, Any], type: EventType, node_id: str) -> bool:
    carried = map(json.loads, message.get("events") or [])
    return any(e["event"] == type and e["node_id"] == node_id for e in carried)


def test_held_prompts_join_only_events_that_follow_on_and_release_sends_at_once():
    run_id, workspace_id = 1_000_301, 1_000_302

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        layer = channel_layers.make_backend("default")
        channel = await subscribed(layer, live.run_group(run_id), live.workspace_group(workspace_id))
        with live.held():
            live.publish(run_id, workspace_id, committed(3, 4), "running")
            live.publish(run_id, workspace_id, committed(5), None)
            live.release()
            released = await until(layer, channel, lambda m: m["type"] == "workspace.event")
            live.publish(run_id, workspace_id, committed(6), None)
            live.publish(run_id, workspace_id, committed(9, 10), "succeeded")  # a gap: 7 and 8 went elsewhere
            live.publish(run_id, workspace_id, committed(11), None)
        ended = await until(layer, channel, lambda m: m["type"] == "workspace.event")
        return released, ended

    released, ended = async_to_sync(scenario)()

    assert hints(released) == [(3, 5, 3)]
    assert statuses(released) == ["running"]
    assert hints(ended) == [(6, 6, 1), (9, 11, 3)]
    assert statuses(ended) == ["succeeded"]
