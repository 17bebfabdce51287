"""The agent node in-process: tool calls through the OpenAI SDK against the fake server, recorded steps, guards."""

import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from types import SimpleNamespace
from typing import Any

import pytest

from engine.models import AgentStep, BudgetScope, CostEntry, Run, RunEvent
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import history, start, wait_for
from tests.engine.running import node as node_run
from tests.factories import BudgetFactory, WorkflowFactory, WorkflowVersionFactory
from tests.fake_openai import Failure, tool_calls
from tests.fakes import BurstServer, Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("in_process", "provider", "price")]

ORDER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"order_id": {"type": "string"}},
    "required": ["order_id"],
}


def lookup(server, **fields):
    return {
        "name": "lookup_order",
        "description": "Finds an order by id",
        "kind": "http",
        "parameters": ORDER_SCHEMA,
        "url": server.url + "/orders/{{ args.order_id }}",
        **fields,
    }


def note(server, **fields):
    return {
        "name": "add_note",
        "description": "Adds a note to an order",
        "kind": "http",
        "method": "POST",
        "parameters": {**ORDER_SCHEMA, "properties": {**ORDER_SCHEMA["properties"], "text": {"type": "string"}}},
        "url": server.url + "/notes",
        "body": {"order": "{{ args.order_id }}", "text": "{{ args.text }}"},
        **fields,
    }


def agent(*tools, **params):
    return node(
        "agent",
        "agent",
        **{
            "provider": "fake",
            "model": "gpt-test",
            "instructions": "You help customers.",
            "message": "{{ input.body }}",
            "tools": list(tools),
            **params,
        },
    )


def test_it_calls_two_tools_side_by_side_then_answers(workspace, server, fake):
    server.default = Reply(body={"status": "shipped"})
    fake.answers = [
        tool_calls(("lookup_order", {"order_id": "A 1"}), ("add_note", {"order_id": "A 1", "text": "asked"})),
        "Your order has shipped.",
    ]
    run = wait_for(start(workspace, chain(TRIGGER, agent(lookup(server), note(server))), {"body": "Where is A 1?"}))
    assert run.status == "succeeded", run.error
    output = node_run(run, "agent").output
    assert output["text"] == "Your order has shipped."
    assert output["turns"] == 2
    assert [(call["name"], call["status"]) for call in output["tool_calls"]] == [
        ("lookup_order", "ok"),
        ("add_note", "ok"),
    ]
    assert output["tool_calls"][0]["result"] == {"status": 200, "body": {"status": "shipped"}}
    assert [r.path for r in server.requests() if r.method == "GET"] == ["/orders/A%201"]
    posted = server.requests("/notes")
    assert len(posted) == 1
    assert json.loads(posted[0].body) == {"order": "A 1", "text": "asked"}
    assert posted[0].headers["Idempotency-Key"] == f"switchyard-{run.pk}-agent-agent:1:2"
    second = fake.chat_requests()[1].body
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "tool", "tool"]
    assert {t["function"]["name"] for t in second["tools"]} == {"lookup_order", "add_note"}
    assert second["tool_choice"] == "auto"
    assert second["messages"][3]["tool_call_id"] == "call_1_0"
    steps = list(AgentStep.objects.filter(run=run).order_by("seq").values_list("seq", "kind", "status"))
    assert steps == [(0, "model", "ok"), (1, "tool", "ok"), (2, "tool", "ok"), (3, "model", "ok")]
    events = RunEvent.objects.filter(run=run, type="agent.step").order_by("seq")
    # The two calls ran side by side: their steps are recorded in the order they finished.
    recorded = [(e.payload["seq"], e.payload["kind"]) for e in events]
    assert recorded[0] == (0, "model")
    assert recorded[-1] == (3, "model")
    assert sorted(recorded[1:3]) == [(1, "tool"), (2, "tool")]
    assert CostEntry.objects.filter(run=run).count() == 2
    assert output["input_tokens"] == 2000
    assert output["output_tokens"] == 1000


