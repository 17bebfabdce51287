"""The "Support agent" template offline: the built-in provider's tool use, the demo shop, a refund approved first."""

import json

import pytest

from approvals.decisions import Choice, decide
from approvals.models import ApprovalRequest
from builder.agent_demo import SAMPLE_AGENT_TICKET, support_agent
from engine.graph import validate
from engine.models import AgentStep
from knowledge.demo import seed_help_centre
from tests.engine.running import node, start, wait_for
from tests.eventually import eventually

pytestmark = pytest.mark.usefixtures("in_process")


def test_it_answers_with_the_help_centre_and_the_shop_after_the_refund_is_approved(owner, asgi_server, settings):
    settings.DEMO_SHOP_URL = asgi_server + "/demo/shop"
    seed_help_centre(owner.workspace)
    graph = support_agent()
    assert validate(graph) == []

    run = start(owner.workspace, graph, SAMPLE_AGENT_TICKET)
    refund = eventually(lambda: ApprovalRequest.objects.filter(run=run, node_id="agent").first())
    assert wait_for(run, {"waiting"}).status == "waiting"
    assert refund.title == "Tool call: refund_order"
    assert json.loads(refund.fields[0]["value"]) == {"order_id": "1001", "refund_amount": 20}
    decide(refund, owner.user, Choice("approve"))

    run = wait_for(run)
    assert run.status == "succeeded", run.error
    output = node(run, "agent").output
    assert output["provider"] == "builtin"
    calls = {call["name"]: call for call in output["tool_calls"]}
    assert set(calls) == {"search_help_centre", "lookup_order", "refund_order"}
    assert calls["search_help_centre"]["result"]["passages"], "the help centre found nothing"
    assert calls["lookup_order"]["result"]["body"]["item"] == "Quillpad Pro lamp"
    assert calls["refund_order"]["result"]["body"]["status"] == "accepted (demo: not stored)"
    answer = run.output["answer"]
    assert answer.startswith("[Built-in offline agent")
    assert "Sources:" in answer
    assert "lookup_order" in answer
    assert AgentStep.objects.filter(run=run, kind="model").count() == 2
