"""Model calls made by one node attempt: fallback, in-call retries, cache, budget, billing, call log.

A node gets a ModelCalls from `ctx.model_calls(...)`; every call it makes is numbered within
the attempt, billed once through engine.costs.record (idempotent per call, so a redelivered
task bills nothing twice) and kept in `log` with its prompt, raw answer, tokens, cost,
latency and whether it came from the cache, which the node returns as its usage.

A call the provider answered is billed even through a database blip: the bill and the
budgets' settlement are tried again with backoff for up to a lease (engine.transient), so
the answer is billed before the node's outcome is recorded, whatever becomes of that.
"""

import hashlib
import json
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from types import EllipsisType
from typing import Any

from django.utils import timezone

from engine import budgets, costs, live, spans
from engine.connection_release import release_connection
from engine.errors import NodeError, NonRetryableError
from engine.models import CachedCompletion, CostEntry, ModelPrice, Run
from engine.providers import (
    BUILTIN,
    BUILTIN_EMBEDDING_MODEL,
    EMBED_TIMEOUT_S,
    builtin,
    resolve,
    shared_facts,
    structured,
    tokens,
)
from engine.providers.base import ChatRequest, Completion, Exchange, Provider, ToolCall, Unavailable, message_text
from engine.providers.openai_compatible import KIND, SchemaFailure
from engine.registry import NodeContext
from engine.sql import lookups
from engine.transient import persist

# Output tokens assumed for the budget estimate when a node sets no max tokens.
DEFAULT_MAX_OUTPUT_TOKENS = 1024
# Tokens a chat message costs beyond its content (role and separators), for the estimate.
MESSAGE_OVERHEAD_TOKENS = 4
# A structured answer's request also carries the schema and, as a system message, an instruction
# naming it; an off-schema answer costs a repair call whose prompt adds the answer and the
# mismatch (at most structured.MISMATCH_CHARS characters, rarely more than a token each).
SCHEMA_INSTRUCTION_TOKENS = 32
REPAIR_MESSAGE_TOKENS = 32 + structured.MISMATCH_CHARS
# Kept per call in the run's usage: enough to read, bounded so a long answer does not bloat rows.
LOGGED_CHARS = 20_000
LONGEST_WAIT_S = 60.0


@dataclass(frozen=True)
class Target:
    """One provider and model to try; a node's fallback list is several."""

    provider: str
    model: str


