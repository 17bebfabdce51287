"""The safe expression evaluator: rendering, conditions, static checks and the sandbox-escape corpus."""

import functools
import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from engine import expressions
from engine.expressions import (
    MAX_EXPRESSION_LENGTH,
    MAX_OUTPUT_CHARS,
    MAX_RENDERED_CHARS,
    SAFE_FILTERS,
    TOO_DEEP,
    ExpressionError,
    evaluate,
    problems,
    referenced_nodes,
    render,
    scope,
)

INPUT = {
    "customer": {"name": "Ada Lovelace", "email": "ada@example.com"},
    "priority": "high",
    "tags": ["billing", "urgent", "billing"],
    "count": 3,
    "ratio": -2.5,
    "flag": True,
    "nothing": None,
    "text": "  the quick brown fox  ",
    "orders": [{"id": 1, "total": 30, "status": "open"}, {"id": 2, "total": 12, "status": "closed"}],
    "big": list(range(2000)),
    "long": "x" * 150_000,
}
NODES = {"classify": {"label": "refund", "confidence": 0.93}, "fetch": {"body": {"items": [1, 2]}}}
SCOPE = scope(INPUT, NODES)
INTERNALS = (
    "<class",
    "function",
    "module",
    "built-in",
    "builtin",
    "object at 0x",
    "__globals__",
    "jinja2",
    "Traceback",
)


def test_it_builds_the_scope_from_input_and_nodes():
    assert scope({"a": 1}, {"n": {"x": 2}}) == {"input": {"a": 1}, "nodes": {"n": {"x": 2}}}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ nodes.classify.confidence }}", 0.93),
        ("{{ input.tags }}", ["billing", "urgent", "billing"]),
        ("  {{ input.count }}\n", 3),
        ("{{ input.flag }}", True),
        ("{{ input.nothing }}", None),
        ("{{ input.customer }}", {"name": "Ada Lovelace", "email": "ada@example.com"}),
        ('{{ nodes["fetch"].body.items }}', [1, 2]),
        ("{{ input.tags[0] }}", "billing"),
        ("{{ input.tags.1 }}", "urgent"),
        ("{{ input.tags[-1] }}", "billing"),
        ("{{ input.count * 2 + 1 }}", 7),
        ("{{ [input.count, {'k': input.priority}] }}", [3, {"k": "high"}]),
        ("{{ input.orders|map(attribute='id')|list }}", [1, 2]),
        ("{{ input|items|first }}", ["customer", {"name": "Ada Lovelace", "email": "ada@example.com"}]),
    ],
)
def test_it_returns_the_native_value_of_a_single_expression(template: str, expected: Any):
    assert render(template, SCOPE) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Hello {{ input.customer.name }}", "Hello Ada Lovelace"),
        ("{{ nodes.classify.label }}: {{ nodes.classify.confidence }}", "refund: 0.93"),
        ("{{ input.count }}{{ input.count }}", "33"),
        ("flag={{ input.flag }} none=[{{ input.nothing }}]", "flag=true none=[]"),
        ("tags={{ input.tags }}", 'tags=["billing", "urgent", "billing"]'),
        ("{{ input.customer }}!", '{"name": "Ada Lovelace", "email": "ada@example.com"}!'),
        ("{% if input.priority == 'high' %}ESCALATE{% else %}normal{% endif %}", "ESCALATE"),
        (
            "{% for o in input.orders %}{{ loop.index }}.{{ o.id }}{% if not loop.last %}, {% endif %}{% endfor %}",
            "1.1, 2.2",
        ),
        ("{% for t in input.missing %}{{ t }}{% else %}none{% endfor %}", "none"),
        (
            "{% for k, v in input.customer|items %}{{ k }}={{ v }};{% endfor %}",
            "name=Ada Lovelace;email=ada@example.com;",
        ),
        ("line\n", "line\n"),
        ("no template here", "no template here"),
        ("{# a comment #}x", "x"),
    ],
)
def test_it_renders_other_strings_as_text(template: str, expected: str):
    assert render(template, SCOPE) == expected


