"""Safe evaluation of `{{ ... }}` templates and bare expressions in workflow graphs.

Semantics:
- Two top-level names exist, `input` and `nodes`; any other name is an error, statically and at run time.
  A third, `secrets`, exists only in the node params that allow it (`Node.secret_params`), and only as
  `secrets.NAME` with a literal name (engine/workspace_secrets.py).
- `a.b` and `a["b"]` look up dict keys or list indexes only, never Python attributes. A missing key is
  "undefined": it chains (`input.a.b.c`), is falsy, works with `default` and `is defined`, becomes None as a
  native value and "" in text. Arithmetic or ordering on it is an error.
- `render()` gives the native JSON value of a string that is exactly one `{{ expr }}`; other strings become
  text, where None and undefined print as "", booleans as true/false, lists and dicts as JSON.
  Strings without `{` are returned as they are.
- Only if/for blocks, a fixed set of pure filters and tests, and no calls, globals or Python attributes.
- Limits: template length, nesting, size of numbers (MAX_INT_BITS, checked on every operand and result),
  size of built strings and lists and of each rendered result, the total a node's params render to, and a
  step and wall-clock budget per render or evaluate call (never past the node's deadline); whatever
  exceeds one raises ExpressionError, whose message is short and safe to show.
"""

import functools
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from jinja2 import ChainableUndefined, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.environment import Template, TemplateExpression
from jinja2.filters import FILTERS
from jinja2.parser import Parser
from jinja2.runtime import Context, LoopContext, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.tests import TESTS
from jinja2.visitor import NodeTransformer

MAX_EXPRESSION_LENGTH = 20_000
MAX_OUTPUT_CHARS = 200_000
MAX_NESTING = 40
MAX_DEPTH = 100
MAX_STEPS = 5_000_000
MAX_SECONDS = 2.0
MAX_EXPONENT = 64
MAX_INT_BITS = 4096  # about 1,233 decimal digits: big enough for any real figure, cheap to multiply and print
MAX_RENDERED_CHARS = 1_000_000  # all of one node's rendered params together
MAX_PARSE_DEPTH = 200  # deeper trees are refused before anything recursive walks them
TOO_DEEP = f"nested more than {MAX_PARSE_DEPTH} levels deep; split it up"
_TOO_BIG = f"numbers are limited to {MAX_INT_BITS} bits (about 1,233 digits)"
NAMES = frozenset({"input", "nodes"})
SECRETS = "secrets"
SECRET_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
_RESERVED = NAMES | {"self", SECRETS}  # Jinja binds self to the template itself


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


SAFE_FILTERS = _words(
    "abs capitalize count d default dictsort first float int items join last length list lower map max min"
    " reject rejectattr replace reverse round select selectattr sort string sum title tojson trim truncate unique"
    " upper wordcount"
)
SAFE_TESTS = _words(
    "defined undefined none boolean true false number integer float string mapping sequence in even odd"
    " divisibleby eq ne lt gt le ge == != < > <= >= equalto lessthan greaterthan"
)
_ALLOWED_NODES = tuple(
    getattr(nodes, name)
    for name in _words(
        "Template Output TemplateData If For Name Const List Dict Pair Tuple Getattr Getitem Slice Filter"
        " Test CondExpr And Or Not Neg Pos Compare Operand Concat Add Sub Mul Div FloorDiv Mod Pow Keyword"
    )
)
_TAGS = {
    **dict.fromkeys(["Assign", "AssignBlock"], "set"),
    **dict.fromkeys(["Scope", "ScopedEvalContextModifier", "EvalContextModifier"], "autoescape"),
    **{"FromImport": "from", "CallBlock": "call", "FilterBlock": "filter"},
}
_LOOP_FIELDS = _words("index index0 revindex revindex0 first last length depth depth0 previtem nextitem")
_budget: ContextVar[list[float] | None] = ContextVar("expression_budget", default=None)
log = logging.getLogger(__name__)


class ExpressionError(Exception):
    """A template or expression is invalid or failed; the message is shown to the user."""


