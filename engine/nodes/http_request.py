"""The HTTP request node: any method, SSRF-guarded, writes done once through the effect ledger."""

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine import outbound
from engine.errors import NodeError, NonRetryableError
from engine.ledger import effect_key
from engine.registry import Node, NodeContext, NodeResult, register

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class HttpRequestParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    url: str = Field(min_length=1, max_length=4000)
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = Field(None, description="a string is sent as is; anything else as JSON")
    timeout_s: float = Field(30, gt=0, le=300)
    max_bytes: int = Field(2_000_000, gt=0, le=20_000_000)
    fail_on_error_status: bool = Field(True, description="fail the node on a 4xx or 5xx answer")


def response_output(response: outbound.OutboundResponse) -> dict[str, Any]:
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text()
    return {"status": response.status, "headers": response.headers, "body": body, "url": response.url}


def check_status(response: outbound.OutboundResponse) -> None:
    if response.status >= 500 or response.status == 429:
        raise NodeError(f"The server answered {response.status}", code=f"http_{response.status}")
    if response.status >= 400:
        raise NonRetryableError(f"The server answered {response.status}", code=f"http_{response.status}")


@register
class HttpRequest(Node):
    """Calls a URL. Output: {status, headers, body (JSON when it parses), url}.

    Loopback, private, link-local and metadata addresses are refused unless the workspace
    allowlist admits them, on every redirect hop. POST, PUT, PATCH and DELETE are recorded in
    the effect ledger and carry an Idempotency-Key, so a retried node does not repeat them.
    5xx and 429 answers are retryable, other 4xx are not. The URL and headers may use
    `{{ secrets.NAME }}`: the values are filled in just before the call, and the recorded input,
    the output and any error show `[secret NAME]` instead.
    """

    kind = "http_request"
    label = "HTTP request"
    category = "Integrations"
    description = "Calls an HTTP API."
    Params = HttpRequestParams
    side_effect = True
    secret_params = frozenset({"url", "headers"})

    def run(self, ctx: NodeContext) -> NodeResult:
        p: HttpRequestParams = ctx.params
        headers = dict(p.headers)
        body = p.body if isinstance(p.body, str | None) else json.dumps(p.body)
        if body is not None and not isinstance(p.body, str):
            headers.setdefault("Content-Type", "application/json")
        if p.method in WRITE_METHODS:
            headers.setdefault("Idempotency-Key", effect_key(ctx.run_id, ctx.node_id, "request"))

        def call() -> dict[str, Any]:
            # Secrets are decrypted here, inside the ledger's once(), and nothing holding them is returned.
            real = ctx.reveal(p)
            try:
                response = outbound.request(
                    p.method,
                    real.url,
                    headers={**headers, **real.headers},
                    body=body,
                    allowlist=ctx.http_allowlist,
                    timeout_s=min(p.timeout_s, ctx.seconds_left()),
                    max_bytes=p.max_bytes,
                    # Headers that carry a secret are not sent on to another origin on a redirect.
                    secret_headers=[name for name, value in real.headers.items() if value != p.headers.get(name)],
                )
                if p.fail_on_error_status:
                    check_status(response)
            except NodeError as error:
                raise ctx.secrets.redact_error(error) if ctx.secrets else error from None
            return ctx.redact(response_output(response))

        if p.method in WRITE_METHODS and ctx.records_effects:
            # An evaluation sends no write; the recorded URL and headers keep their {{ secrets.NAME }} unrevealed.
            would_send = {"method": p.method, "url": p.url, "headers": p.headers, "body": p.body}
            return NodeResult(output={"status": None, "would_send": would_send})
        if p.method in WRITE_METHODS:
            return NodeResult(output=ctx.once("request", call))
        return NodeResult(output=call())