def test_it_renders_nested_params_and_passes_other_values_through():
    params = {
        "to": "{{ input.customer.email }}",
        "subject": "Re: {{ nodes.classify.label }}",
        "{{ key }}": 1,
        "list": ["{{ input.count }}", 2.5, None, True, {"deep": ["{{ input.tags|length }}"]}],
        "limit": 10,
    }
    assert render(params, SCOPE) == {
        "to": "ada@example.com",
        "subject": "Re: refund",
        "{{ key }}": 1,
        "list": [3, 2.5, None, True, {"deep": [3]}],
        "limit": 10,
    }
    assert params["to"] == "{{ input.customer.email }}"
    for value in (None, 7, 1.5, False):
        assert render(value, SCOPE) == value


def test_it_treats_missing_keys_as_undefined():
    assert render("{{ input.missing }}", SCOPE) is None
    assert render("{{ input.a.b.c }}", SCOPE) is None
    assert render("{{ nodes.classify.missing.deeper }}", SCOPE) is None
    assert render("[{{ input.a.b.c }}]", SCOPE) == "[]"
    assert render("{{ input.missing|default('n/a') }}", SCOPE) == "n/a"
    assert render("{{ input.missing|d('n/a') }}", SCOPE) == "n/a"
    assert render("{{ input.missing is defined }}", SCOPE) is False
    assert render("{{ input.tags[10] }}", SCOPE) is None
    assert render("{{ [input.missing] }}", SCOPE) == [None]
    assert evaluate("not input.missing", SCOPE) is True


def test_it_fails_on_arithmetic_with_undefined_values():
    with pytest.raises(ExpressionError, match="'missing' is not defined"):
        render("{{ input.missing + 1 }}", SCOPE)
    with pytest.raises(ExpressionError):
        evaluate("input.missing > 3", SCOPE)


def test_it_rejects_unknown_top_level_names():
    with pytest.raises(ExpressionError, match="unknown name 'customer'"):
        render("Hello {{ customer.name }}", SCOPE)
    with pytest.raises(ExpressionError, match="unknown name 'x'"):
        evaluate("x == 1", SCOPE)
    with pytest.raises(ExpressionError, match="unknown name 'nodes'"):
        render("{{ nodes.classify.label }}", {"input": INPUT})


def test_it_looks_up_dict_keys_only_never_python_attributes():
    data = scope({"a": 1, "items": "the items key"}, {})
    assert render("{{ input.items }}", data) == "the items key"
    for name in ("keys", "values", "get", "pop", "update", "copy", "__class__", "__dict__"):
        assert render(f"{{{{ input.{name} }}}}", scope({"a": 1}, {})) is None
        assert render(f"{{{{ input.a.{name} }}}}", scope({"a": "text"}, {})) is None


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('nodes.classify.confidence >= 0.8 and input.priority == "high"', True),
        ('nodes.classify.confidence >= 0.95 or input.priority == "low"', False),
        ("not input.flag", False),
        ("input.count != 3", False),
        ("input.count < 4 and input.count > 2 and input.count <= 3 and input.count >= 3", True),
        ('"urgent" in input.tags', True),
        ('"ada" in input.customer.email', True),
        ('"email" in input.customer', True),
        ("3 not in input.big[:3]", True),
        ("input.count * 2 - 1", 5),
        ("input.count / 2", 1.5),
        ("input.count // 2", 1),
        ("input.count % 2", 1),
        ("input.count ** 2", 9),
        ("-input.ratio", 2.5),
        ('input.customer.name ~ " <" ~ input.customer.email ~ ">"', "Ada Lovelace <ada@example.com>"),
        ('"a" + "b"', "ab"),
        ("[1, 2] + [3]", [1, 2, 3]),
        ('"ab" * 3', "ababab"),
        ('"yes" if input.flag else "no"', "yes"),
        ('"yes" if input.missing else "no"', "no"),
        ("{'label': nodes.classify.label, 'n': [1, 2.5, true, none]}", {"label": "refund", "n": [1, 2.5, True, None]}),
        ("(1, 2)", [1, 2]),
        ("input.nothing is none", True),
        ("input.count is number and input.count is integer and input.ratio is float", True),
        ("input.priority is string and input.customer is mapping and input.tags is sequence", True),
        ("input.flag is boolean and input.flag is true and not (input.flag is false)", True),
        ("input.count is odd and not (input.count is even) and 9 is divisibleby(input.count)", True),
        ("input.count is eq(3) and input.count is ne(4) and input.count is lt(4) and input.count is gt(2)", True),
        ("input.count is le(3) and input.count is ge(3) and input.count is in([3])", True),
        ("input.missing is undefined and input.count is defined", True),
        ("input.orders|selectattr('total', '>', 20)|map(attribute='id')|list", [1]),
        ("input.big|select('even')|list|length", 1000),
    ],
)
def test_it_evaluates_conditions_and_operators(expression: str, expected: Any):
    assert evaluate(expression, SCOPE) == expected