def _spend(units: float) -> None:
    budget = _budget.get()
    if budget is None:
        return
    budget[0] -= units
    if budget[0] < 0 or time.monotonic() > budget[1]:
        raise ExpressionError("the expression does too much work")


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple | dict) else 1


def _weight(value: Any, limit: int = MAX_OUTPUT_CHARS) -> int:
    # Characters plus items, nested ones included; counting stops soon after `limit`.
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        total += _size(item)
        stack.extend(item.values() if isinstance(item, dict) else item if isinstance(item, list | tuple) else ())
    return total


def _cap(length: int, limit: int = MAX_OUTPUT_CHARS) -> None:
    if length > limit:
        raise ExpressionError(f"the result would be longer than {limit} characters or items")


def _bounded(value: Any) -> None:
    # Python multiplies, divides and prints big integers in more than linear time, and refuses to print
    # more than 4,300 digits at all: a result too big to store held a worker until the reaper gave up.
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ExpressionError(_TOO_BIG)


def _to_json(value: Any, depth: int = 0, weight: list[int] | None = None) -> Any:
    _spend(1)
    if depth > MAX_DEPTH:
        raise ExpressionError(f"the value is nested deeper than {MAX_DEPTH} levels")
    # Count characters and items as they are copied: a list holding one long string 1,000 times is small
    # until it is written out. A value passed through as it is (`{{ nodes.fetch.body }}`) may be as large
    # as all of a node's params together; text and what filters and operators build stay within one result.
    weight = [0] if weight is None else weight
    weight[0] += _size(value)
    _cap(weight[0], MAX_RENDERED_CHARS)
    if value is None or isinstance(value, Undefined):
        return None
    if isinstance(value, bool | int):
        _bounded(value)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExpressionError("the result is not a finite number")
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): _to_json(item, depth + 1, weight) for key, item in value.items()}
    if isinstance(value, list | tuple | Iterator):
        return [_to_json(item, depth + 1, weight) for item in value]
    raise ExpressionError("the result is not JSON data")


def _text(value: Any) -> str:
    if value is None or isinstance(value, Undefined):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        _bounded(value)
        return str(value)
    return json.dumps(_to_json(value), ensure_ascii=False)


def _metered(fn: Callable[..., Any]) -> Callable[..., Any]:
    # Filters are where data gets copied or reshaped, so charge for what goes in and what comes out.
    @functools.wraps(fn)  # also copies jinja_pass_arg, which tells Jinja what to pass first
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _spend(1 + sum(_size(arg) for arg in args))
        result = fn(*args, **kwargs)
        _spend(_size(result))
        return result

    return wrapper


def _join(value: Iterable[Any], d: str = "") -> str:
    parts = [_text(item) for item in value]
    _cap(sum(map(len, parts)) + len(str(d)) * max(len(parts) - 1, 0))
    return str(d).join(parts)


def _replace(value: Any, old: Any, new: Any, count: int | None = None) -> str:
    text, old, new = _text(value), _text(old), _text(new)
    hits = text.count(old) if old else len(text) + 1
    _cap(len(text) + min(hits, hits if count is None or count < 0 else count) * max(len(new) - len(old), 0))
    return text.replace(old, new, -1 if count is None else count)


def _round(value: Any, precision: int = 0, method: str = "common") -> float:
    # Jinja computes 10 ** precision for ceil and floor.
    if not isinstance(precision, int) or abs(precision) > 15:
        raise ExpressionError("round() takes a precision between -15 and 15")
    return float(FILTERS["round"](value, precision, method))


def _sum(value: Iterable[Any], attribute: str | None = None, start: float = 0) -> Any:
    # Summing lists or strings copies them again and again.
    if not isinstance(start, int | float):
        raise ExpressionError("sum() adds numbers only")
    return FILTERS["sum"](_ENV, value, attribute, start)


def _tojson(value: Any) -> str:
    return json.dumps(_to_json(value))


