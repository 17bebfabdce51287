"""The agent trace after a reload: the steps in the run API, approvals linked to their inbox item."""

import pytest

from engine.models import AgentStep
from tests.approvals.test_tool_calls import proposed
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import start, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("in_process", "provider", "price")]

ARGUMENTS = {"order_id": "1042", "amount": 20}


def agent_node(answer):
    nodes = answer.json()["nodes"]
    return next(found for found in nodes if found["node_id"] == "agent")


def test_it_answers_the_agents_steps_with_the_run(owner, login_as, workspace, fake, server):
    run, approval = proposed(fake, server, workspace, ARGUMENTS)

    answer = login_as(owner).get(f"/api/v1/runs/{run.pk}")

    assert answer.status_code == 200
    steps = agent_node(answer)["agent_steps"]
    assert [(s["loop"], s["seq"], s["kind"], s["status"]) for s in steps] == [
        (1, 0, "model", "ok"),
        (1, 1, "approval", "pending"),
    ]
    turn, asked = steps
    assert turn["text"] == AgentStep.objects.get(run=run, kind="model").text != ""
    assert [call["name"] for call in turn["tool_calls"]] == ["refund_order"]
    assert turn["tokens_in"] > 0
    assert turn["cost"] != "0.000000"
    assert asked["arguments"] == ARGUMENTS
    assert f"{asked['loop']}.{asked['seq']}" == approval.tool_key


def test_it_links_an_approval_step_to_its_inbox_item(owner, outsider, login_as, workspace, fake, server):
    run, approval = proposed(fake, server, workspace, ARGUMENTS)
    link = f"/inbox/runs/{run.pk}/agent/calls/{approval.tool_key}/"

    found = login_as(owner).get(link)

    assert found.status_code == 302
    assert found["Location"] == f"/inbox/{approval.pk}/"
    assert login_as(outsider).get(link).status_code == 404
    assert login_as(owner).get(f"/inbox/runs/{run.pk}/agent/calls/9.9/").status_code == 404


def test_a_run_without_an_agent_answers_no_steps(owner, login_as, workspace):
    run = wait_for(start(workspace, chain(TRIGGER, node("shape", "transform", fields={"a": "1"})), {}))

    answer = login_as(owner).get(f"/api/v1/runs/{run.pk}").json()

    assert [found["agent_steps"] for found in answer["nodes"]] == [[], []]