FILTER_CASES = [
    ("{{ input.ratio|abs }}", 2.5),
    ("{{ input.priority|capitalize }}", "High"),
    ("{{ input.tags|count }}", 3),
    ("{{ input.missing|default('none') }}", "none"),
    ("{{ input.missing|d(0) }}", 0),
    ("{{ input.customer|dictsort|first }}", ["email", "ada@example.com"]),
    ("{{ input.tags|first }}", "billing"),
    ("{{ '2.5'|float }}", 2.5),
    ("{{ '42'|int }}", 42),
    ("{{ input.customer|items|list|length }}", 2),
    ("{{ input.tags|join(', ') }}", "billing, urgent, billing"),
    ("{{ input.tags|last }}", "billing"),
    ("{{ input.customer.name|length }}", 12),
    ("{{ 'ab'|list }}", ["a", "b"]),
    ("{{ input.customer.name|lower }}", "ada lovelace"),
    ("{{ input.tags|map('upper')|list }}", ["BILLING", "URGENT", "BILLING"]),
    ("{{ input.orders|max(attribute='total') }}", {"id": 1, "total": 30, "status": "open"}),
    ("{{ [3, 1, 2]|min }}", 1),
    ("{{ [1, 2, 3, 4]|reject('odd')|list }}", [2, 4]),
    ("{{ input.orders|rejectattr('status', 'eq', 'open')|map(attribute='id')|list }}", [2]),
    ("{{ input.customer.name|replace('Ada', 'Augusta Ada') }}", "Augusta Ada Lovelace"),
    ("{{ [1, 2, 3]|reverse|list }}", [3, 2, 1]),
    ("{{ 2.567|round(2) }}", 2.57),
    ("{{ 2.1|round(0, 'ceil') }}", 3.0),
    ("{{ [1, 2, 3, 4]|select('even')|list }}", [2, 4]),
    ("{{ input.orders|selectattr('status', 'eq', 'closed')|map(attribute='total')|first }}", 12),
    ("{{ [3, 1, 2]|sort }}", [1, 2, 3]),
    ("{{ input.orders|sort(attribute='total')|map(attribute='id')|list }}", [2, 1]),
    ("{{ input.count|string }}", "3"),
    ("{{ input.flag|string }}", "true"),
    ("{{ input.orders|sum(attribute='total') }}", 42),
    ("{{ input.customer.name|title }}", "Ada Lovelace"),
    ("{{ input.customer|tojson }}", '{"name": "Ada Lovelace", "email": "ada@example.com"}'),
    ("{{ input.text|trim }}", "the quick brown fox"),
    ("{{ 'hello world foo'|truncate(9, true, '...', 0) }}", "hello ..."),
    ("{{ input.tags|unique|list }}", ["billing", "urgent"]),
    ("{{ input.priority|upper }}", "HIGH"),
    ("{{ input.text|wordcount }}", 4),
]


@pytest.mark.parametrize(("template", "expected"), FILTER_CASES)
def test_it_applies_each_allowed_filter(template: str, expected: Any):
    assert render(template, SCOPE) == expected


