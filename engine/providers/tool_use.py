"""The built-in provider's tool-use mode: offline, deterministic, and labelled as such in its answers.

First turn (no tool has answered yet): it calls the first tool taking a `query` string with the
user's message, and every other tool whose required arguments all appear as labelled lines of
that message ("Order: 1001" fills `order_id`). Next turn: it answers from the tool results,
composing and citing their passages as the generate node does and quoting the other results.
With no tools (an agent configured without any) it answers at once and says it had none.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.providers import structured
from engine.providers.base import ChatRequest, Passage, ToolCall

# Starts every answer of this mode, so nobody takes it for a model's.
LABEL = "[Built-in offline agent: deterministic tool use, no model]"
QUOTED_CHARS = 600
NO_TOOLS = "This agent has no tools, so it answers without calling any."


@dataclass(frozen=True)
class OfflineTurn:
    text: str
    data: Any = None
    calls: list[ToolCall] = field(default_factory=list)


def offline_turn(request: ChatRequest, compose: Callable[[str, list[Passage]], str]) -> OfflineTurn:
    question = _first_user_message(request)
    answered = [message for message in request.messages if message.get("role") == "tool"]
    asked_before = any(message.get("tool_calls") for message in request.messages if message.get("role") == "assistant")
    if not asked_before:
        calls = _planned(request.tools, question)
        if calls:
            return OfflineTurn(text=f"{LABEL} Calling {', '.join(call.name for call in calls)}.", calls=calls)
    passages: list[Passage] = []
    quoted: list[str] = []
    names = _names_by_call(request)
    for message in answered:
        found = _passages(message.get("content") or "")
        if found:
            passages.extend(found)
        else:
            name = names.get(str(message.get("tool_call_id")), "tool")
            quoted.append(f"{name}: {str(message.get('content') or '')[:QUOTED_CHARS]}")
    if request.schema is not None:
        data = structured.fill(request.schema, "\n".join([question, *quoted]), tuple(passages))
        return OfflineTurn(text=json.dumps(data), data=data)
    body = compose(question, passages)
    label = f"{LABEL} {NO_TOOLS}" if not request.tools else LABEL
    return OfflineTurn(text="\n".join([label, body, *(["", "Tool results:", *quoted] if quoted else [])]))


def _planned(tools: tuple[dict[str, Any], ...], question: str) -> list[ToolCall]:
    calls: list[ToolCall] = []
    searched = False
    for tool in tools:
        parameters = tool.get("parameters") or {}
        properties: dict[str, Any] = parameters.get("properties") or {}
        required = [name for name in parameters.get("required") or [] if name in properties]
        if not searched and (properties.get("query") or {}).get("type") == "string":
            searched = True
            arguments: dict[str, Any] | None = {"query": question[:2000]}
        else:
            arguments = _labelled_arguments(properties, required, question) if required else None
        if arguments is not None:
            calls.append(ToolCall(f"call_offline_{len(calls)}", str(tool["name"]), json.dumps(arguments)))
    return calls


def _labelled_arguments(properties: dict[str, Any], required: list[str], question: str) -> dict[str, Any] | None:
    arguments: dict[str, Any] = {}
    for name, schema in properties.items():
        if structured.labelled(name, question) is None:
            if name in required:
                return None
            continue
        arguments[name] = structured.fill({"type": "object", "properties": {name: schema}}, question)[name]
    return arguments


def _first_user_message(request: ChatRequest) -> str:
    return next((str(m.get("content") or "") for m in request.messages if m.get("role") == "user"), "")


def _names_by_call(request: ChatRequest) -> dict[str, str]:
    return {
        str(call.get("id")): str(call.get("function", {}).get("name"))
        for message in request.messages
        for call in message.get("tool_calls") or []
    }


def _passages(content: str) -> list[Passage]:
    """The passages of a tool's result ({passages: [{text, score, title, source}]}, or an HTTP tool's
    {status, body: {passages: …}}), else none."""
    try:
        result = json.loads(content)
    except ValueError:
        return []
    if isinstance(result, dict) and isinstance(result.get("body"), dict):
        result = result["body"]
    found = result.get("passages") if isinstance(result, dict) else None
    if not isinstance(found, list):
        return []
    return [
        Passage(
            text=item["text"],
            score=float(item.get("score") or 0.0),
            title=str(item.get("title") or ""),
            source=str(item.get("source") or ""),
        )
        for item in found
        if isinstance(item, dict) and isinstance(item.get("text"), str)
    ]