@pytest.fixture
def rendezvous() -> Iterator[SimpleNamespace]:
    """An order service that answers {"together": true} to a request made while another is in flight, and
    {"together": false} to one that waited 10 s alone: calls made one after the other never meet."""
    barrier = threading.Barrier(2, timeout=10)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            try:
                barrier.wait()
                together = True
            except threading.BrokenBarrierError:
                together = False
            payload = json.dumps({"together": together}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            """Quiet: the test reads the tools' results."""

    server = BurstServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.shutdown()
    server.server_close()


def test_the_two_calls_of_one_turn_are_in_flight_together(workspace, rendezvous, fake):
    fake.answers = [tool_calls(("lookup_order", {"order_id": "A"}), ("find_order", {"order_id": "B"})), "Found both."]
    tools = (lookup(rendezvous), lookup(rendezvous, name="find_order"))
    run = wait_for(start(workspace, chain(TRIGGER, agent(*tools)), {"body": "Where are A and B?"}))
    assert run.status == "succeeded", run.error
    results = [call["result"] for call in node_run(run, "agent").output["tool_calls"]]
    assert results == [{"status": 200, "body": {"together": True}}] * 2


def test_it_stops_at_max_turns_with_a_clear_error(workspace, server, fake):
    fake.answers = [tool_calls(("lookup_order", {"order_id": str(n)})) for n in range(5)]
    run = wait_for(start(workspace, chain(TRIGGER, agent(lookup(server), max_turns=2)), {"body": "Where?"}))
    assert run.status == "failed"
    error = node_run(run, "agent").error
    assert error["code"] == "max_turns"
    assert "2 turns" in error["message"]
    assert len(fake.chat_requests()) == 2
    assert len(server.requests()) == 1, "the last turn's calls are not made once no turn is left to read them"


def test_it_leaves_by_the_error_handle_at_max_tool_calls(workspace, server, fake):
    fake.answers = [tool_calls(*[("lookup_order", {"order_id": str(n)}) for n in range(3)])]
    graph = chain(TRIGGER, agent(lookup(server), max_tool_calls=2, error_handle=True))
    run = wait_for(start(workspace, graph, {"body": "Where?"}))
    assert run.status == "succeeded"
    output = node_run(run, "agent")
    assert output.handle == "error"
    assert output.output["error"]["code"] == "max_tool_calls"
    assert server.requests() == []


def test_a_budget_stops_the_loop_between_turns(workspace, server, fake):
    BudgetFactory(workspace=workspace, name="Per run", scope=BudgetScope.RUN, limit=Decimal("0.01"))
    fake.answers = [tool_calls(("lookup_order", {"order_id": "7"})), "Shipped."]
    run = wait_for(start(workspace, chain(TRIGGER, agent(lookup(server))), {"body": "Where?"}))
    assert run.status == "failed"
    assert node_run(run, "agent").error["code"] == "budget_exceeded"
    assert len(fake.chat_requests()) == 1
    assert CostEntry.objects.filter(run=run).count() == 1
    kinds = list(AgentStep.objects.filter(run=run).order_by("seq").values_list("kind", flat=True))
    assert kinds == ["model", "tool"]


def test_a_turn_asked_to_wait_by_retry_after_is_asked_again_and_billed_once(workspace, server, fake):
    """The loop's turns take the AI nodes' model-call path: a 429 with Retry-After is waited out within the
    attempt, and only the answered calls are billed or recorded."""
    fake.failures.append(Failure(429, {"Retry-After": "1"}, "slow down"))
    fake.answers = [tool_calls(("lookup_order", {"order_id": "7"})), "Shipped."]
    run = wait_for(start(workspace, chain(TRIGGER, agent(lookup(server))), {"body": "Where?"}))
    assert run.status == "succeeded", run.error
    assert node_run(run, "agent").output["text"] == "Shipped."
    assert len(fake.chat_requests()) == 3
    assert history(run, "agent") == ["pending", "running", "succeeded"]
    assert AgentStep.objects.filter(run=run, kind="model").count() == 2
    assert CostEntry.objects.filter(run=run).count() == 2


def test_unknown_tools_and_bad_arguments_go_back_to_the_model(workspace, server, fake):
    fake.answers = [
        tool_calls(("delete_everything", {}), ("lookup_order", {"order": 1}), ("lookup_order", {"order_id": "9"})),
        "Sorry.",
    ]
    run = wait_for(start(workspace, chain(TRIGGER, agent(lookup(server))), {"body": "Where?"}))
    assert run.status == "succeeded", run.error
    results = [json.loads(m["content"]) for m in fake.chat_requests()[1].body["messages"] if m["role"] == "tool"]
    assert "There is no tool 'delete_everything'" in results[0]["error"]
    assert "'order_id' is a required property" in results[1]["error"]
    assert results[2]["status"] == 200
    assert [r.path for r in server.requests()] == ["/orders/9"]
    statuses = [call["status"] for call in node_run(run, "agent").output["tool_calls"]]
    assert statuses == ["error", "error", "ok"]


def test_a_long_tool_result_is_cut_before_the_model_reads_it(workspace, server, fake):
    server.default = Reply(body={"text": "x" * 5000})
    fake.answers = [tool_calls(("lookup_order", {"order_id": "1"})), "Done."]
    run = wait_for(start(workspace, chain(TRIGGER, agent(lookup(server), max_result_chars=300)), {"body": "?"}))
    assert run.status == "succeeded", run.error
    seen = fake.chat_requests()[1].body["messages"][-1]["content"]
    assert len(seen) < 400
    assert "more characters]" in seen


def test_an_agent_without_tools_answers_in_one_turn(workspace, fake):
    fake.answers = ["Hello."]
    run = wait_for(start(workspace, chain(TRIGGER, agent()), {"body": "Hi"}))
    assert run.status == "succeeded", run.error
    assert node_run(run, "agent").output["text"] == "Hello."
    assert "tools" not in fake.chat_requests()[0].body


def test_a_tool_call_to_an_agent_without_tools_is_answered_with_why(workspace, fake):
    fake.answers = [tool_calls(("lookup_order", {"order_id": "7"})), "Your order 7 has shipped."]
    run = wait_for(start(workspace, chain(TRIGGER, agent()), {"body": "Where is 7?"}))
    assert run.status == "succeeded", run.error
    output = node_run(run, "agent").output
    assert output["text"] == "Your order 7 has shipped."
    assert [(call["name"], call["status"]) for call in output["tool_calls"]] == [("lookup_order", "error")]
    second = fake.chat_requests()[1].body
    assert "tools" not in second
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "tool"]
    assert json.loads(second["messages"][3]["content"]) == {
        "error": "This agent has no tools, so there is no tool 'lookup_order': answer without calling a tool"
    }
    steps = list(AgentStep.objects.filter(run=run).order_by("seq").values_list("kind", "status"))
    assert steps == [("model", "ok"), ("tool", "error"), ("model", "ok")]