def test_it_exercises_every_allowed_filter():
    used = set()
    for template, _ in FILTER_CASES:
        used |= set(re.findall(r"\|\s*(\w+)", template))
    assert used == SAFE_FILTERS


@pytest.mark.parametrize(
    "expression",
    [
        "(2**63)**64 * (2**63)**64 * (2**63)**64 * (2**63)**64",
        "(2**63)**64 * 2**64",
        "(2**63)**64 * 2**63 + (2**63)**64 * 2**63",
        "(2**63)**64 * 2**63 - (0 - (2**63)**64 * 2**63)",
        "('9' * 2000)|int * ('9' * 2000)|int",
        "('9' * 4000)|int + 1",
        "('9' * 4000)|int // 2",
        "('9' * 4000)|int % 7",
        "-(('9' * 4000)|int)",
        "('9' * 4000)|int",
        "[('9' * 1300)|int, 1]",
        "((2**63)**64 * 2**64)|string",
    ],
)
def test_it_bounds_integers_on_every_operator_and_result(expression: str):
    with pytest.raises(ExpressionError, match="numbers are limited to 4096 bits"):
        evaluate(expression, SCOPE)


def test_it_keeps_ordinary_large_numbers():
    assert evaluate("2**64 * 2**64", SCOPE) == 2**128
    assert evaluate("(2**63)**64", SCOPE) == (2**63) ** 64
    assert evaluate("('9' * 1000)|int + 1", SCOPE) == 10**1000
    assert render("{{ 2**64 * 2**36 }} apples", SCOPE) == f"{2**100} apples"


def test_it_caps_what_all_of_a_nodes_templates_render_to():
    fields = {f"f{i}": "{{ 'a' * 199999 }}" for i in range(100)}
    with pytest.raises(ExpressionError, match=f"more than {MAX_RENDERED_CHARS} characters in all"):
        render(fields, SCOPE)
    with expressions.budget():  # one budget for a node's params, however many calls render them
        for key, value in list(fields.items())[:5]:
            render({key: value}, SCOPE)
        with pytest.raises(ExpressionError, match="in all"):
            render({"f5": fields["f5"]}, SCOPE)
    assert len(render(dict(list(fields.items())[:5]), SCOPE)) == 5
    assert render({"literal": "x" * 2_000_000}, SCOPE) == {"literal": "x" * 2_000_000}  # only templates count


def test_it_caps_a_native_value_by_what_it_holds_not_its_length():
    assert len(render("{{ [input.long, input.long] }}", SCOPE)) == 2  # passed through: a node's params' worth
    with pytest.raises(ExpressionError, match=f"longer than {MAX_RENDERED_CHARS}"):
        render("{{ [" + ", ".join(["input.long"] * 7) + "] }}", SCOPE)
    with pytest.raises(ExpressionError, match=f"longer than {MAX_OUTPUT_CHARS}"):
        render("Both: {{ [input.long, input.long] }}", SCOPE)  # written out as text: one result's worth


def test_it_stops_at_the_deadline_it_is_given():
    with pytest.raises(ExpressionError, match="does too much work"):
        render("{{ input.count }}", SCOPE, deadline=time.monotonic() - 1)
    with pytest.raises(ExpressionError, match="does too much work"):
        evaluate("input.count > 1", SCOPE, deadline=time.monotonic() - 1)
    assert evaluate("input.count > 1", SCOPE, deadline=time.monotonic() + 60) is True


@pytest.mark.parametrize(
    ("text", "expression"),
    [
        ("{{ " + " + ".join(["1"] * 3000) + " }}", False),
        ("{{ input" + ".a" * 3000 + " }}", False),
        ("{{ nodes.x" + ".a" * 3000 + " }}", False),
        (" + ".join(["nodes.x.a"] * 1500), True),
        ("input" + ".a" * 3000, True),
        ("(" * 3000 + "1" + ")" * 3000, True),
        ("{% if 1 %}" * 900 + "{% endif %}" * 900, False),
    ],
)
def test_it_reports_templates_too_deep_to_read_without_recursing(text: str, expression: bool):
    assert problems(text, expression=expression) == [TOO_DEEP]
    assert referenced_nodes(text, expression=expression) == set()
    with pytest.raises(ExpressionError, match="levels deep"):
        evaluate(text, SCOPE) if expression else render(text, SCOPE)


