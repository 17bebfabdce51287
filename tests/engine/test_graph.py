"""Validation returns every problem with its path and code, and executes nothing."""

from engine.graph import MAX_NODES, json_schema, parse, validate
from tests.engine.graphs import TRIGGER, chain, edge, graph, node


def codes(data) -> set[tuple[str, str]]:
    return {(p.path, p.code) for p in validate(data)}


def test_it_accepts_the_reference_logic_workflow():
    data = graph(
        node("start", "trigger", input_schema={"type": "object", "required": ["body"]}),
        node("route", "condition", expression="input.priority == 'high'"),
        node("answer", "reply", answer="Thanks for writing: {{ input.body }}"),
        node("humans", "escalate", reason="High priority: {{ input.subject }}"),
        edges=[edge("start", "route"), edge("route", "answer", "false"), edge("route", "humans", "true")],
    )
    assert validate(data) == []


def test_it_reports_a_broken_document_by_field():
    assert codes({"schema_version": 2, "nodes": [{"id": "1bad", "type": "trigger"}], "edges": "no"}) == {
        ("schema_version", "schema"),
        ("nodes.0.id", "schema"),
        ("edges", "schema"),
    }


def test_it_reports_unknown_types_and_bad_params():
    data = chain(TRIGGER, node("wait", "delay", seconds=-1), node("mystery", "teleport"))
    found = codes(data)
    assert ("nodes.1.params.seconds", "bad_params") in found
    assert ("nodes.2.type", "unknown_type") in found


def test_it_reports_dangling_edges_and_unknown_handles():
    data = graph(
        TRIGGER,
        node("route", "condition", expression="true"),
        node("done", "reply", answer="x"),
        edges=[
            edge("start", "route"),
            edge("route", "done", "maybe"),
            edge("ghost", "done"),
            edge("route", "nowhere", "true"),
        ],
    )
    found = codes(data)
    assert ("edges.1.source_handle", "unknown_handle") in found
    assert ("edges.2.source", "dangling_edge") in found
    assert ("edges.3.target", "dangling_edge") in found


def test_it_refuses_edges_into_a_trigger():
    data = graph(TRIGGER, node("t", "transform"), edges=[edge("start", "t"), edge("t", "start")])
    assert ("edges.1.target_handle", "unknown_handle") in codes(data)


def test_it_names_switch_cases_as_handles():
    ok = graph(
        TRIGGER,
        node("pick", "switch", value="input.kind", cases=["billing", "bug"]),
        node("a", "reply", answer="a"),
        node("b", "reply", answer="b"),
        node("c", "reply", answer="c"),
        edges=[
            edge("start", "pick"),
            edge("pick", "a", "billing"),
            edge("pick", "b", "bug"),
            edge("pick", "c", "default"),
        ],
    )
    assert validate(ok) == []
    ok["edges"][1]["source_handle"] = "refund"
    assert ("edges.1.source_handle", "unknown_handle") in codes(ok)


def test_it_requires_exactly_one_trigger():
    assert ("nodes", "no_trigger") in codes(graph(node("t", "transform")))
    assert ("nodes.1", "several_triggers") in codes(graph(TRIGGER, node("again", "trigger")))


def test_it_finds_cycles():
    data = graph(
        TRIGGER,
        node("a", "transform"),
        node("b", "transform"),
        edges=[edge("start", "a"), edge("a", "b"), edge("b", "a")],
    )
    assert {("nodes.1", "cycle"), ("nodes.2", "cycle")} <= codes(data)


def test_it_finds_unreachable_nodes():
    data = graph(TRIGGER, node("a", "transform"), node("island", "transform"), edges=[edge("start", "a")])
    assert codes(data) == {("nodes.2", "unreachable")}


def test_it_checks_expressions_refer_only_to_upstream_nodes():
    data = graph(
        TRIGGER,
        node("a", "transform", fields={"x": "{{ nodes.b.y }}"}),
        node("b", "transform", fields={"y": "{{ nodes.a.x }}", "z": "{{ nodes.ghost.q }}"}),
        edges=[edge("start", "a"), edge("start", "b")],
    )
    found = codes(data)
    assert ("nodes.1.params.fields.x", "not_upstream") in found
    assert ("nodes.2.params.fields.y", "not_upstream") in found
    assert ("nodes.2.params.fields.z", "unknown_node_reference") in found


def test_it_checks_bare_expressions_of_conditions():
    data = chain(TRIGGER, node("a", "transform"), node("route", "condition", expression="nodes.later.ok and"))
    assert ("nodes.2.params.expression", "bad_expression") in codes(data)
    data = chain(TRIGGER, node("route", "condition", expression="nodes.a.ok"), node("a", "transform"))
    assert ("nodes.1.params.expression", "not_upstream") in codes(data)


def test_it_reports_template_syntax_errors_and_unknown_names():
    data = chain(TRIGGER, node("a", "transform", fields={"x": "{{ input.x ", "y": "{{ secrets.key }}"}))
    found = codes(data)
    assert ("nodes.1.params.fields.x", "bad_expression") in found
    assert ("nodes.1.params.fields.y", "bad_expression") in found


def test_it_reports_duplicates():
    data = graph(
        TRIGGER, node("a", "transform"), node("a", "transform"), edges=[edge("start", "a"), edge("start", "a")]
    )
    found = codes(data)
    assert ("nodes.2.id", "duplicate_id") in found
    assert ("edges.1.id", "duplicate_id") in found
    assert ("edges.1", "duplicate_edge") in found


def test_it_enforces_size_limits():
    many = graph(TRIGGER, *[node(f"n{i}", "transform") for i in range(MAX_NODES)])
    assert codes(many) == {("nodes", "too_many_nodes")}
    huge = chain(TRIGGER, node("a", "transform", fields={"blob": "x" * 2_100_000}))
    assert codes(huge) == {("", "too_large")}


def test_it_returns_every_problem_at_once():
    data = graph(
        node("a", "teleport"),
        node("b", "delay", seconds="soon"),
        edges=[edge("a", "b"), edge("b", "c")],
    )
    found = {code for _, code in codes(data)}
    assert {"unknown_type", "bad_params", "dangling_edge", "no_trigger"} <= found


def test_it_never_renders_templates_while_validating(server):
    data = chain(
        TRIGGER,
        node("call", "http_request", url=server.url + "/{{ input.path }}", method="POST"),
    )
    assert validate(data) == []
    assert server.requests() == []


def test_it_exports_a_json_schema_for_the_canvas():
    schema = json_schema()
    assert schema["title"] == "Graph"
    assert {"nodes", "edges", "schema_version"} <= set(schema["properties"])


def test_it_keeps_sticky_notes_apart_from_nodes():
    data = chain(TRIGGER, node("answer", "reply", answer="hi"))
    data["notes"] = [{"id": "note_1", "text": "Ask legal before changing this", "position": {"x": 5, "y": 5}}]
    assert validate(data) == []
    parsed = parse(data)
    assert [n.id for n in parsed.nodes] == ["start", "answer"]
    assert parsed.notes[0].text == "Ask legal before changing this"
    data["notes"][0]["text"] = "x" * 5001
    assert [p.path for p in validate(data)] == ["notes.0.text"]
