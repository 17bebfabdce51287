"""The agent loop: model turns and tool calls, each recorded as a step, replayed after a crash instead of redone.

Each execution of the node rebuilds the conversation from the loop's recorded steps (no call
is made for a recorded step), then goes on from the first step that is not recorded: a model
turn, or the tool calls of the last turn (side by side), or a call waiting for a reviewer
or a child run, for which the node parks holding no worker.
"""

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import jsonschema
from django.db import connections

from engine.agent import reviews, steps
from engine.agent.tools import ToolCall, ToolFailed, ToolKind, ToolSpec
from engine.errors import NonRetryableError
from engine.models import AgentStep, StepKind, StepStatus
from engine.models import ChildRoundState as RoundState
from engine.providers import structured
from engine.providers.base import ChatRequest
from engine.providers.calls import ModelCalls
from engine.registry import NodeContext, NodeResult
from engine.runs import agent_steps
from engine.runs.agent_steps import Owner, StepRecord
from engine.runs.children import ChildPlan

TOOL_THREADS = 8
SCHEMA_INSTRUCTION = "When you give your final answer, reply with only a JSON value valid against this JSON Schema:\n"


class AgentStopped(NonRetryableError):
    """The loop hit a guard (max turns, max tool calls, an answer off its schema); the code says which."""


class Superseded(NonRetryableError):
    """This attempt no longer holds the node (cancelled, or taken over): its step was not recorded."""

    code = "superseded"


@dataclass(frozen=True)
class Tool:
    """A tool the model is offered. An `unusable` one (its schema came from outside, an MCP server's, and is
    not valid JSON Schema, so no arguments can be checked) is offered with why, and each call answers that."""

    spec: ToolSpec
    kind: type[ToolKind]
    fields: Any
    schema: dict[str, Any]
    unusable: str | None = None

    def definition(self) -> dict[str, Any]:
        description = self.spec.description
        if self.unusable is not None:
            description = f"{description} (unusable: {self.unusable})".strip()
        return {"name": self.spec.name, "description": description, "parameters": self.schema}


@dataclass
class Park:
    """Why the loop waits: reviewers (until the earliest deadline), and/or child runs (started now, or running)."""

    deadlines: list[datetime] = field(default_factory=list)
    reviews: bool = False
    children: list[ChildPlan] = field(default_factory=list)

    def result(self, usage: dict[str, Any]) -> NodeResult:
        wait_until = min(self.deadlines, default=None)
        return NodeResult(park=True, wait_until=wait_until, children=self.children or None, usage=usage)


@dataclass
class Prepared:
    """A tool call of the current turn, checked and ready to run (or already answered)."""

    index: int
    seq: int
    call_id: str
    name: str
    tool: Tool | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    step: AgentStep | None = None