def test_it_caps_rendered_output():
    with pytest.raises(ExpressionError, match=f"longer than {MAX_OUTPUT_CHARS}"):
        render("{% for n in input.big %}{{ input.customer }}{{ input.customer }}{% endfor %}", SCOPE)
    with pytest.raises(ExpressionError, match=f"longer than {MAX_OUTPUT_CHARS}"):
        render("{{ input.long ~ input.long }}", SCOPE)
    assert len(render("{{ input.long }}", SCOPE)) == 150_000


def test_it_refuses_templates_over_the_length_limit():
    text = "{{ input.count }}" + " " * MAX_EXPRESSION_LENGTH
    with pytest.raises(ExpressionError, match=f"longer than {MAX_EXPRESSION_LENGTH} characters"):
        render(text, SCOPE)
    assert problems(text) == [f"longer than {MAX_EXPRESSION_LENGTH} characters"]


def test_it_reports_no_problems_for_valid_templates_and_expressions():
    assert problems("Hello {{ input.customer.name|title }}") == []
    assert problems("{% for o in input.orders %}{{ loop.index }} {{ o.id }}{% endfor %}") == []
    assert problems("plain text, no template") == []
    assert problems('nodes.classify.confidence >= 0.8 and input.priority == "high"', expression=True) == []


@pytest.mark.parametrize(
    ("text", "expression", "message"),
    [
        ("Hello {{ input.name", False, "syntax error on line 1"),
        ("{% if input.a %}x", False, "syntax error"),
        ("input.a ==", True, "syntax error"),
        ("input.a }} {{", True, "syntax error"),
        ("{{ customer.name }}", False, "unknown name 'customer'; use input or nodes"),
        ("secret == 1", True, "unknown name 'secret'"),
        ("{{ input.a|attr('x') }}", False, "unknown filter 'attr'"),
        ("{{ input.a|format(1) }}", False, "unknown filter 'format'"),
        ("{{ input.a|indent(4) }}", False, "unknown filter 'indent'"),
        ("input.a is callable", True, "unknown test 'callable'"),
        ("{{ input.tags|map('pprint') }}", False, "map() needs the name of an allowed filter"),
        ("{{ input.tags|select('sameas', 1) }}", False, "select() needs the name of an allowed test"),
        ("{{ input.a|join(*input.b) }}", False, "*args and **kwargs are not allowed"),
        ("{{ input.name.upper() }}", False, "calling is not allowed"),
        ("{% include 'x.html' %}", False, "'include' is not allowed"),
        ("{% set x = 1 %}{{ x }}", False, "'set' is not allowed"),
        ("{% macro m() %}{% endmacro %}", False, "'macro' is not allowed"),
        ("{{ nodes[input.which] }}", False, "refer to a node as nodes.<id>"),
        ("{{ nodes }}", False, "refer to a node as nodes.<id>"),
        ("{% for input in input.tags %}{% endfor %}", False, "loop variables named input"),
        ("{{ " + "[" * 60 + "]" * 60 + " }}", False, "nested too deeply"),
        ("{{ 1 }}" + "x" * MAX_EXPRESSION_LENGTH, False, "longer than"),
    ],
)
def test_it_reports_problems_without_running_anything(text: str, expression: bool, message: str):
    found = problems(text, expression=expression)
    assert any(message in problem for problem in found), found
    for problem in found:
        assert not any(marker in problem for marker in INTERNALS)