def _concat(parts: list[Any]) -> str:
    total, texts = 0, []
    for part in parts:
        texts.append(_text(part))
        total += len(texts[-1])
        _cap(total)
    _spend(total)
    return "".join(texts)


def _iterate(value: Any) -> Iterator[Any]:
    for item in value:
        _spend(1)
        yield item


class _Environment(ImmutableSandboxedEnvironment):
    # Every arithmetic operator, so that each operand and result is checked (and none is folded at compile
    # time, where nothing is metered): + * ** grow values, and any of them is slow on huge integers.
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    intercepted_unops = frozenset({"+", "-"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        sized = (str, list, tuple)
        _bounded(left)
        _bounded(right)
        if operator == "%" and isinstance(left, str):
            raise SecurityError("string formatting with % is not allowed")
        if operator == "**":
            if not isinstance(right, int | float) or abs(right) > MAX_EXPONENT:
                raise SecurityError(f"exponents are limited to {MAX_EXPONENT}")
            if isinstance(left, int) and abs(left).bit_length() * abs(right) > 4096:
                raise SecurityError("the power is too large")
        if operator == "+" and isinstance(left, sized) and isinstance(right, sized):
            _cap(len(left) + len(right))
        if operator == "*":
            sequence, times = (left, right) if isinstance(left, sized) else (right, left)
            if isinstance(sequence, sized) and isinstance(times, int):
                # Weigh nested items too: [[1] * 1000] * 1000 is small on the outside only.
                _cap(_weight(sequence) * max(times, 0))
        result = super().call_binop(context, operator, left, right)
        _bounded(result)
        _spend(_size(result))
        return result

    def call_unop(self, context: Context, operator: str, arg: Any) -> Any:
        _bounded(arg)
        return super().call_unop(context, operator, arg)

    def getattr(self, obj: Any, attribute: str) -> Any:
        # A dot is a key lookup on data; Python attributes are never reachable.
        if isinstance(obj, LoopContext) and attribute in _LOOP_FIELDS:
            return getattr(obj, attribute)
        return self.getitem(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _spend(1)
        if isinstance(obj, Undefined):
            return obj
        found = isinstance(obj, Mapping) and isinstance(argument, str) and argument in obj
        if found or (isinstance(obj, list | tuple | str) and isinstance(argument, int | slice)):
            try:
                return obj[argument]
            except IndexError:
                pass
        return self.undefined(hint=f"{str(argument)[:60]!r} is not defined", name=str(argument))

    def is_safe_callable(self, obj: Any) -> bool:
        return False

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        raise SecurityError("calling is not allowed; use filters such as value|upper")


def _make_env() -> _Environment:
    env = _Environment(autoescape=False, undefined=ChainableUndefined, finalize=_text, keep_trailing_newline=True)
    env.globals.clear()
    custom: dict[str, Callable[..., Any]] = {"join": _join, "replace": _replace, "round": _round, "sum": _sum}
    custom |= {"string": _text, "tojson": _tojson}
    env.filters = {name: _metered(custom.get(name) or FILTERS[name]) for name in SAFE_FILTERS}
    env.filters |= {"_concat": _concat, "_iterate": _iterate}
    env.tests = {name: TESTS[name] for name in SAFE_TESTS}
    return env


_ENV = _make_env()


def _parse(text: str, expression: bool) -> nodes.Template:
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"longer than {MAX_EXPRESSION_LENGTH} characters")
    try:
        tree = _ENV.parse(text) if not expression else _parse_expression(text)
    except TemplateSyntaxError as error:
        raise ExpressionError(f"syntax error on line {error.lineno}: {error.message}") from None
    except RecursionError:
        raise ExpressionError(TOO_DEEP) from None
    except ValueError:
        # The lexer turns digits into an int, and Python refuses more than 4,300 of them.
        raise ExpressionError(_TOO_BIG) from None
    if _deeper_than(tree, MAX_PARSE_DEPTH):
        # `1 + 1 + ...` and `input.a.a...` parse without recursion, but Jinja walks the tree recursively.
        raise ExpressionError(TOO_DEEP)
    return tree


def _parse_expression(text: str) -> nodes.Template:
    parser = Parser(_ENV, text, state="variable")
    expr = parser.parse_expression()
    if not parser.stream.eos:
        raise TemplateSyntaxError("unexpected text after the expression", parser.stream.current.lineno)
    tree = nodes.Template([nodes.Output([expr], lineno=1)], lineno=1)
    tree.set_environment(_ENV)
    return tree


def _deeper_than(tree: nodes.Node, limit: int) -> bool:
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())
    return False


def _check(tree: nodes.Template, extra: frozenset[str] = frozenset()) -> list[str]:
    found: list[str] = []
    stack: list[tuple[nodes.Node, int, nodes.Node | None]] = [(tree, 0, None)]
    while stack:
        node, depth, parent = stack.pop()
        kind = type(node).__name__
        if depth > MAX_NESTING:
            return [*found, "nested too deeply"]
        if isinstance(node, nodes.Call):
            found.append("calling is not allowed; use filters such as value|upper")
        elif not isinstance(node, _ALLOWED_NODES):
            found.append(f"'{_TAGS.get(kind, kind.lower())}' is not allowed; only if and for blocks are")
        elif isinstance(node, nodes.Filter | nodes.Test):
            allowed = SAFE_FILTERS if isinstance(node, nodes.Filter) else SAFE_TESTS
            if node.name not in allowed:
                found.append(f"unknown {kind.lower()} '{node.name}'")
            elif node.dyn_args or node.dyn_kwargs:
                found.append("*args and **kwargs are not allowed")
            else:
                found.extend(_check_by_name(node))
        elif isinstance(node, nodes.For) and (
            node.recursive
            or {getattr(n, "name", "") for n in [node.target, *node.target.find_all(nodes.Name)]} & _RESERVED
        ):
            found.append("recursive loops and loop variables named input, nodes or self are not allowed")
        elif isinstance(node, nodes.Const) and not _fits(node.value):
            found.append(f"{_TOO_BIG}, and must be finite")
        elif isinstance(node, nodes.Name) and node.name == "self":
            found.append("unknown name 'self'; use input or nodes")
        elif isinstance(node, nodes.Name) and node.name == "nodes" and not _static_node_ref(parent):
            found.append("refer to a node as nodes.<id>; a computed node id is not allowed")
        elif isinstance(node, nodes.Name) and node.name == SECRETS and _secret_name(parent) is None:
            # A computed name would let whoever writes the run's input choose which secret is sent.
            found.append("refer to a secret as secrets.NAME (capital letters); a computed name is not allowed")
        stack.extend((child, depth + 1, node) for child in reversed(list(node.iter_child_nodes())))
    try:
        names = meta.find_undeclared_variables(tree) - NAMES - {SECRETS} - extra
    except TemplateError as error:
        # Only reachable when an earlier check already failed, e.g. on an unknown filter.
        return list(dict.fromkeys(found)) or [error.message or "invalid template"]
    return list(dict.fromkeys(found + [f"unknown name '{name}'; use input or nodes" for name in sorted(names)]))


def _fits(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)  # 1e999 reads as inf, which Jinja would compile to an unknown name
    return not isinstance(value, int) or value.bit_length() <= MAX_INT_BITS


def _check_by_name(node: nodes.Filter | nodes.Test) -> list[str]:
    # map/select/... name another filter or test in a string; hold those names to the same allowlist.
    position = {"map": 0, "select": 0, "reject": 0, "selectattr": 1, "rejectattr": 1}.get(node.name)
    if position is None or len(node.args) <= position:
        return []
    arg = node.args[position]
    allowed = SAFE_FILTERS if node.name == "map" else SAFE_TESTS
    if isinstance(arg, nodes.Const) and arg.value in allowed:
        return []
    return [f"{node.name}() needs the name of an allowed {'filter' if node.name == 'map' else 'test'}"]


def _static_node_ref(parent: nodes.Node | None) -> bool:
    if isinstance(parent, nodes.Getattr):
        return True
    return (
        isinstance(parent, nodes.Getitem) and isinstance(parent.arg, nodes.Const) and isinstance(parent.arg.value, str)
    )


def _secret_name(parent: nodes.Node | None) -> str | None:
    key = parent.attr if isinstance(parent, nodes.Getattr) else None
    if isinstance(parent, nodes.Getitem) and isinstance(parent.arg, nodes.Const):
        key = parent.arg.value
    return key if isinstance(key, str) and SECRET_NAME.match(key) else None


class _Guard(NodeTransformer):
    # Routes ~ and for-loops through metered helpers; Jinja would otherwise run them unobserved.
    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Filter(nodes.List(node.nodes), "_concat", [], [], None, None, lineno=node.lineno)

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, "_iterate", [], [], None, None, lineno=node.lineno)
        return node