class Loop:
    def __init__(self, ctx: NodeContext, params: Any, calls: ModelCalls, tools: dict[str, Tool]) -> None:
        self.ctx = ctx
        self.params = params
        self.calls = calls
        self.tools = tools
        self.owner = Owner(ctx.run_id, ctx.node_id, ctx.attempt, steps.current_loop(ctx.run_id, ctx.node_id))
        self.recorded = steps.recorded(ctx.run_id, ctx.node_id, self.owner.loop)
        system = params.instructions
        if params.output_schema is not None:
            system = f"{system}\n\n{SCHEMA_INSTRUCTION}{json.dumps(params.output_schema)}".strip()
        self.messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
        self.messages.append({"role": "user", "content": params.message})
        self.turns = 0
        self.tool_calls = 0
        self.turns_without_tools = 0

    def run(self) -> dict[str, Any] | Park:
        seq = 0
        while True:
            turn = self.recorded.get((seq, StepKind.MODEL)) or self._ask(seq)
            self.turns += 1
            asked = turn.detail.get("tool_calls", [])
            self.messages.append(_assistant(turn.text, asked))
            if not asked:
                answer = self._answer(turn)
                if answer is not None:
                    return answer
                seq += 1
                continue
            if self.turns >= self.params.max_turns:
                raise AgentStopped(
                    f"The agent used all {self.params.max_turns} turns without a final answer", code="max_turns"
                )
            if not self.tools:
                self._called_without_tools(asked)
            if self.tool_calls + len(asked) > self.params.max_tool_calls:
                raise AgentStopped(
                    f"The agent asked for more than {self.params.max_tool_calls} tool calls", code="max_tool_calls"
                )
            self.tool_calls += len(asked)
            answered = self._call_tools(seq, turn, asked)
            if isinstance(answered, Park):
                return answered
            for prepared in answered:
                assert prepared.step is not None
                self.messages.append(
                    {"role": "tool", "tool_call_id": prepared.call_id, "content": self._for_model(prepared.step.result)}
                )
            seq += 1 + len(asked)

    def _called_without_tools(self, asked: list[dict[str, Any]]) -> None:
        """A model calling tools of an agent that has none reads why once; calling again ends the loop."""
        self.turns_without_tools += 1
        if self.turns_without_tools > 1:
            names = ", ".join(sorted({repr(str(call.get("name") or "")) for call in asked}))
            raise AgentStopped(
                f"The model called a tool again ({names}) though this agent has no tools: give the agent the tools "
                "its instructions mention, or tell it to answer directly",
                code="no_tools",
            )

    def _ask(self, seq: int) -> AgentStep:
        if self.turns >= self.params.max_turns:
            raise AgentStopped(
                f"The agent used all {self.params.max_turns} turns without a final answer", code="max_turns"
            )
        if self.params.tool_choice == "required" and not self.tools:
            # Graph validation refuses this with no tool specs; here every spec offered nothing (an MCP
            # server none of whose tools are allowed), and no answer could satisfy "required".
            raise AgentStopped(
                "tool_choice is 'required' but this agent has no tools to offer: its MCP servers offer no tool "
                "it may call",
                code="no_tools",
            )
        request = ChatRequest(
            model=self.params.model,
            messages=tuple(self.messages),
            temperature=self.params.temperature,
            max_tokens=self.params.max_tokens,
            schema=self.params.output_schema,
            tools=tuple(tool.definition() for tool in self.tools.values()),
            tool_choice=self.params.tool_choice if self.tools else None,
            tool_use=True,
        )
        billed = len(self.calls.log)
        started = time.monotonic()
        completion = self.calls.chat(self.params.targets(), request)
        log = self.calls.log[billed:]
        last = log[-1] if log else {}
        detail = {
            "provider": last.get("provider", self.params.provider),
            "model": last.get("model", self.params.model),
            "tool_calls": [call.__dict__ for call in completion.tool_calls],
        }
        record = StepRecord(
            seq=seq,
            kind=StepKind.MODEL,
            turn=self.turns + 1,
            status=StepStatus.OK,
            text=completion.text,
            detail=detail,
            tokens_in=sum(entry["tokens_in"] for entry in log),
            tokens_out=sum(entry["tokens_out"] for entry in log),
            cost=sum((Decimal(entry["cost"]) for entry in log), Decimal(0)),
            duration_ms=int((time.monotonic() - started) * 1000),
        )
        return self._record(record)

    def _answer(self, turn: AgentStep) -> dict[str, Any] | None:
        """The final answer, or None after asking the model to repair an answer off the schema."""
        if self.params.output_schema is None:
            return {"text": turn.text, "data": None}
        try:
            data = structured.parse(turn.text, self.params.output_schema)
        except structured.SchemaMismatch as mismatch:
            if self.turns >= self.params.max_turns:
                raise AgentStopped(
                    f"The agent's final answer did not match the output schema: {mismatch}", code="schema_mismatch"
                ) from None
            self.messages.append(
                {"role": "user", "content": f"That answer was invalid: {mismatch}. Reply again with only the JSON."}
            )
            return None
        return {"text": turn.text, "data": data}

    def _call_tools(self, seq: int, turn: AgentStep, asked: list[dict[str, Any]]) -> list[Prepared] | Park:
        prepared = [self._prepare(seq + 1 + index, index, call) for index, call in enumerate(asked)]
        park = Park()
        runnable: list[Prepared] = []
        for call in prepared:
            if call.step is not None:
                continue
            assert call.tool is not None
            if call.tool.spec.requires_approval and not self._approved(call, turn, park):
                continue
            if call.step is None and not call.tool.kind.child_runs:
                runnable.append(call)
        self._run_side_by_side(runnable)
        # Child runs start once no reviewer is awaited, all in one park, so the node waits for
        # them with nothing else to wake it: the last child round to close does.
        if not park.reviews:
            for call in prepared:
                if call.step is None and call.tool is not None and call.tool.kind.child_runs:
                    self._through_child_run(call, park)
        waiting = [call for call in prepared if call.step is None]
        return park if waiting else prepared

    def _prepare(self, seq: int, index: int, asked: dict[str, Any]) -> Prepared:
        """The call checked against its tool: an unknown tool or bad arguments are answered at once, as an error."""
        call = Prepared(index, seq, str(asked.get("id") or f"call_{seq}"), str(asked.get("name") or ""))
        call.step = self.recorded.get((seq, StepKind.TOOL))
        if call.step is not None:
            return call
        call.tool = self.tools.get(call.name)
        problem = self._problem(call, str(asked.get("arguments") or ""))
        if problem is not None:
            call.step = self._record_tool(call, StepStatus.ERROR, {"error": problem})
        return call

    def _problem(self, call: Prepared, raw: str) -> str | None:
        if call.tool is None and not self.tools:
            return f"This agent has no tools, so there is no tool {call.name!r}: answer without calling a tool"
        if call.tool is None:
            return f"There is no tool {call.name!r}; the tools are: {', '.join(self.tools)}"
        if call.tool.unusable is not None:
            return f"The tool {call.name!r} cannot be called: {call.tool.unusable}"
        try:
            arguments = json.loads(raw or "{}")
        except ValueError as error:
            return f"The arguments are not valid JSON: {error}"
        if not isinstance(arguments, dict):
            return "The arguments must be a JSON object"
        call.arguments = arguments
        return _schema_problem(call.tool.schema, arguments)

    def _approved(self, call: Prepared, turn: AgentStep, park: Park) -> bool:
        """Whether the call may run now; a rejection is recorded as its result, a pending one parks the node."""
        assert call.tool is not None
        proposal = reviews.Proposal(
            key=f"{self.owner.loop}.{call.seq}",
            tool=call.name,
            description=call.tool.spec.description,
            arguments=call.arguments,
            schema=call.tool.schema,
            text=turn.text,
        )
        review = reviews.review(self.ctx, self.params.approval, proposal)
        asked = StepRecord(
            seq=call.seq, kind=StepKind.APPROVAL, turn=self.turns, status=StepStatus.PENDING,
            tool=call.name, call_id=call.call_id, text=turn.text[:2000], arguments=call.arguments,
        )  # fmt: skip
        if (call.seq, StepKind.APPROVAL) not in self.recorded:
            self.recorded[(call.seq, StepKind.APPROVAL)] = self._record(asked)
        if review.state == "pending":
            park.reviews = True
            if review.deadline is not None:
                park.deadlines.append(review.deadline)
            return False
        status = {"approved": StepStatus.EDITED if review.edited else StepStatus.APPROVED}.get(
            review.state, StepStatus.REJECTED
        )
        decision = {"reviewers": review.reviewers, "message": review.message}
        decided = StepRecord(**{**asked.__dict__, "status": status, "arguments": review.arguments, "result": decision})
        if agent_steps.decide(self.owner, decided) is None:
            raise Superseded("This attempt no longer holds the node")
        if review.state == "rejected":
            result = {"rejected": True, "message": review.message or "A reviewer rejected this call"}
            call.step = self._record_tool(call, StepStatus.REJECTED, result)
            return False
        call.arguments = review.arguments
        return True

    def _run_side_by_side(self, runnable: list[Prepared]) -> None:
        if len(runnable) <= 1:
            for call in runnable:
                self._run_one(call)
            return
        with ThreadPoolExecutor(max_workers=min(TOOL_THREADS, len(runnable))) as pool:
            list(pool.map(self._run_in_thread, runnable))

    def _run_in_thread(self, call: Prepared) -> None:
        try:
            self._run_one(call)
        finally:
            connections.close_all()  # this thread's own connections; the node's thread keeps its own

    def _run_one(self, call: Prepared) -> None:
        assert call.tool is not None
        started = time.monotonic()
        try:
            result, status = call.tool.kind.call(self._tool_call(call)), StepStatus.OK
        except ToolFailed as failed:
            result, status = {"error": str(failed)}, StepStatus.ERROR
        call.step = self._record_tool(call, status, result, duration_ms=int((time.monotonic() - started) * 1000))

    def _through_child_run(self, call: Prepared, park: Park) -> None:
        """Plan the call's child run (started as the node parks), or gather it once its round has closed."""
        assert call.tool is not None
        tool_call = self._tool_call(call)
        found = steps.call_round(self.ctx.run_id, self.ctx.node_id, tool_call.key)
        try:
            if found is None:
                park.children.append(call.tool.kind.plan(tool_call))
            elif found.state != RoundState.OPEN:
                result, detail = call.tool.kind.gather(tool_call, found)
                call.step = self._record_tool(call, StepStatus.OK, result, detail=detail)
        except ToolFailed as failed:
            call.step = self._record_tool(call, StepStatus.ERROR, {"error": str(failed)})

    def _tool_call(self, call: Prepared) -> ToolCall:
        assert call.tool is not None
        key = f"agent:{self.owner.loop}:{call.seq}"
        return ToolCall(self.ctx, call.tool.spec, call.tool.fields, call.arguments, key)

    def _record_tool(
        self, call: Prepared, status: str, result: Any, duration_ms: int = 0, detail: dict[str, Any] | None = None
    ) -> AgentStep:
        record = StepRecord(
            seq=call.seq, kind=StepKind.TOOL, turn=self.turns, status=status, tool=call.name, call_id=call.call_id,
            arguments=call.arguments, result=_capped(result, self.params.max_result_chars), detail=detail or {},
            duration_ms=duration_ms,
        )  # fmt: skip
        return self._record(record)

    def _record(self, record: StepRecord) -> AgentStep:
        row = agent_steps.record(self.owner, record)
        if row is None:
            raise Superseded("This attempt no longer holds the node")
        self.recorded[(row.seq, StepKind(row.kind))] = row
        return row

    def _for_model(self, result: Any) -> str:
        return result if isinstance(result, str) else json.dumps(result, default=str)

    def summary(self) -> dict[str, Any]:
        """The loop's turns and tool calls, tokens and cost, from its steps (every attempt's)."""
        rows = sorted(self.recorded.values(), key=lambda row: (row.seq, row.kind))
        return {
            "turns": sum(1 for row in rows if row.kind == StepKind.MODEL),
            "tool_calls": [
                {
                    "turn": row.turn,
                    "id": row.call_id,
                    "name": row.tool,
                    "arguments": row.arguments,
                    "result": row.result,
                    "status": row.status,
                }
                for row in rows
                if row.kind == StepKind.TOOL
            ],
            "input_tokens": sum(row.tokens_in for row in rows),
            "output_tokens": sum(row.tokens_out for row in rows),
            "cost": str(sum((row.cost for row in rows), Decimal(0))),
            "loop": self.owner.loop,
        }


def _assistant(text: str, asked: list[dict[str, Any]]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if asked:
        message["tool_calls"] = [
            {"id": call["id"], "type": "function", "function": {"name": call["name"], "arguments": call["arguments"]}}
            for call in asked
        ]
    else:
        message["content"] = text
    return message


def _schema_problem(schema: dict[str, Any], arguments: dict[str, Any]) -> str | None:
    problem = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(arguments))
    if problem is None:
        return None
    where = "/".join(map(str, problem.absolute_path)) or "(root)"
    return f"The arguments do not match the tool's schema at {where}: {problem.message}"


def _capped(result: Any, limit: int) -> Any:
    """The result as the model will see it: JSON up to `limit` characters, else its text cut with a note."""
    text = json.dumps(result, default=str)
    if len(text) <= limit:
        return result
    return f"{text[:limit]}… [cut: {len(text) - limit} more characters]"
