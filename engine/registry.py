"""The node contract and the registry of node kinds.

A node kind is a subclass of `Node` with a pydantic `Params` model (its JSON Schema feeds
the canvas and validation), named input and output handles, a `side_effect` flag and
`run(ctx) -> NodeResult`. Apps register their kinds with `@register`; the engine looks them
up by the `kind` string stored in users' graphs, so a kind is never renamed.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from engine.providers.calls import ModelCalls
    from engine.runs.children import ChildPlan
    from engine.workspace_secrets import SecretsInUse

P = TypeVar("P", bound=BaseModel)
# A node's `on_failure` (engine/graph.py): fail the run, or continue through the error handle.
FAIL_RUN: Final = "fail_run"
CONTINUE: Final = "continue"
ERROR_HANDLE: Final = "error"


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass
class NodeResult:
    """What a node hands back.

    output: JSON for downstream expressions (`{{ nodes.<id>.<field> }}`).
    handle: for branching nodes, the one output handle that becomes active; None activates all.
    usage: token counts and cost for the cost ledger.
    wait_until: park the node as waiting, holding no worker, until this time (or until resumed).
    park: park the node as waiting with no time limit, until engine.runs.resume() is called.
    children: with park, the child runs to start as the node parks (engine/runs/children.py), one plan or
    several (a round each, started together); the node is woken when they have all ended.
    answer / escalation: recorded on the run by reply and escalate nodes.
    A parked node runs again when it wakes or is resumed, with ctx.resumed telling it which.
    """

    output: Any = None
    handle: str | None = None
    usage: dict[str, Any] | None = None
    wait_until: datetime | None = None
    park: bool = False
    answer: Any = None
    escalation: str | None = None
    children: "ChildPlan | list[ChildPlan] | None" = None

    def child_plans(self) -> list["ChildPlan"]:
        if self.children is None:
            return []
        return self.children if isinstance(self.children, list) else [self.children]


@dataclass
class NodeContext:
    """Everything a running node may use. Nodes never touch models directly."""

    run_id: int
    workspace_id: int
    node_id: str
    attempt: int
    params: Any
    scope: dict[str, Any]
    deadline: float
    resumed: dict[str, Any] | None = None
    http_allowlist: list[str] = field(default_factory=list)
    once: Callable[[str, Callable[[], Any]], Any] = field(default=lambda key, work: work())
    run_created_by: int | None = None
    workflow_id: int | None = None
    version_number: int | None = None
    secrets: "SecretsInUse | None" = None
    # An evaluation: side-effecting nodes record what they would have sent (`would_send`) and send nothing.
    records_effects: bool = False

    def reveal(self, params: P) -> P:
        """The params with `{{ secrets.NAME }}` filled in: call just before the outbound call, store none of it."""
        return self.secrets.reveal(params) if self.secrets else params

    def redact(self, value: Any) -> Any:
        """`value` with any secret revealed to this node replaced by `[secret NAME]`."""
        return self.secrets.redact(value) if self.secrets else value

    def evaluate(self, expression: str) -> Any:
        from engine.expressions import evaluate

        return evaluate(expression, self.scope)

    def model_calls(self, node_type: str, cache_ttl_s: int = 0) -> "ModelCalls":
        """Model calls billed to this run, node and attempt, under the workspace's budgets."""
        from engine.providers.calls import ModelCalls

        return ModelCalls(self, node_type, cache_ttl_s)

    def seconds_left(self) -> float:
        import time

        return max(0.0, self.deadline - time.monotonic())


class Node:
    kind: ClassVar[str]
    label: ClassVar[str]
    category: ClassVar[str] = "Logic"
    description: ClassVar[str] = ""
    Params: ClassVar[type[BaseModel]] = NoParams
    inputs: ClassVar[tuple[str, ...]] = ("in",)
    outputs: ClassVar[tuple[str, ...]] = ("out",)
    side_effect: ClassVar[bool] = False
    is_trigger: ClassVar[bool] = False
    # False: a kind only the project's own code puts in graphs (an eval run's scoring), left out of the palette.
    listed: ClassVar[bool] = True
    # Params holding a bare expression (evaluated by the node) rather than a {{ }} template.
    expression_params: ClassVar[frozenset[str]] = frozenset()
    # Params passed to the node as written, neither rendered nor checked for references.
    literal_params: ClassVar[frozenset[str]] = frozenset()
    # Params that may refer to workspace secrets ({{ secrets.NAME }}); the node calls ctx.reveal.
    secret_params: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def runs_inline(cls, params: Any) -> bool:
        """Whether the node, with these (rendered) params, is cheap enough to run on the worker's task thread.

        True only for a node that makes no network call, reads nothing and returns at once:
        the worker then runs it in the transaction that recorded the node before it and
        records its outcome in that transaction too (engine.runs.claims.ClaimNext.inline).
        """
        return False

    @classmethod
    def output_handles(cls, params: dict[str, Any]) -> tuple[str, ...]:
        """Handles for this node's params; switch nodes override this to name one per case."""
        return cls.outputs

    @classmethod
    def workspace_problems(cls, params: dict[str, Any], workspace_id: int) -> Iterator[tuple[str, str]]:
        """(path under params, message) for params naming things the workspace lacks, e.g. a non-member."""
        return iter(())

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """The node type as the canvas sees it (GET /api/v1/node-types)."""
        return {
            "kind": cls.kind,
            "label": cls.label,
            "category": cls.category,
            "description": cls.description,
            "inputs": list(cls.inputs),
            "outputs": list(cls.outputs),
            "side_effect": cls.side_effect,
            "is_trigger": cls.is_trigger,
            "params_schema": cls.Params.model_json_schema(),
            # A trigger never fails; every other node may route its failure to `handle` (docs/engine.md).
            "on_failure": None
            if cls.is_trigger
            else {"choices": [FAIL_RUN, CONTINUE], "default": FAIL_RUN, "handle": ERROR_HANDLE},
        }

    def run(self, ctx: NodeContext) -> NodeResult:
        raise NotImplementedError


N = TypeVar("N", bound=type[Node])
_registry: dict[str, type[Node]] = {}


def register(cls: N) -> N:
    existing = _registry.get(cls.kind)
    if existing is not None and existing is not cls:
        raise ValueError(f"node kind {cls.kind!r} is registered twice: {existing.__module__} and {cls.__module__}")
    _registry[cls.kind] = cls
    return cls


def get(kind: str) -> type[Node] | None:
    return _registry.get(kind)


def kinds() -> Iterator[type[Node]]:
    """The kinds the designer's palette offers."""
    yield from sorted((cls for cls in _registry.values() if cls.listed), key=lambda cls: (cls.category, cls.label))
