"""A generate node's streamed answer read chunk by chunk from the fake server's raw server-sent events."""

import json
from typing import Any

from engine.models import CostEntry
from tests.engine.graphs import TRIGGER, chain, generate
from tests.engine.running import node as node_run
from tests.engine.running import start, wait_for

NOT_AN_OBJECT = "fake sent a streamed chunk that is not a JSON object"
# The server's reason, made printable: a newline in it becomes a space.
FAILED_WHILE_STREAMING = "fake failed while streaming: overloaded please retry"


def event(chunk: dict[str, Any] | str) -> bytes:
    return f"data: {chunk if isinstance(chunk, str) else json.dumps(chunk)}\r\n\r\n".encode()


def delta(text: str) -> dict[str, Any]:
    return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}}]}


def usage(tokens_in: int, tokens_out: int) -> dict[str, Any]:
    return {"choices": [], "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out}}


def test_it_bills_the_usage_the_last_chunk_reports(workspace, provider, price, fake):
    body = event(delta("Ships ")) + event(delta("today.")) + event(usage(42, 7)) + event("[DONE]")
    # Cut anywhere, even between a CR and its LF: the answer and the bill are the same.
    fake.raw_streams = [[body[:9], body[9:60], body[60:61], body[61:]]]

    run = wait_for(start(workspace, chain(TRIGGER, generate()), {"body": "Where is my parcel?"}))

    assert run.status == "succeeded", node_run(run, "draft").error
    assert node_run(run, "draft").output["text"] == "Ships today."
    entry = CostEntry.objects.get(run=run)
    assert (entry.tokens_in, entry.tokens_out) == (42, 7)


def test_it_counts_the_tokens_when_no_chunk_reports_the_usage(workspace, provider, price, fake):
    no_counts = {"choices": [], "usage": {"prompt_tokens": "many"}}
    fake.raw_streams = [[event(delta("Ships today.")), event(no_counts), event("[DONE]")]]

    run = wait_for(start(workspace, chain(TRIGGER, generate()), {"body": "Where is my parcel?"}))

    assert run.status == "succeeded", node_run(run, "draft").error
    entry = CostEntry.objects.get(run=run)
    assert 0 < entry.tokens_in < 100
    assert 0 < entry.tokens_out < 10


def test_an_answer_with_a_malformed_chunk_is_asked_again_and_billed_once(workspace, provider, price, fake):
    fake.raw_streams = [[event(delta("Ships ")), b"data: {not json\n\n", event(delta("today.")), event("[DONE]")]]

    run = wait_for(start(workspace, chain(TRIGGER, generate()), {"body": "Where is my parcel?"}))

    assert run.status == "succeeded", node_run(run, "draft").error
    assert node_run(run, "draft").output["text"] == fake.default_answer
    assert len(fake.chat_requests()) == 2
    assert CostEntry.objects.filter(run=run).count() == 1


def test_it_names_a_chunk_that_is_json_but_no_object(workspace, provider, price, fake):
    fake.raw_streams = [[b"data: [1, 2]\n\n"], [event(delta("Ships ")), b"data: null\n\n"]]

    run = wait_for(start(workspace, chain(TRIGGER, generate(retry={"max_attempts": 1})), {"body": "Where?"}))

    assert run.status == "failed"
    error = node_run(run, "draft").error
    assert (error["code"], error["message"]) == ("model_unavailable", NOT_AN_OBJECT)
    assert len(fake.chat_requests()) == 2


def test_an_error_event_in_the_middle_of_the_answer_is_tried_again_and_named(workspace, provider, price, fake):
    failure = {"error": {"message": "overloaded\nplease retry", "type": "server_error"}}
    fake.raw_streams = [[event(delta("Ships ")), event(failure)], [event(failure)]]

    run = wait_for(start(workspace, chain(TRIGGER, generate(retry={"max_attempts": 1})), {"body": "Where?"}))

    assert run.status == "failed"
    error = node_run(run, "draft").error
    assert (error["code"], error["message"]) == ("model_unavailable", FAILED_WHILE_STREAMING)
    assert len(fake.chat_requests()) == 2
    assert not CostEntry.objects.filter(run=run).exists()
