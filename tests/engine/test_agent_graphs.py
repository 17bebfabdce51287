"""Graph validation of agent nodes: tool kinds, tool schemas and names are refused with their path."""

import pytest

from engine.graph import validate
from tests.engine.graphs import TRIGGER, chain, node
from tests.factories import WorkflowFactory, WorkflowVersionFactory


def graph_with(*tools):
    return chain(TRIGGER, node("agent", "agent", message="{{ input.body }}", tools=list(tools)))


def problems(*tools):
    return [(p.path, p.code) for p in validate(graph_with(*tools))]


def test_it_accepts_an_agent_without_tools():
    assert problems() == []


def test_it_refuses_an_unknown_tool_kind_with_its_path():
    assert problems({"name": "x", "kind": "teleport"}) == [("nodes.1.params.tools.0.kind", "bad_params")]


def test_it_refuses_a_tool_schema_that_is_not_json_schema():
    bad = {"name": "x", "kind": "http", "url": "https://example.com", "parameters": {"type": "object", "required": 3}}
    assert problems(bad) == [("nodes.1.params.tools.0.parameters", "bad_params")]


def test_it_refuses_a_url_template_that_does_not_parse():
    broken = {"name": "x", "kind": "http", "url": "https://example.com/{{ args.id"}
    assert problems(broken) == [("nodes.1.params.tools.0", "bad_params")]


def test_it_refuses_two_tools_with_one_name():
    tool = {"name": "x", "kind": "http", "url": "https://example.com/{{ args.id }}"}
    found = [(p.path, p.message) for p in validate(graph_with(tool, tool))]
    assert found == [("nodes.1.params", "Value error, tools.1.name: another tool is already called 'x'")]


def test_it_refuses_tool_choice_required_without_tools_on_that_field():
    graph = chain(TRIGGER, node("agent", "agent", message="hi", tool_choice="required"))
    found = [(p.path, p.code, p.message) for p in validate(graph)]
    assert found == [
        (
            "nodes.1.params.tool_choice",
            "bad_params",
            "Value error, 'required' makes the model call a tool, and this agent has none: add a tool, or use auto",
        )
    ]


@pytest.mark.django_db
def test_it_names_a_knowledge_base_or_workflow_the_workspace_lacks(workspace):
    search = {"name": "search", "kind": "knowledge", "knowledge_base": "Nowhere"}
    call = {"name": "call", "kind": "workflow", "workflow_id": 999999}
    found = [(p.path, p.code) for p in validate(graph_with(search, call), workspace_id=workspace.pk)]
    assert found == [
        ("nodes.1.params.tools.0.knowledge_base", "not_in_workspace"),
        ("nodes.1.params.tools.1.workflow_id", "not_in_workspace"),
    ]


def agent_calling(workflow_id):
    tool = {"name": "ask", "description": "Asks the other workflow", "kind": "workflow", "workflow_id": workflow_id}
    return chain(TRIGGER, node("agent", "agent", message="{{ input.body }}", tools=[tool]))


@pytest.mark.django_db
def test_validation_and_publish_refuse_an_agent_tool_that_calls_its_own_workflow_back(owner, login_as):
    """First's agent calls Second as a tool, and Second calls First: refused with the path and the chain."""
    noop = chain(TRIGGER, node("noop", "transform", fields={}))
    first = WorkflowFactory(workspace=owner.workspace, name="First", draft=noop)
    WorkflowVersionFactory(workflow=first, number=1, graph=noop)
    third = WorkflowFactory(workspace=owner.workspace, name="Third", draft=noop)
    calls_first = chain(TRIGGER, node("call", "subworkflow", workflow_id=first.pk))
    WorkflowVersionFactory(workflow=third, number=1, graph=calls_first)
    second = WorkflowFactory(workspace=owner.workspace, name="Second", draft=noop)
    WorkflowVersionFactory(workflow=second, number=1, graph=agent_calling(third.pk))
    first.draft = agent_calling(second.pk)
    first.save()
    client = login_as(owner)
    problems = client.post_json(f"/api/v1/workflows/{first.pk}/validate", {}).json()
    assert [(p["path"], p["code"]) for p in problems] == [("nodes.1.params.tools.0.workflow_id", "recursive_call")]
    assert problems[0]["message"].startswith("'First' → 'Second' → 'Third' → 'First'")
    refused = client.post_json(f"/api/v1/workflows/{first.pk}/publish", {"note": ""})
    assert refused.status_code == 422
    [problem] = refused.json()["error"]["details"]["problems"]
    assert (problem["path"], problem["code"]) == ("nodes.1.params.tools.0.workflow_id", "recursive_call")
    assert first.versions.count() == 1


@pytest.mark.django_db
def test_an_agent_tool_calling_itself_directly_is_refused(workspace):
    from builder.calls import problems as draft_problems

    flow = WorkflowFactory(workspace=workspace, name="Selfish")
    WorkflowVersionFactory(workflow=flow, number=1, graph=chain(TRIGGER))
    found = [(p.path, p.code, p.message) for p in draft_problems(flow, agent_calling(flow.pk))]
    assert found == [
        (
            "nodes.1.params.tools.0.workflow_id",
            "recursive_call",
            "'Selfish' → 'Selfish': a workflow may not call itself, directly or through others",
        )
    ]
