"""An agent's tool call that requires approval: the inbox item, approve, edit (checked against the schema), reject."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from approvals.models import ApprovalRequest, Status
from engine import reaper
from engine.models import AgentStep, NodeRun, Run, RunEvent
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import history, start, wait_for
from tests.engine.running import node as node_run
from tests.eventually import eventually
from tests.factories import MembershipFactory, UserFactory, WorkflowFactory, WorkflowVersionFactory
from tests.fake_openai import tool_calls

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("in_process", "provider", "price")]

REFUND = {
    "type": "object",
    "properties": {"order_id": {"type": "string"}, "amount": {"type": "integer", "minimum": 1}},
    "required": ["order_id", "amount"],
}


def refund_agent(server, **params):
    tool = {
        "name": "refund_order",
        "description": "Refunds part of an order",
        "kind": "http",
        "method": "POST",
        "url": server.url + "/refunds",
        "body": {"order": "{{ args.order_id }}", "amount": "{{ args.amount }}"},
        "parameters": REFUND,
        "requires_approval": True,
    }
    return node("agent", "agent", provider="fake", model="gpt-test", message="{{ input.body }}", tools=[tool], **params)


def proposed(fake, server, workspace, arguments, **params):
    fake.answers = [tool_calls(("refund_order", arguments), text="Charged <i>twice</i>."), "Done."]
    run = start(workspace, chain(TRIGGER, refund_agent(server, **params)), {"body": "Refund <b>order</b> 1042"})
    approval = eventually(lambda: ApprovalRequest.objects.filter(run=run, node_id="agent").first())
    assert wait_for(run, {"waiting"}).status == "waiting"
    return run, approval


def decide(login_as, member, approval, **body):
    return login_as(member).post_json(f"/api/v1/approvals/{approval.pk}/decide", body)


def test_it_asks_before_the_call_and_makes_it_once_approved(owner, login_as, workspace, fake, server):
    run, approval = proposed(fake, server, workspace, {"order_id": "1042", "amount": 20})
    assert approval.title == "Tool call: refund_order"
    assert approval.tool_key == "1.1"
    assert server.requests("/refunds") == []
    page = login_as(owner).get(f"/inbox/{approval.pk}/").content.decode()
    assert "refund_order" in page
    assert "Charged &lt;i&gt;twice&lt;/i&gt;." in page, "the model's text is escaped"
    assert "<i>twice</i>" not in page
    assert "&quot;amount&quot;: 20" in page, "the arguments are shown, escaped, to edit"

    assert decide(login_as, owner, approval, decision="approve").status_code == 200

    run = wait_for(run)
    assert run.status == "succeeded", run.error
    assert [request.json() for request in server.requests("/refunds")] == [{"order": "1042", "amount": 20}]
    assert history(run, "agent") == ["pending", "running", "waiting", "running", "succeeded"]
    steps = AgentStep.objects.filter(run=run).order_by("seq", "kind")
    assert [(s.seq, s.kind, s.status) for s in steps] == [
        (0, "model", "ok"),
        (1, "approval", "approved"),
        (1, "tool", "ok"),
        (2, "model", "ok"),
    ]
    assert fake.chat_requests()[0].body["messages"][-1]["content"] == "Refund <b>order</b> 1042"


def test_it_makes_the_call_with_the_reviewers_arguments(owner, login_as, workspace, fake, server):
    run, approval = proposed(fake, server, workspace, {"order_id": "1042", "amount": 20})

    refused = decide(login_as, owner, approval, decision="edit_and_approve", values={"arguments": '{"amount": "x"}'})
    assert refused.status_code == 422
    assert "values.arguments" in refused.content.decode()
    edited = json.dumps({"order_id": "1042", "amount": 5})
    assert (
        decide(login_as, owner, approval, decision="edit_and_approve", values={"arguments": edited}).status_code == 200
    )

    run = wait_for(run)
    assert run.status == "succeeded", run.error
    assert [request.json() for request in server.requests("/refunds")] == [{"order": "1042", "amount": 5}]
    call = node_run(run, "agent").output["tool_calls"][0]
    assert call["arguments"] == {"order_id": "1042", "amount": 5}
    assert AgentStep.objects.get(run=run, kind="approval").status == "edited"


def test_a_rejection_is_the_tools_result_for_the_model(owner, login_as, workspace, fake, server):
    run, approval = proposed(fake, server, workspace, {"order_id": "1042", "amount": 20})

    assert (
        decide(login_as, owner, approval, decision="reject", comment="Refunds over 10 need a manager").status_code
        == 200
    )

    run = wait_for(run)
    assert run.status == "succeeded", run.error
    assert server.requests("/refunds") == []
    result = json.loads(fake.chat_requests()[1].body["messages"][-1]["content"])
    assert result == {"rejected": True, "message": "Refunds over 10 need a manager"}
    assert node_run(run, "agent").output["tool_calls"][0]["status"] == "rejected"


def test_the_call_waits_for_n_of_m_approvals(owner, login_as, workspace, fake, server):
    rita = MembershipFactory(workspace=workspace, user=UserFactory(username="rita"), role=Role.REVIEWER)
    approval_rules = {"required_approvals": 2}
    run, approval = proposed(fake, server, workspace, {"order_id": "1042", "amount": 20}, approval=approval_rules)
    assert approval.required_approvals == 2

    assert decide(login_as, owner, approval, decision="approve").json()["status"] == "pending"
    assert wait_for(run, {"waiting"}).status == "waiting"
    assert server.requests("/refunds") == [], "one approval of two makes no call"
    assert decide(login_as, rita, approval, decision="approve").json()["status"] == "approved"

    run = wait_for(run)
    assert run.status == "succeeded", run.error
    assert len(server.requests("/refunds")) == 1
    decided = AgentStep.objects.get(run=run, kind="approval")
    assert (decided.status, decided.result["reviewers"]) == ("approved", ["olivia", "rita"])


def test_an_undecided_call_times_out_through_the_reaper_as_a_rejection(owner, workspace, fake, server):
    approval_rules = {"decide_within_s": 7200, "timeout_action": "reject"}
    run, approval = proposed(fake, server, workspace, {"order_id": "1042", "amount": 20}, approval=approval_rules)
    # Two hours pass: only the reaper can wake the parked node.
    past = timezone.now() - timedelta(seconds=1)
    ApprovalRequest.objects.filter(pk=approval.pk).update(deadline=past)
    NodeRun.objects.filter(pk=approval.node_run_id).update(wake_at=past, dispatched_at=past - timedelta(hours=2))
    assert reaper.reap()["dispatched"] == 1

    run = wait_for(run)
    assert run.status == "succeeded", run.error
    approval.refresh_from_db()
    assert (approval.status, approval.decided_by_label) == (Status.TIMED_OUT, "system")
    assert server.requests("/refunds") == []
    result = json.loads(fake.chat_requests()[1].body["messages"][-1]["content"])
    assert result["rejected"] is True
    assert node_run(run, "agent").output["tool_calls"][0]["status"] == "rejected"


def test_a_turns_workflow_calls_start_together_once_its_approvals_are_decided(owner, login_as, workspace, fake):
    """The reviewer is awaited first (nothing else may wake the node while children run), then both children start."""
    schema = {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}
    child_graph = chain(
        node("start", "trigger", input_schema=schema),
        node("shout", "transform", fields={"order": "{{ input.order_id | upper }}"}),
    )
    child = WorkflowFactory(workspace=workspace, name="Check order", draft=child_graph)
    WorkflowVersionFactory(workflow=child, graph=child_graph, number=1)
    tools = [
        {"name": "check", "kind": "workflow", "workflow_id": child.pk},
        {"name": "refund", "kind": "workflow", "workflow_id": child.pk, "requires_approval": True},
    ]
    agent = node("agent", "agent", provider="fake", model="gpt-test", message="{{ input.body }}", tools=tools)
    fake.answers = [tool_calls(("check", {"order_id": "ab"}), ("refund", {"order_id": "cd"})), "Done."]
    run = start(workspace, chain(TRIGGER, agent), {"body": "Check ab, refund cd"})
    approval = eventually(lambda: ApprovalRequest.objects.filter(run=run, node_id="agent").first())
    assert wait_for(run, {"waiting"}).status == "waiting"
    assert not Run.objects.filter(parent_run=run).exists(), "no child starts while a reviewer is awaited"

    assert decide(login_as, owner, approval, decision="approve").status_code == 200

    run = wait_for(run)
    assert run.status == "succeeded", run.error
    events = list(RunEvent.objects.filter(run=run, type__in=["child.started", "child.ended"]).order_by("seq"))
    assert [e.type for e in events] == ["child.started"] * 2 + ["child.ended"] * 2
    calls = node_run(run, "agent").output["tool_calls"]
    assert [(c["name"], c["result"]) for c in calls] == [("check", {"order": "AB"}), ("refund", {"order": "CD"})]
    assert Run.objects.filter(parent_run=run).count() == 2
