"""How a run ends for the customer: reply (the answer) or escalate (to a human team)."""

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine import outbound
from engine.ledger import effect_key
from engine.nodes.http_request import check_status
from engine.registry import Node, NodeContext, NodeResult, register


def post_once(ctx: NodeContext, key: str, url: str, payload: dict[str, Any]) -> dict[str, Any]:
    """POST JSON through the effect ledger with a stable Idempotency-Key; returns {status}.

    In an evaluation (ctx.records_effects) nothing is sent: returns {would_send: {method, url, body}}.
    """
    if ctx.records_effects:
        return {"would_send": {"method": "POST", "url": url, "body": payload}}

    def call() -> dict[str, Any]:
        response = outbound.request(
            "POST",
            url,
            headers={"Content-Type": "application/json", "Idempotency-Key": effect_key(ctx.run_id, ctx.node_id, key)},
            body=json.dumps(payload),
            allowlist=ctx.http_allowlist,
            timeout_s=min(30.0, ctx.seconds_left()),
            max_bytes=100_000,
        )
        check_status(response)
        return {"status": response.status}

    result: dict[str, Any] = ctx.once(key, call)
    return result


class ReplyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: Any = Field(description="the reply; templates allowed, e.g. {{ nodes.generate.text }}")
    callback_url: str | None = Field(None, max_length=4000, description="also POST the reply here")


@register
class Reply(Node):
    """Records the run's answer and optionally POSTs {run_id, answer} to `callback_url`, once.

    Output: {"answer", "delivered", "status"}. The POST carries an Idempotency-Key that stays
    the same across retries and redeliveries.
    """

    kind = "reply"
    label = "Reply"
    category = "Outcomes"
    description = "Answers with the reply and optionally delivers it to a URL."
    Params = ReplyParams
    outputs = ()
    side_effect = True

    @classmethod
    def runs_inline(cls, params: Any) -> bool:
        """Without a callback it only records the answer: no network."""
        return not params.callback_url

    def run(self, ctx: NodeContext) -> NodeResult:
        p: ReplyParams = ctx.params
        output: dict[str, Any] = {"answer": p.answer, "delivered": False}
        if p.callback_url:
            sent = post_once(ctx, "callback", p.callback_url, {"run_id": ctx.run_id, "answer": p.answer})
            output |= sent if "would_send" in sent else {"delivered": True, "status": sent["status"]}
        return NodeResult(output=output, answer={"answer": p.answer})


class EscalateParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)
    webhook_url: str | None = Field(None, max_length=4000, description="also POST {run_id, reason} here")


@register
class Escalate(Node):
    """Marks the run escalated with `reason` and optionally notifies a webhook, once. Output: {"reason", "notified"}."""

    kind = "escalate"
    label = "Escalate"
    category = "Outcomes"
    description = "Hands the case to people, with a reason."
    Params = EscalateParams
    outputs = ()
    side_effect = True

    def run(self, ctx: NodeContext) -> NodeResult:
        p: EscalateParams = ctx.params
        output: dict[str, Any] = {"reason": p.reason, "notified": False}
        if p.webhook_url:
            sent = post_once(ctx, "webhook", p.webhook_url, {"run_id": ctx.run_id, "reason": p.reason})
            output |= sent if "would_send" in sent else {"notified": True}
        return NodeResult(output=output, escalation=p.reason)