@functools.lru_cache(maxsize=1024)
def _compile(
    text: str, expression: bool, extra: frozenset[str] = frozenset()
) -> tuple[Template | TemplateExpression, frozenset[str]]:
    tree = _parse(text, expression)
    found = _check(tree, extra)
    if found:
        raise ExpressionError("; ".join(found))
    names = frozenset(meta.find_undeclared_variables(tree))
    body = tree.body[0].nodes if isinstance(tree.body[0], nodes.Output) and len(tree.body) == 1 else []
    exprs = [n for n in body if not (isinstance(n, nodes.TemplateData) and not n.data.strip())]
    if len(exprs) == 1 and not isinstance(exprs[0], nodes.TemplateData):
        assign = nodes.Assign(nodes.Name("result", "store"), _Guard().visit(exprs[0]), lineno=1)
        return TemplateExpression(_ENV.from_string(nodes.Template([assign], lineno=1)), False), names
    return _ENV.from_string(_Guard().visit(tree)), names


@contextmanager
def budget(deadline: float | None = None) -> Iterator[None]:
    """One budget for everything rendered or evaluated inside: MAX_STEPS steps, MAX_SECONDS ending no
    later than `deadline` (a time.monotonic() value), and MAX_RENDERED_CHARS of rendered templates.

    render() and evaluate() open one of their own when none is open. A node's params share one, so a
    node with a thousand templates gets MAX_SECONDS in all, not a thousand times that, and never more
    than what is left of its timeout. Inside an open budget, a nested call's `deadline` is ignored.
    """
    if _budget.get() is not None:
        yield
        return
    ends = time.monotonic() + MAX_SECONDS
    token = _budget.set([MAX_STEPS, ends if deadline is None else min(ends, deadline), 0])
    try:
        yield
    finally:
        _budget.reset(token)


