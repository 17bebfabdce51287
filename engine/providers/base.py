"""The provider protocol: what a node may ask of a model server, and what it gets back."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.errors import NodeError

# Starts the numbered passages appended to a prompt; the built-in provider reads the passages
# from the request instead, so it cuts the prompt here.
SOURCES_HEADER = "\n\nSources (cite them as [n]):\n"


@dataclass(frozen=True)
class Passage:
    """Retrieved context (the retrieve node's `passages`): the built-in provider composes answers from these."""

    text: str
    score: float = 0.0
    title: str = ""
    source: str = ""


@dataclass(frozen=True)
class Label:
    name: str
    description: str = ""
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class ToolCall:
    """A function the model asks to call: its id (echoed back with the result), name and raw JSON arguments."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion. `schema` asks for JSON valid against it; `passages` and `labels` are
    structured hints the built-in provider reads (remote models read them from the prompt text).

    `tools` are function definitions ({name, description, parameters}) the model may call;
    with tools, an assistant message may carry `tool_calls` and a `tool` message answers one.
    `tool_use` marks an agent's turn: its answer is read for tool calls even with no tools
    offered (a model may call one anyway, and the agent tells it there is none).
    """

    model: str
    messages: tuple[dict[str, Any], ...]
    temperature: float = 0.0
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    schema: dict[str, Any] | None = None
    passages: tuple[Passage, ...] = ()
    labels: tuple[Label, ...] = ()
    tools: tuple[dict[str, Any], ...] = ()
    tool_choice: str | None = None
    tool_use: bool = False

    def cache_material(self) -> dict[str, Any]:
        """Everything that changes the answer; the cache key is a hash of it."""
        return {
            "model": self.model,
            "messages": list(self.messages),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stop": list(self.stop),
            "schema": self.schema,
            "passages": [passage.__dict__ for passage in self.passages],
            "labels": [[label.name, label.description, list(label.examples)] for label in self.labels],
            "tools": list(self.tools),
            "tool_choice": self.tool_choice,
            # Only when set, so that the keys of everything else cached before it existed still match.
            **({"tool_use": True} if self.tool_use else {}),
        }


@dataclass(frozen=True)
class Exchange:
    """One HTTP round trip (or one offline computation): billed as one cost entry."""

    tokens_in: int
    tokens_out: int
    latency_ms: int
    raw: str


@dataclass
class Completion:
    """The answer: `text`, and `data` when a schema was asked for; `exchanges` are the calls it took
    (a structured-output repair is a second one)."""

    text: str
    data: Any = None
    exchanges: list[Exchange] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)


def message_text(message: dict[str, Any]) -> str:
    """A message's text for counting and logging: its content, or the tool calls it carries."""
    content = message.get("content") or ""
    calls = message.get("tool_calls")
    return f"{content}\n{calls}" if calls else str(content)


class Unavailable(NodeError):
    """The server could not answer now (429, 5xx, timeout, connection): another try or provider may."""

    code = "model_unavailable"

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
        self.retry_after_s = retry_after_s


# Receives a streamed answer's text piece by piece, in order, as the model writes it.
OnText = Callable[[str], None]


class Provider(Protocol):
    name: str
    kind: str
    label: str

    def chat(self, request: ChatRequest, timeout_s: float, on_text: OnText | None = None) -> Completion:
        """The answer; with `on_text`, a plain-text answer (no schema, no labels) is also streamed to it."""
        ...

    def embed(self, model: str, texts: list[str], timeout_s: float) -> tuple[list[list[float]], int]: ...
