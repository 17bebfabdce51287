"""The whole recorded history of a run, event by event: types, nodes and their order."""

from engine.models import RunEvent
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import start, wait_for
from tests.fakes import Reply


def events(run) -> list[tuple[int, str, str]]:
    return list(RunEvent.objects.filter(run=run).order_by("seq").values_list("seq", "type", "node_id"))


def test_a_chain_whose_call_fails_once_records_each_transition_once_in_order(workspace, server):
    server.then(Reply(status=503))
    retry = {"max_attempts": 2, "initial_delay_s": 0, "jitter": 0}
    data = chain(
        TRIGGER,
        node("call", "http_request", url=server.url + "/flaky", retry=retry),
        node("answer", "reply", answer="done"),
    )

    run = wait_for(start(workspace, data))

    assert run.status == "succeeded"
    assert [(kind, node_id) for _, kind, node_id in events(run)] == [
        ("run.queued", ""),
        ("node.succeeded", "start"),  # the trigger, done at the start: its output is the input
        ("node.queued", "call"),
        ("node.running", "call"),
        ("run.running", ""),
        ("node.failed", "call"),
        ("node.running", "call"),
        ("node.succeeded", "call"),
        ("node.queued", "answer"),
        ("node.running", "answer"),
        ("node.succeeded", "answer"),
        ("run.succeeded", ""),
    ]
    assert [seq for seq, _, _ in events(run)] == list(range(1, run.last_seq + 1))