def test_a_model_that_keeps_calling_tools_an_agent_lacks_is_stopped(workspace, fake):
    fake.answers = [tool_calls(("lookup_order", {"order_id": str(n)})) for n in range(5)]
    run = wait_for(start(workspace, chain(TRIGGER, agent()), {"body": "Where is 7?"}))
    assert run.status == "failed"
    error = node_run(run, "agent").error
    assert error["code"] == "no_tools"
    assert error["message"].startswith("The model called a tool again ('lookup_order') though this agent has no tools")
    assert len(fake.chat_requests()) == 2, "stopped on the second turn, not at max_turns"
    kinds = list(AgentStep.objects.filter(run=run).order_by("seq").values_list("kind", "status"))
    assert kinds == [("model", "ok"), ("tool", "error"), ("model", "ok")]


def test_it_leaves_by_the_error_handle_when_the_model_keeps_calling_missing_tools(workspace, fake):
    fake.answers = [tool_calls(("search", {"query": "refunds"})) for _ in range(3)]
    run = wait_for(start(workspace, chain(TRIGGER, agent(error_handle=True)), {"body": "Refund?"}))
    assert run.status == "succeeded", run.error
    result = node_run(run, "agent")
    assert result.handle == "error"
    assert result.output["error"]["code"] == "no_tools"
    assert result.output["error"]["turns"] == 2