def test_it_finds_referenced_nodes_statically():
    assert referenced_nodes("Hi {{ nodes.classify.label }}") == {"classify"}
    assert referenced_nodes("{{ nodes['fetch'].body }} {{ nodes[\"other-node\"] }}") == {"fetch", "other-node"}
    assert referenced_nodes("{{ nodes.a.items|map(attribute='x')|join(nodes.b.sep) }}") == {"a", "b"}
    assert referenced_nodes("{{ input.x|default(nodes.fallback.value) }}") == {"fallback"}
    assert referenced_nodes("{% if nodes.gate.ok %}{{ nodes.a[nodes.b.key] }}{% endif %}") == {"gate", "a", "b"}
    assert referenced_nodes("{% for x in nodes.list.items %}{{ x }}{% endfor %}") == {"list"}
    assert referenced_nodes("nodes.classify.confidence >= 0.8 and nodes['x'].y", expression=True) == {"classify", "x"}
    assert referenced_nodes("input.nodes.fake and input['nodes']", expression=True) == set()
    assert referenced_nodes("{{ nodes.a") == set()
    assert referenced_nodes("no templates") == set()


def test_it_caches_compiled_templates():
    expressions._compile.cache_clear()
    for _ in range(3):
        render("{{ input.count }}", SCOPE)
    assert expressions._compile.cache_info().hits == 2


PAYLOADS = [
    # Python object graph walks (SSTI classics).
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ input.__class__.__mro__ }}",
    "{{ ().__class__.__base__.__subclasses__() }}",
    "{{ {}.__class__.__bases__[0].__subclasses__() }}",
    "{{ input['__class__']['__init__']['__globals__'] }}",
    "{{ input.customer.__init__.__globals__['__builtins__']['__import__']('os').popen('id').read() }}",
    "{{ __import__('os').popen('id').read() }}",
    "{{ input.tags|map(attribute='__class__')|list }}",
    "{{ input.orders|sort(attribute='__class__.__mro__') }}",
    "{{ input|selectattr('__class__')|list }}",
    "{{ input.missing.__class__ }}",
    "{{ input.missing._undefined_obj }}",
    # Jinja globals and template internals.
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ lipsum(n=1000000) }}",
    "{{ namespace }}",
    "{{ range(10**9)|list }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__init__.__globals__.__builtins__ }}",
    "{% for x in input.tags %}{{ loop.__class__ }}{{ loop.cycle.__globals__ }}{{ loop._iterator }}{% endfor %}",
    "{{ config }}",
    "{{ config.items() }}",
    "{{ request.application.__globals__.__builtins__.__import__('os').popen('id').read() }}",
    # str.format and friends: CVE-2016-10745, CVE-2019-10906, CVE-2024-56326, CVE-2025-27516.
    '{{ "{0.__class__}".format(input) }}',
    '{{ "{a.__class__}".format_map(input) }}',
    '{{ "{0.__class__.__init__.__globals__}".format(input.customer) }}',
    '{{ "%s"|format(input) }}',
    '{{ "a"|attr("__class__") }}',
    '{{ ("{0.__class__}"|attr("format"))(input) }}',
    '{% set f = "{0.__class__}".format %}{{ f(input) }}',
    "{{ '%s %r' % (input, input) }}",
    # Calling and mutating.
    "{{ input.customer.name.upper() }}",
    "{{ input.tags.pop() }}",
    "{{ input.tags.append(1) }}",
    "{{ input.items() }}",
    "{{ input|map('upper') }}",
    "{{ input|map('attr', '__class__')|list }}",
    # Blocks that load or define things.
    "{% include '/etc/passwd' %}",
    "{% import 'os' as os %}{{ os.system('id') }}",
    "{% extends 'base.html' %}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "{% filter upper %}{{ input }}{% endfilter %}",
    # Other engines' payloads (n8n, JS): must simply fail or render inertly.
    "{{ $jmespath(input, 'customer') }}",
    "{{ this.constructor.constructor('return process.env')() }}",
    "{{ input.constructor.constructor('return process')() }}",
    "{{ input.customer['constructor']['constructor'] }}",
    "${{ 7*7 }} #{7*7} <%= 7*7 %>",
    # Resource bombs.
    "{{ 9**9**9**9 }}",
    "{{ 10**100**100 }}",
    "{{ 2**64**64 }}",
    "{{ 'a' * 10**9 }}",
    "{{ [1] * 10**9 }}",
    "{{ [[1] * 100000] * 100000 }}",
    "{{ ([[1] * 100000] * 100000)|tojson }}",
    "{{ '%999999999d' % 1 }}",
    "{{ input.long|replace('', input.long) }}",
    "{{ input.big|join(input.long) }}",
    "{{ input.tags|join('x' * 199999) }}",
    "{{ input.long ~ input.long ~ input.long }}",
    "{{ 1.5|round(1000000000, 'ceil') }}",
    "{{ input.orders|sum(start=[]) }}",
    "{{ 'a\nb'|indent(1000000000) }}",
    "{{ 'a'|center(1000000000) }}",
    "{{ input.tags|batch(1000000000, 0)|list }}",
    "{% for a in input.big %}{% for b in input.big %}{% for c in input.big %}{% endfor %}{% endfor %}{% endfor %}",
    "{% for a in input.big %}{% for b in input.big %}{{ b }}{% endfor %}{% endfor %}",
    "{{ " + "[" * 300 + "]" * 300 + " }}",
    "{{ " + "(" * 1000 + "1" + ")" * 1000 + " }}",
    # Big integers: plain multiplication was not capped, and the result could not even be stored.
    "{{ (2**63)**64 * (2**63)**64 * (2**63)**64 * (2**63)**64 }}",
    "{{ " + " * ".join(["(2**63)**64"] * 300) + " }}",
    "{{ ((2**63)**64 * (2**63)**64)|string }}",
    "{{ (2**63)**64 * (2**63)**64 - 1 }}",
    "{{ -((2**63)**64 * (2**63)**64) }}",
    "{{ ('9' * 4000)|int * ('9' * 4000)|int }}",
    "{{ ('9' * 4000)|int }}",
    "{{ [(2**63)**64, (2**63)**64]|sum * (2**63)**64 }}",
    "{{ " + "9" * 5000 + " }}",
    "{{ 1.5e400 }}",
    "{{ (2**63)**64 / 3 }}",
    # Values that are small until they are written out.
    "{{ [" + ", ".join(["input.long"] * 7) + "] }}",
    "{{ {'a': input.long, 'b': input.long}|tojson }}",
    # Too deep for Jinja's recursive tree walks (RecursionError answered 500 on save).
    "{{ " + " + ".join(["1"] * 3000) + " }}",
    "{{ input" + ".a" * 3000 + " }}",
    "{{ nodes.x" + ".a" * 3000 + " }}",
    "{% if 1 %}" * 900 + "{% endif %}" * 900,
]


