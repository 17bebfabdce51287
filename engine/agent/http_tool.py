"""The `http` tool kind: an HTTP request whose URL, headers and body are templates over the model's arguments.

`{{ args.order_id }}` in the URL is filled in percent-encoded; in the body, as given. The
request goes through the SSRF guard with the workspace allowlist; a write method (POST, PUT,
PATCH, DELETE) is a side effect, done once per run, node, loop and step through the effect
ledger and sent with that step's Idempotency-Key.
"""

import json
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine import expressions, outbound
from engine.agent.tools import ToolCall, ToolFailed, ToolKind, register_kind
from engine.errors import NodeError
from engine.ledger import effect_key
from engine.nodes.http_request import WRITE_METHODS, response_output

NAMES = frozenset({"args"})


def _templates_parse(value: Any) -> Any:
    for text in _strings(value):
        problems = expressions.problems(text, names=NAMES)
        if problems:
            raise ValueError(f"{text[:60]!r}: {problems[0]}")
    return value


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


class HttpFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: str = Field(min_length=1, max_length=4000, description="a template, e.g. https://shop/orders/{{ args.id }}")
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = Field(None, description="templates over {{ args }}; a string is sent as is, anything else as JSON")
    timeout_s: float = Field(20, gt=0, le=120)
    max_bytes: int = Field(1_000_000, gt=0, le=5_000_000)

    _checked = field_validator("url", "headers", "body")(_templates_parse)


@register_kind
class HttpTool(ToolKind):
    kind = "http"
    Fields = HttpFields

    @classmethod
    def call(cls, call: ToolCall) -> Any:
        fields: HttpFields = call.fields
        ctx = call.ctx
        encoded = {name: quote(str(value), safe="") for name, value in call.arguments.items()}
        try:
            url = expressions.render(fields.url, {"args": encoded}, names=NAMES)
            headers = expressions.render(fields.headers, {"args": call.arguments}, names=NAMES)
            body = expressions.render(fields.body, {"args": call.arguments}, names=NAMES)
        except expressions.ExpressionError as error:
            raise ToolFailed(f"the request could not be filled in from the arguments: {error}") from None
        sent = body if isinstance(body, str | None) else json.dumps(body)
        if sent is not None and not isinstance(body, str):
            headers.setdefault("Content-Type", "application/json")
        write = fields.method in WRITE_METHODS
        if write:
            headers.setdefault("Idempotency-Key", effect_key(ctx.run_id, ctx.node_id, call.key))

        def request() -> dict[str, Any]:
            try:
                response = outbound.request(
                    fields.method,
                    url,
                    headers=headers,
                    body=sent,
                    allowlist=ctx.http_allowlist,
                    timeout_s=min(fields.timeout_s, max(1.0, ctx.seconds_left())),
                    max_bytes=fields.max_bytes,
                )
            except NodeError as error:
                return {"error": str(error)}
            return response_output(response)

        if write and ctx.records_effects:
            # An evaluation sends no write: the model reads what would have been sent, as http_request records it.
            return {"status": None, "would_send": {"method": fields.method, "url": url, "body": body}}
        result = ctx.once(call.key, request) if write else request()
        if "error" in result and "status" not in result:
            raise ToolFailed(result["error"])
        return {"status": result["status"], "body": result["body"]}