def test_it_answers_json_valid_against_its_schema(workspace, fake):
    schema = {"type": "object", "properties": {"reply": {"type": "string"}}, "required": ["reply"]}
    fake.answers = ['{"answer": 1}', '{"reply": "Hi"}']
    run = wait_for(start(workspace, chain(TRIGGER, agent(output_schema=schema)), {"body": "Hi"}))
    assert run.status == "succeeded", run.error
    assert node_run(run, "agent").output["data"] == {"reply": "Hi"}
    assert "invalid" in fake.chat_requests()[1].body["messages"][-1]["content"]


def test_a_workflow_tool_runs_as_a_child_run_while_the_agent_waits(workspace, fake):
    schema = {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}
    child_graph = chain(
        node("start", "trigger", input_schema=schema),
        node("shout", "transform", fields={"order": "{{ input.order_id | upper }}"}),
    )
    child = WorkflowFactory(workspace=workspace, name="Check order", draft=child_graph)
    WorkflowVersionFactory(workflow=child, graph=child_graph, number=1)
    tool = {"name": "check_order", "description": "Checks an order", "kind": "workflow", "workflow_id": child.pk}
    fake.answers = [tool_calls(("check_order", {"order_id": "ab"})), "Checked."]
    run = wait_for(start(workspace, chain(TRIGGER, agent(tool)), {"body": "Check ab"}))
    assert run.status == "succeeded", run.error
    assert fake.chat_requests()[0].body["tools"][0]["function"]["parameters"] == schema
    call = node_run(run, "agent").output["tool_calls"][0]
    assert call["result"] == {"order": "AB"}
    assert history(run, "agent") == ["pending", "running", "waiting", "running", "succeeded"]
    assert Run.objects.filter(parent_run=run, parent_node_id="agent").count() == 1


def test_workflow_tool_calls_of_one_turn_run_their_children_side_by_side(workspace, fake):
    """Two workflow calls in one turn: both children start as the node parks, before either ends; one wake."""
    schema = {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}
    shout = chain(
        node("start", "trigger", input_schema=schema),
        node("shout", "transform", fields={"order": "{{ input.order_id | upper }}"}),
    )
    echo = chain(
        node("start", "trigger", input_schema=schema),
        node("echo", "transform", fields={"seen": "{{ input.order_id }}"}),
    )
    check = WorkflowFactory(workspace=workspace, name="Check order", draft=shout)
    WorkflowVersionFactory(workflow=check, graph=shout, number=1)
    log = WorkflowFactory(workspace=workspace, name="Log order", draft=echo)
    WorkflowVersionFactory(workflow=log, graph=echo, number=1)
    tools = [
        {"name": "check_order", "kind": "workflow", "workflow_id": check.pk},
        {"name": "log_order", "kind": "workflow", "workflow_id": log.pk},
    ]
    # The same arguments twice, and a second call of the first tool: each call gets its own child.
    fake.answers = [
        tool_calls(
            ("check_order", {"order_id": "ab"}), ("log_order", {"order_id": "ab"}), ("check_order", {"order_id": "cd"})
        ),
        "Checked.",
    ]
    run = wait_for(start(workspace, chain(TRIGGER, agent(*tools)), {"body": "Check ab and cd"}))
    assert run.status == "succeeded", run.error
    events = list(RunEvent.objects.filter(run=run, type__in=["child.started", "child.ended"]).order_by("seq"))
    assert [e.type for e in events] == ["child.started"] * 3 + ["child.ended"] * 3, "the children overlapped"
    assert history(run, "agent") == ["pending", "running", "waiting", "running", "succeeded"]
    kids = Run.objects.filter(parent_run=run, parent_node_id="agent")
    assert list(kids.order_by("parent_attempt").values_list("workflow_id", "input")) == [
        (check.pk, {"order_id": "ab"}),
        (log.pk, {"order_id": "ab"}),
        (check.pk, {"order_id": "cd"}),
    ]
    calls = node_run(run, "agent").output["tool_calls"]
    assert [(c["name"], c["result"]) for c in calls] == [
        ("check_order", {"order": "AB"}),
        ("log_order", {"seen": "ab"}),
        ("check_order", {"order": "CD"}),
    ]
    second = fake.chat_requests()[1].body["messages"]
    assert [json.loads(m["content"]) for m in second if m["role"] == "tool"] == [
        {"order": "AB"},
        {"seen": "ab"},
        {"order": "CD"},
    ]
