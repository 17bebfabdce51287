"""An agent node's worker killed with SIGKILL after its tool calls: the loop resumes from its recorded steps."""

from collections import Counter

import pytest

from engine.models import AgentStep, CostEntry, Run, RunEvent
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import node as node_run
from tests.engine.running import start, wait_for
from tests.eventually import eventually
from tests.factories import ProviderConfigFactory, WorkflowFactory, WorkflowVersionFactory
from tests.fake_openai import FakeOpenAI, tool_calls
from tests.fakes import RecordingServer, Reply
from tests.workers import Worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("without_worker")]


@pytest.fixture
def receiver():
    fake = RecordingServer()
    yield fake
    fake.close()


def test_a_killed_agent_makes_no_finished_turn_or_side_effect_again(workspace, server, receiver, price):
    fake = FakeOpenAI(tokens_in=1000, tokens_out=500)
    ProviderConfigFactory(workspace=workspace, name="fake", base_url=fake.url, api_key="sk-test")
    order = {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}
    tools = [
        {"name": "lookup", "kind": "http", "parameters": order, "url": server.url + "/orders/{{ args.order_id }}"},
        {
            "name": "note",
            "kind": "http",
            "method": "POST",
            "parameters": order,
            "url": receiver.url + "/notes",
            "body": {"order": "{{ args.order_id }}"},
        },
    ]
    agent = node("agent", "agent", provider="fake", model="gpt-test", message="{{ input.body }}", tools=tools)
    fake.answers = [tool_calls(("lookup", {"order_id": "7"}), ("note", {"order_id": "7"}))]
    fake.default_answer = "It ships today."
    # The second turn is still being answered when the worker dies.
    fake.delays = [0.0, 10.0]
    first = Worker(beat=True, lease_s=2)
    try:
        run = start(workspace, chain(TRIGGER, agent), {"body": "Where is order 7?"})
        tool_steps = AgentStep.objects.filter(run=run, kind="tool")
        eventually(lambda: tool_steps.count() == 2, timeout=30, message="the tools were never called")
        eventually(lambda: len(fake.chat_requests()) == 2, timeout=15, message="the second turn never started")
    finally:
        first.kill()
    second = Worker(beat=True, lease_s=2)
    try:
        run = wait_for(run, timeout=60)
    except AssertionError as stuck:
        raise AssertionError(f"{stuck}\nsecond worker's log:\n{second.output()[-4000:]}") from None
    finally:
        second.stop()
        fake.close()
    assert run.status == "succeeded", run.error
    output = node_run(run, "agent").output
    assert output["text"] == "It ships today."
    assert RunEvent.objects.filter(run=run, type="node.crashed").exists(), "the kill hit no running node"
    requests = fake.chat_requests()
    first_turns = [seen for seen in requests if not any(m["role"] == "tool" for m in seen.body["messages"])]
    assert len(first_turns) == 1, "the finished first turn was asked again"
    assert len(requests) == 3, "only the turn in flight is asked again"
    assert len(receiver.requests("/notes")) == 1, "the recorded POST was sent again"
    assert len(server.requests("/orders/7")) == 1, "a recorded tool call was made again"
    bills = Counter(CostEntry.objects.filter(run=run).values_list("node_id", "attempt", "call"))
    assert max(bills.values()) == 1
    answered = CostEntry.objects.filter(run=run, estimated=False)
    assert answered.count() == 2, "each answered turn is billed once"
    steps = Counter(AgentStep.objects.filter(run=run).values_list("seq", "kind"))
    assert steps == Counter({(0, "model"): 1, (1, "tool"): 1, (2, "tool"): 1, (3, "model"): 1})


def test_a_worker_killed_while_a_turns_workflow_calls_run_starts_no_child_twice(workspace, server, price):
    """Two workflow calls of one turn: both children run side by side; the worker dies while they are in flight."""
    workspace.http_allowlist = ["127.0.0.1"]
    workspace.save(update_fields=["http_allowlist"])
    fake = FakeOpenAI(tokens_in=1000, tokens_out=500)
    ProviderConfigFactory(workspace=workspace, name="fake", base_url=fake.url, api_key="sk-test")
    order = {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}
    fetch = node("fetch", "http_request", url=server.url + "/orders/{{ input.order_id }}")
    child_graph = chain(node("start", "trigger", input_schema=order), fetch)
    child = WorkflowFactory(workspace=workspace, name="Fetch order", draft=child_graph)
    WorkflowVersionFactory(workflow=child, graph=child_graph, number=1)
    tool = {"name": "fetch_order", "kind": "workflow", "workflow_id": child.pk}
    agent = node("agent", "agent", provider="fake", model="gpt-test", message="{{ input.body }}", tools=[tool])
    fake.answers = [tool_calls(("fetch_order", {"order_id": "7"}), ("fetch_order", {"order_id": "8"}))]
    fake.default_answer = "Both found."
    # The children's requests are still being answered when the worker dies.
    server.default = Reply(body={"found": True}, delay_s=4.0)
    first = Worker(beat=True, lease_s=2)
    try:
        run = start(workspace, chain(TRIGGER, agent), {"body": "Orders 7 and 8?"})
        eventually(lambda: len(server.requests()) >= 2, timeout=30, message="the children never asked the shop")
    finally:
        first.kill()
    second = Worker(beat=True, lease_s=2)
    try:
        run = wait_for(run, timeout=90)
    except AssertionError as stuck:
        raise AssertionError(f"{stuck}\nsecond worker's log:\n{second.output()[-4000:]}") from None
    finally:
        second.stop()
        fake.close()
    assert run.status == "succeeded", run.error
    kids = Run.objects.filter(parent_run=run)
    assert sorted(kid["input"]["order_id"] for kid in kids.values("input")) == ["7", "8"], "a child was started twice"
    assert set(kids.values_list("status", flat=True)) == {"succeeded"}
    assert RunEvent.objects.filter(run__parent_run=run, type="node.crashed").exists(), "the kill hit no child"
    assert RunEvent.objects.filter(run=run, type="child.started").count() == 2
    output = node_run(run, "agent").output
    assert [call["result"]["status"] for call in output["tool_calls"]] == [200, 200]
    assert len(fake.chat_requests()) == 2, "the turn that asked for the calls was asked once"
    steps = Counter(AgentStep.objects.filter(run=run).values_list("seq", "kind"))
    assert steps == Counter({(0, "model"): 1, (1, "tool"): 1, (2, "tool"): 1, (3, "model"): 1})