def _outcome(attempt: Callable[[], Any]) -> str:
    """What a user could see: the rendered value, or the error message."""
    try:
        value = attempt()
    except ExpressionError as error:
        return str(error)
    return value if isinstance(value, str) else json.dumps(value)


def test_it_has_a_large_enough_sandbox_corpus():
    assert len(PAYLOADS) >= 25


@pytest.mark.parametrize("payload", PAYLOADS)
def test_it_contains_sandbox_escapes_and_resource_bombs(payload: str):
    attempts = [functools.partial(render, payload, SCOPE)]
    bare = re.fullmatch(r"\{\{(.*)\}\}", payload, re.DOTALL)
    if bare and "{{" not in bare.group(1):
        attempts.append(functools.partial(evaluate, bare.group(1), SCOPE))
    for attempt in attempts:
        # This thread's CPU time, not wall time: what the payload cost, which other load does not inflate.
        started = time.thread_time()
        seen = _outcome(attempt)
        assert time.thread_time() - started < 5
        assert not any(marker in seen for marker in INTERNALS), seen[:200]


@pytest.mark.parametrize(
    "payload",
    ["{{ input.items() }}", '{{ "{0.__class__}".format(input) }}', "{{ input.customer.name.upper() }}"],
)
def test_it_refuses_calls_with_a_clear_message(payload: str):
    with pytest.raises(ExpressionError, match="calling is not allowed"):
        render(payload, SCOPE)


def test_it_leaves_json_data_untouched_by_rendering():
    before = json.dumps(INPUT)
    for payload in PAYLOADS:
        _outcome(functools.partial(render, payload, SCOPE))
    assert json.dumps(INPUT) == before
