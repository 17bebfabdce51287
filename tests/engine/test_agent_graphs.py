"""Graph validation of agent nodes: tool kinds, tool schemas and names are refused with their path."""

import pytest

from engine.graph import validate
from tests.engine.graphs import TRIGGER, chain, node


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


def test_it_refuses_tool_choice_required_without_tools():
    graph = chain(TRIGGER, node("agent", "agent", message="hi", tool_choice="required"))
    assert [(p.path, p.code) for p in validate(graph)] == [("nodes.1.params", "bad_params")]


@pytest.mark.django_db
def test_it_names_a_knowledge_base_or_workflow_the_workspace_lacks(workspace):
    search = {"name": "search", "kind": "knowledge", "knowledge_base": "Nowhere"}
    call = {"name": "call", "kind": "workflow", "workflow_id": 999999}
    found = [(p.path, p.code) for p in validate(graph_with(search, call), workspace_id=workspace.pk)]
    assert found == [
        ("nodes.1.params.tools.0.knowledge_base", "not_in_workspace"),
        ("nodes.1.params.tools.1.workflow_id", "not_in_workspace"),
    ]