class ModelCalls:
    def __init__(self, ctx: NodeContext, node_type: str, cache_ttl_s: int = 0, tries: int = 2) -> None:
        self.ctx = ctx
        self.node_type = node_type
        self.cache_ttl_s = cache_ttl_s
        self.tries = max(1, tries)
        self.log: list[dict[str, Any]] = []
        self.scope = budgets.Scope(ctx.workspace_id, ctx.workflow_id, ctx.run_id, ctx.node_id, ctx.attempt)

    def chat(self, targets: list[Target], request: ChatRequest, stream: bool = False) -> Completion:
        """The first answer along `targets`; each is tried `tries` times while it is unavailable.

        Waits as the server's Retry-After asks when the node's time allows; when every target
        is unavailable the last Unavailable error is raised, and the node's retry policy decides.
        A NonRetryableError (bad request, budget exceeded) is raised at once. With `stream`, a
        plain-text answer is sent to the run's viewers as it is written (engine.live.TextStream);
        an answer from the cache is not.
        """
        failure: NodeError | None = None
        text = live.TextStream(self.ctx.run_id, self.ctx.node_id, self.ctx.attempt) if stream else None
        for target in targets:
            # The provider is read with the first attempt's other facts: one round trip before the call.
            known: lookups.CallFacts | None = self._facts(target)
            provider = resolve(self.ctx.workspace_id, target.provider, known.provider if known else None)
            asked = replace(request, model=target.model)
            for attempt in range(1, self.tries + 1):
                try:
                    return self._call(provider, asked, text, known)
                except Unavailable as error:
                    failure = error
                    wait = error.retry_after_s if error.retry_after_s is not None else 0.5 * attempt
                    if attempt == self.tries or wait > min(LONGEST_WAIT_S, self.ctx.seconds_left() - 1):
                        break
                    time.sleep(wait)
                    known = None  # read again: a budget may have moved, a price changed meanwhile
                except SchemaFailure as error:
                    failure = error
                    break
        if failure is None:
            raise NodeError("No provider or model is configured for this node", code="no_model", retryable=False)
        raise failure

    def embed(self, target: Target, texts: list[str]) -> list[list[float]]:
        """One vector per text from the target's embedding model, budgeted and billed as one call like a chat
        (its tokens are input tokens; the log keeps the texts, not the vectors). Unavailable when a remote
        provider cannot answer now; NonRetryableError for an unknown model or a spent budget."""
        if target.provider == BUILTIN and target.model != BUILTIN_EMBEDDING_MODEL:
            raise NonRetryableError(
                f"the built-in provider has no embedding model {target.model!r}", code="unknown_model"
            )
        provider = resolve(self.ctx.workspace_id, target.provider)
        request = ChatRequest(model=target.model, messages=tuple({"role": "user", "content": text} for text in texts))
        price = costs.price_for(self.ctx.workspace_id, provider.kind, target.model, timezone.now())
        bill = {"call": len(self.log), "node_type": self.node_type, "provider": provider.name,
                "provider_kind": provider.kind, "model": target.model}  # fmt: skip
        reservation = budgets.reserve(self.scope, costs.cost_of(price, tokens.count_all(texts), 0), bill)
        began = time.monotonic()
        try:
            if provider.kind != builtin.KIND:
                release_connection(pooled_only=False)
            found, used = provider.embed(target.model, texts, min(EMBED_TIMEOUT_S, max(1.0, self.ctx.seconds_left())))
        except BaseException:
            budgets.release(reservation)
            raise
        exchange = Exchange(tokens_in=used, tokens_out=0, latency_ms=round((time.monotonic() - began) * 1000), raw="")
        self._settle(reservation, self._bill(provider, request, exchange, cached=False, price=price))
        return found

    def _facts(self, target: Target) -> lookups.CallFacts:
        """What a call to `target` reads before it is made, with the provider's configuration (see `_call_billed`);
        shared by the calls of this run to the same target that start together (engine.providers.shared_facts)."""
        kind, provider = (builtin.KIND, None) if target.provider == BUILTIN else (KIND, target.provider)
        key = (self.ctx.run_id, target.provider, target.model)  # a run has one workspace and one workflow
        return shared_facts.call_facts(key, lambda: self._read_facts(kind, target.model, provider))

    def _read_facts(self, provider_kind: str, model: str, provider: str | None = None) -> lookups.CallFacts:
        ctx = self.ctx
        return lookups.call_facts(
            ctx.workspace_id, ctx.workflow_id, ctx.run_id, provider_kind, model, timezone.now(), provider=provider
        )

    def _call(
        self,
        provider: Provider,
        request: ChatRequest,
        text: live.TextStream | None = None,
        known: lookups.CallFacts | None = None,
    ) -> Completion:
        with spans.model_call(provider.kind, request.model) as span:
            completion, spent = self._call_billed(provider, request, text, known)
            span.set_attribute("gen_ai.usage.input_tokens", sum(e.tokens_in for e in completion.exchanges))
            span.set_attribute("gen_ai.usage.output_tokens", sum(e.tokens_out for e in completion.exchanges))
            span.set_attribute("switchyard.cost", float(spent))
            return completion

    def _call_billed(
        self,
        provider: Provider,
        request: ChatRequest,
        text: live.TextStream | None = None,
        known: lookups.CallFacts | None = None,
    ) -> tuple[Completion, Decimal]:
        """The call, from the cache or the provider, billed; with what it added to the bill.
        `known`: what the call reads first (lookups.call_facts), if the caller read it already."""
        key = self._cache_key(provider, request) if self.cache_ttl_s else None
        if key and (hit := _cached(self.ctx.workspace_id, key)) is not None:
            for exchange in hit.exchanges:
                self._bill(provider, request, exchange, cached=True)
            return hit, Decimal(0)
        # One round trip for what the call reads first; one price for the whole call: the estimate and the bill.
        if known is None:
            known = self._read_facts(provider.kind, request.model)
        price = known.price
        bill = {
            "call": len(self.log),
            "node_type": self.node_type,
            "provider": provider.name,
            "provider_kind": provider.kind,
            "model": request.model,
        }
        reservation = budgets.reserve(self.scope, _estimate(price, request), bill, known)
        spent = Decimal(0)
        try:
            if provider.kind != builtin.KIND:
                release_connection(pooled_only=False)
            if text is not None:
                text.restart()
            on_text = text.write if text is not None and request.schema is None else None
            try:
                completion = provider.chat(request, timeout_s=max(1.0, self.ctx.seconds_left()), on_text=on_text)
            finally:
                if text is not None:
                    text.flush()
        except SchemaFailure as failure:
            for exchange in failure.exchanges:
                spent += self._bill(provider, request, exchange, cached=False, price=price, facts=known.run)
            self._settle(reservation, spent)
            raise
        except BaseException:
            budgets.release(reservation)
            raise
        for exchange in completion.exchanges:
            spent += self._bill(provider, request, exchange, cached=False, price=price, facts=known.run)
        self._settle(reservation, spent)
        if key:
            _store(self.ctx.workspace_id, key, completion, self.cache_ttl_s)
        return completion, spent

    def _bill(
        self,
        provider: Provider,
        request: ChatRequest,
        exchange: Exchange,
        cached: bool,
        price: ModelPrice | EllipsisType | None = ...,
        facts: Run | None = None,
    ) -> Decimal:
        """Bill the exchange and log it; what it added to the bill (0 when this call was billed already).
        `price` and the run's billing `facts` as costs.record takes them."""
        call = costs.Call(
            provider=provider.name,
            provider_kind=provider.kind,
            model=request.model,
            tokens_in=exchange.tokens_in,
            tokens_out=exchange.tokens_out,
            cached=cached,
            latency_ms=0 if cached else exchange.latency_ms,
        )
        index = len(self.log)
        tries = 0

        def write() -> CostEntry | None:
            nonlocal tries
            tries += 1
            entry = costs.record(
                self.ctx.run_id, self.ctx.node_id, self.node_type, self.ctx.attempt, call, index, price, facts
            )
            if entry is None and tries > 1:
                # An earlier try committed before its connection was lost: that entry is this bill.
                one_call = {"node_id": self.ctx.node_id, "attempt": self.ctx.attempt, "call": index}
                return CostEntry.objects.filter(run_id=self.ctx.run_id, **one_call).first()
            return entry

        entry = persist(write, f"bill call {index} of node {self.ctx.node_id} of run {self.ctx.run_id}")
        if entry is not None:
            cost = billed = entry.cost
        else:
            # An earlier delivery of this attempt billed it, and charged its budgets with it.
            billed = Decimal(0)
            if isinstance(price, EllipsisType):
                price = costs.price_for(self.ctx.workspace_id, provider.kind, request.model, timezone.now())
            cost = Decimal(0) if cached else costs.cost_of(price, call.tokens_in, call.tokens_out)
        self.log.append(
            {
                "call": index,
                "provider": provider.name,
                "provider_kind": provider.kind,
                "model": request.model,
                "prompt": [dict(m, content=message_text(m)[:LOGGED_CHARS]) for m in request.messages],
                "response": exchange.raw[:LOGGED_CHARS],
                "tokens_in": call.tokens_in,
                "tokens_out": call.tokens_out,
                "cost": str(cost),
                "latency_ms": call.latency_ms,
                "cached": cached,
            }
        )
        return billed

    def _settle(self, reservation: budgets.Reservation, spent: Decimal) -> None:
        what = f"charge the budgets of node {self.ctx.node_id} of run {self.ctx.run_id}"
        persist(lambda: budgets.settle(reservation, spent), what)

    def usage(self) -> dict[str, Any]:
        """The node's usage: totals for the run page, and every call as it was made."""
        tokens_in = sum(call["tokens_in"] for call in self.log)
        tokens_out = sum(call["tokens_out"] for call in self.log)
        return {
            "input_tokens": tokens_in,
            "output_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
            "cost": str(sum((Decimal(call["cost"]) for call in self.log), Decimal(0))),
            "cached_calls": sum(1 for call in self.log if call["cached"]),
            "calls": self.log,
        }

    def _cache_key(self, provider: Provider, request: ChatRequest) -> str:
        material = {"provider": provider.name, "kind": provider.kind, **request.cache_material()}
        return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def _estimate(price: ModelPrice | None, request: ChatRequest) -> Decimal:
    """An upper bound of what the call can cost: its prompt and max output tokens, and for a
    structured answer the schema and one repair call as well."""
    if price is None:
        return Decimal(0)
    prompt = sum(tokens.count(message_text(m)) + MESSAGE_OVERHEAD_TOKENS for m in request.messages)
    prompt += tokens.count(json.dumps(request.tools)) if request.tools else 0
    answer = request.max_tokens or DEFAULT_MAX_OUTPUT_TOKENS
    if request.schema is None:
        return costs.cost_of(price, prompt, answer)
    prompt += tokens.count(json.dumps(request.schema)) + SCHEMA_INSTRUCTION_TOKENS
    repair = prompt + answer + REPAIR_MESSAGE_TOKENS
    return costs.cost_of(price, prompt, answer) + costs.cost_of(price, repair, answer)


def _cached(workspace_id: int, key: str) -> Completion | None:
    row = CachedCompletion.objects.filter(workspace_id=workspace_id, key=key, expires_at__gt=timezone.now()).first()
    if row is None:
        return None
    stored = row.response
    exchanges = [Exchange(**exchange) for exchange in stored["exchanges"]]
    calls = [ToolCall(**call) for call in stored.get("tool_calls", [])]
    return Completion(text=stored["text"], data=stored["data"], exchanges=exchanges, tool_calls=calls)


def _store(workspace_id: int, key: str, completion: Completion, ttl_s: int) -> None:
    response = {
        "text": completion.text,
        "data": completion.data,
        "exchanges": [exchange.__dict__ for exchange in completion.exchanges],
        "tool_calls": [call.__dict__ for call in completion.tool_calls],
    }
    CachedCompletion.objects.update_or_create(
        workspace_id=workspace_id,
        key=key,
        defaults={"response": response, "expires_at": timezone.now() + timedelta(seconds=ttl_s)},
    )
