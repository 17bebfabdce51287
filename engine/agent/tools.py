"""An agent's tools: the spec a graph holds, and the registry of tool kinds (one module each).

A tool in a graph is `{name, description, parameters, requires_approval, kind, ...}`; the
fields after `kind` belong to the kind and are checked by its `Fields` model. A kind is a
`ToolKind` subclass decorated with `@register_kind`: the engine's own are `http` and
`workflow` and `mcp` (engine/agent/http_tool.py, workflow_tool.py, mcp_tool.py); `knowledge` registers from the
knowledge app, as its nodes do, so the core imports no app.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.providers import structured
from engine.registry import NodeContext

if TYPE_CHECKING:
    from engine.models import ChildRound
    from engine.runs.children import ChildPlan

TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ANY_OBJECT: dict[str, Any] = {"type": "object", "properties": {}}


class NoFields(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class ToolCall:
    """One validated call a kind carries out: the node's context, the tool, its arguments and the effect key."""

    ctx: NodeContext
    spec: "ToolSpec"
    fields: Any
    arguments: dict[str, Any]
    # Unique per run, node, loop and step: the effect ledger's key for a side-effecting call.
    key: str


class ToolKind:
    """A kind of tool: its fields, its argument schema, and how a call is carried out.

    `call` returns JSON for the model or raises ToolFailed (its message goes back to the model).
    A call with a side effect goes through the effect ledger: `call.ctx.once(call.key, work)`.
    A kind with `child_runs` runs as a child run instead: `plan` says what to start (the calls
    of one turn start together, a round each), `gather` reads the finished child's result.
    """

    kind: ClassVar[str]
    Fields: ClassVar[type[BaseModel]] = NoFields
    child_runs: ClassVar[bool] = False

    @classmethod
    def argument_schema(cls, spec: "ToolSpec", fields: Any, workspace_id: int) -> dict[str, Any]:
        return spec.parameters or ANY_OBJECT

    @classmethod
    def workspace_problems(cls, fields: Any, workspace_id: int) -> Iterator[tuple[str, str]]:
        """(path under the tool, message) for fields naming what the workspace lacks."""
        return iter(())

    @classmethod
    def offered(cls, spec: "ToolSpec", fields: Any, workspace_id: int) -> list[tuple["ToolSpec", dict[str, Any]]]:
        """The model's tools this spec stands for, each with its argument schema: one, unless the kind
        brings several (an MCP server's tools)."""
        return [(spec, cls.argument_schema(spec, fields, workspace_id))]

    @classmethod
    def call(cls, call: ToolCall) -> Any:
        raise NotImplementedError

    @classmethod
    def plan(cls, call: ToolCall) -> "ChildPlan":
        raise NotImplementedError

    @classmethod
    def gather(cls, call: ToolCall, closed: "ChildRound") -> tuple[Any, dict[str, Any]]:
        """The child's result for the model from the call's closed round, and what the step keeps of it (run id)."""
        raise NotImplementedError


class ToolFailed(Exception):
    """The tool could not do what the model asked; the message is the tool's result for the model."""


_kinds: dict[str, type[ToolKind]] = {}


def register_kind(cls: type[ToolKind]) -> type[ToolKind]:
    existing = _kinds.get(cls.kind)
    if existing is not None and existing is not cls:
        raise ValueError(f"tool kind {cls.kind!r} is registered twice: {existing.__module__} and {cls.__module__}")
    _kinds[cls.kind] = cls
    return cls


def kind_of(name: str) -> type[ToolKind] | None:
    return _kinds.get(name)


def kind_names() -> list[str]:
    return sorted(_kinds)


class ToolSpec(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str = Field(description="what the model calls it: letters, digits, _ and -, at most 64")
    description: str = Field("", max_length=4000, description="what the tool does, for the model")
    parameters: dict[str, Any] | None = Field(
        None, description="JSON Schema of the arguments; a workflow tool defaults to its trigger's input schema"
    )
    requires_approval: bool = Field(False, description="a reviewer approves, edits or rejects each call first")
    kind: str = Field(description="knowledge, http, workflow, mcp, or another registered tool kind")

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not TOOL_NAME.match(name):
            raise ValueError("use letters, digits, _ and - (1 to 64)")
        return name

    @field_validator("kind")
    @classmethod
    def _kind(cls, kind: str) -> str:
        if kind not in _kinds:
            raise ValueError(f"there is no tool kind {kind!r}; use one of {', '.join(kind_names())}")
        return kind

    @field_validator("parameters")
    @classmethod
    def _parameters(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if schema is None:
            return None
        try:
            structured.check_schema(schema)
        except Exception as error:  # noqa: BLE001  (jsonschema raises its own SchemaError; the message is the point)
            raise ValueError(f"not a valid JSON Schema: {getattr(error, 'message', error)}") from None
        if schema.get("type") != "object":
            raise ValueError('a tool\'s arguments are an object: the schema needs "type": "object"')
        return schema

    @model_validator(mode="after")
    def _fields(self) -> "ToolSpec":
        self.fields()
        return self

    def kind_class(self) -> type[ToolKind]:
        return _kinds[self.kind]

    def fields(self) -> Any:
        """The kind's own fields, checked by its model."""
        kind = _kinds[self.kind]
        try:
            return kind.Fields.model_validate(self.model_extra or {})
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(map(str, first["loc"])) or self.kind
            raise ValueError(f"{where}: {first['msg']}") from None