def _run(text: str, scope: Mapping[str, Any], expression: bool, extra: frozenset[str] = frozenset()) -> Any:
    compiled, names = _compile(text, expression, extra)
    missing = sorted(names - set(scope))
    if missing:
        raise ExpressionError(f"unknown name '{missing[0]}'")
    try:
        _spend(1)  # fails at once when the node's time is already up
        if isinstance(compiled, TemplateExpression):
            return _to_json(compiled(dict(scope)))
        total, chunks = 0, []
        for chunk in compiled.generate(dict(scope)):
            total += len(chunk)
            _cap(total)
            chunks.append(chunk)
        return "".join(chunks)
    except ExpressionError:
        raise
    except SecurityError as error:
        raise ExpressionError(f"not allowed: {_clean(error)}") from None
    except TemplateError as error:
        raise ExpressionError(_clean(error)) from None
    except ZeroDivisionError:
        raise ExpressionError("division by zero") from None
    except (RecursionError, MemoryError):
        raise ExpressionError("the expression does too much work") from None
    except (TypeError, ValueError, OverflowError, LookupError, AttributeError) as error:
        raise ExpressionError(f"cannot evaluate: {_clean(error)}") from None
    except Exception as error:
        # A sandbox bug must still fail the node with a message, not a traceback; the log keeps the details.
        log.exception("expression failed unexpectedly")
        raise ExpressionError(f"cannot evaluate ({type(error).__name__})") from None


