import { describe, expect, it } from "vitest";
import { approvalUrl, asStep, callArguments, loopsOf, mergeSteps, traceTurns, withStep, type AgentStepView } from "./agentTrace";
import { applySnapshot, initialState, receiveEvent, type EventMessage, type RunSnapshot } from "./runEvents";

function step(seq: number, kind: AgentStepView["kind"], extra: Partial<AgentStepView> = {}): AgentStepView {
  return {
    attempt: 1, loop: 1, seq, turn: 1, kind, status: "ok", tool: "", call_id: "", text: "", arguments: null, result: null,
    tool_calls: [], tokens_in: 0, tokens_out: 0, cost: "0", duration_ms: 0, ...extra,
  };
}

const ASKING = step(0, "model", {
  text: "Let me look.",
  tool_calls: [
    { id: "c1", name: "search", arguments: '{"query": "refund"}' },
    { id: "c2", name: "refund", arguments: '{"order_id": "1001"}' },
  ],
  tokens_in: 30, tokens_out: 12, cost: "0.0012", duration_ms: 420,
});
const SEARCHED = step(1, "tool", { tool: "search", call_id: "c1", arguments: { query: "refund" }, result: { passages: [] } });
const ASKED = step(2, "approval", { tool: "refund", status: "pending", arguments: { order_id: "1001" } });

function ev(seq: number, event: string, node_id: string, payload: Record<string, unknown>): EventMessage {
  return { type: "event", seq, event, node_id, payload, at: "2026-12-03T12:00:00Z" };
}

describe("an agent's trace", () => {
  it("reads a step from an event payload and refuses what is not one", () => {
    expect(asStep({ ...ASKING } as unknown as Record<string, unknown>)).toEqual(ASKING);
    expect(asStep({ kind: "model" })).toBeNull();
    expect(asStep({ kind: "shell", seq: 1 })).toBeNull();
  });

  it("groups each turn with the calls it asked for, their approvals and results", () => {
    const [turn] = traceTurns([SEARCHED, ASKED, ASKING]);
    expect(turn.model).toBe(ASKING);
    expect(turn.calls.map((c) => [c.seq, c.name, c.callId, c.step?.seq ?? null, c.approval?.status ?? null])).toEqual([
      [1, "search", "c1", 1, null],
      [2, "refund", "c2", null, "pending"],
    ]);
    expect(callArguments(turn.calls[0], turn)).toEqual({ query: "refund" });
    expect(callArguments(turn.calls[1], turn)).toEqual({ order_id: "1001" });
  });

  it("shows a call's raw arguments before any step of it is recorded", () => {
    const [turn] = traceTurns([ASKING]);
    expect(callArguments(turn.calls[1], turn)).toEqual({ order_id: "1001" });
  });

  it("replaces a step seen again: an approval decided", () => {
    const decided = withStep([ASKING, ASKED], { ...ASKED, status: "approved" });
    expect(decided.filter((s) => s.kind === "approval").map((s) => s.status)).toEqual(["approved"]);
    expect(decided.map((s) => `${s.seq}${s.kind}`)).toEqual(["0model", "2approval"]);
  });

  it("lets an older snapshot add steps but not undo newer ones", () => {
    const live = [ASKING, { ...ASKED, status: "approved" }];
    expect(mergeSteps(live, [ASKED, SEARCHED], false).map((s) => `${s.seq}${s.kind}:${s.status}`)).toEqual(["0model:ok", "1tool:ok", "2approval:approved"]);
    expect(mergeSteps(live, [ASKED], true).find((s) => s.kind === "approval")?.status).toBe("pending");
  });

  it("keeps a node's loops apart and links approvals to the inbox", () => {
    expect(loopsOf([ASKING, { ...ASKING, loop: 2 }])).toEqual([1, 2]);
    expect(approvalUrl(7, "support agent", { loop: 2, seq: 3 })).toBe("/inbox/runs/7/support%20agent/calls/2.3/");
  });

  it("folds agent.step events into the node's state, live, after its snapshot", () => {
    const snap = { id: 5, status: "running", last_seq: 2, nodes: [{ node_id: "agent", node_type: "agent", status: "running", attempt: 1, handle: null, agent_steps: [ASKING] }] } as unknown as RunSnapshot;
    let state = applySnapshot(initialState(["agent"]), snap);
    expect(state.nodes.agent.agentSteps).toEqual([ASKING]);
    state = receiveEvent(state, ev(3, "agent.step", "agent", { ...SEARCHED }), 0).state;
    state = receiveEvent(state, ev(4, "agent.step", "agent", { ...ASKED }), 0).state;
    expect(state.nodes.agent.agentSteps.map((s) => s.seq)).toEqual([0, 1, 2]);
    expect(state.nodes.agent.status).toBe("running");
    expect(state.timeline.map((row) => row.event)).toEqual(["agent.step", "agent.step"]);
  });
});