def _clean(error: Exception) -> str:
    # Python error texts can carry object reprs such as <built-in method ...>; keep only the plain words.
    message = getattr(error, "message", None) or str(error)
    return re.sub(r"<[^>]*>|\b0x[0-9a-f]+", "…", message)[:300] or type(error).__name__


def render(
    value: Any, scope: Mapping[str, Any], *, deadline: float | None = None, names: frozenset[str] = frozenset()
) -> Any:
    """Render every string value inside `value` (dict keys stay as they are); see the module docstring.

    All templates in `value` share one budget, which ends by `deadline` (a time.monotonic() value), and
    together render to at most MAX_RENDERED_CHARS characters and items. `names`: top-level names
    besides input and nodes that `scope` holds (a for_each item's `item` and `index`).
    """
    with budget(deadline):
        return _render(value, scope, 0, names)


def _render(value: Any, scope: Mapping[str, Any], depth: int, extra: frozenset[str]) -> Any:
    if depth > MAX_DEPTH:
        raise ExpressionError(f"parameters are nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        if "{" not in value:
            return value
        result = _run(value, scope, False, extra)
        # Each template is capped on its own; without a total, 100 of them made a 40 MB node input.
        spent = _budget.get()
        assert spent is not None  # render() opened one
        spent[2] += _weight(result, MAX_RENDERED_CHARS)
        if spent[2] > MAX_RENDERED_CHARS:
            raise ExpressionError(f"the templates render to more than {MAX_RENDERED_CHARS} characters in all")
        return result
    if isinstance(value, Mapping):
        return {key: _render(item, scope, depth + 1, extra) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_render(item, scope, depth + 1, extra) for item in value]
    return value


def evaluate(expression: str, scope: Mapping[str, Any], *, deadline: float | None = None) -> Any:
    """Evaluate a bare expression such as `nodes.classify.confidence >= 0.8` to its native JSON value."""
    with budget(deadline):
        return _run(expression, scope, expression=True)


def problems(
    text: str, *, expression: bool = False, secrets: bool = False, names: frozenset[str] = frozenset()
) -> list[str]:
    """Every problem found in `text` without running it; an empty list means it is fine.

    `secrets` False reports any use of `secrets`; graph validation passes True and reports
    secrets in params that do not allow them itself (engine/graph.py). `names`: top-level names
    allowed besides input and nodes.
    """
    if not expression and "{" not in text:
        return []
    try:
        found = _check(_parse(text, expression), names)
    except ExpressionError as error:
        return [str(error)]
    if not secrets and referenced_secrets(text, expression=expression):
        found.append("secrets are not available here")
    return found


def referenced_nodes(text: str, *, expression: bool = False) -> set[str]:
    """Node ids that `text` refers to as nodes.<id> or nodes["<id>"]; empty when it does not parse."""
    try:
        tree = _parse(text, expression)
    except ExpressionError:
        return set()
    found = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        assert isinstance(node, nodes.Getattr | nodes.Getitem)
        if isinstance(node.node, nodes.Name) and node.node.name == "nodes":
            key = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
            if isinstance(key, str):
                found.add(key)
    return found


def referenced_secrets(text: str, *, expression: bool = False) -> set[str]:
    """Secret names that `text` refers to as secrets.NAME or secrets["NAME"]; empty when it does not parse."""
    if SECRETS not in text:
        return set()
    try:
        tree = _parse(text, expression)
    except ExpressionError:
        return set()
    found = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        assert isinstance(node, nodes.Getattr | nodes.Getitem)
        if isinstance(node.node, nodes.Name) and node.node.name == SECRETS and (name := _secret_name(node)):
            found.add(name)
    return found


def scope(input: Any, nodes: Mapping[str, Any]) -> dict[str, Any]:
    """The names an expression can see."""
    return {"input": input, "nodes": dict(nodes)}
