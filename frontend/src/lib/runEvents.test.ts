import { describe, expect, it } from "vitest";
import {
  applySnapshot,
  checkResume,
  describeEvent,
  durationBetween,
  historyRow,
  initialState,
  mergeHistory,
  missingHistoryAfter,
  nodeStatusForEvent,
  parseMessage,
  receiveDelta,
  receiveEvent,
  receiveHello,
  runStatusForEvent,
  type EventMessage,
  type RunSnapshot,
  type RunViewState,
} from "./runEvents";

const T0 = Date.parse("2026-11-22T02:00:00.000Z");
const at = (ms: number) => new Date(T0 + ms).toISOString();

function ev(seq: number, event: string, node_id = "", payload: Record<string, unknown> = {}, ms = seq * 100): EventMessage {
  return { type: "event", seq, event, node_id, payload, at: at(ms) };
}

function snapshot(overrides: Partial<RunSnapshot> = {}): RunSnapshot {
  return {
    id: 42,
    workflow_id: 3,
    workflow_name: "Triage",
    version_number: 2,
    status: "running",
    trigger_kind: "api",
    is_test: false,
    input: { subject: "Hi" },
    output: null,
    escalation_reason: "",
    error: "",
    cost: "0.000000",
    created_at: at(0),
    started_at: at(10),
    finished_at: null,
    last_seq: 0,
    nodes: [],
    ...overrides,
  };
}

/** Feed events one by one, collecting effects and outcomes. */
function feed(state: RunViewState, events: EventMessage[], now = 0) {
  const effects = [];
  const outcomes = [];
  for (const message of events) {
    const step = receiveEvent(state, message, now);
    state = step.state;
    effects.push(...step.effects);
    outcomes.push(step.outcome);
  }
  return { state, effects, outcomes };
}

describe("status mapping", () => {
  it("maps node events to node statuses", () => {
    expect(
      ["node.queued", "node.running", "node.succeeded", "node.failed", "node.crashed", "node.skipped", "node.waiting", "node.cancelled"].map(nodeStatusForEvent),
    ).toEqual(["pending", "running", "succeeded", "failed", "crashed", "skipped", "waiting", "cancelled"]);
    expect(nodeStatusForEvent("run.failed")).toBeNull();
  });

  it("maps run events to run statuses, retried back to running", () => {
    expect(["run.queued", "run.running", "run.waiting", "run.succeeded", "run.failed", "run.cancelled", "run.retried"].map(runStatusForEvent)).toEqual([
      "queued",
      "running",
      "waiting",
      "succeeded",
      "failed",
      "cancelled",
      "running",
    ]);
    expect(runStatusForEvent("run.escalated")).toBeNull();
    expect(runStatusForEvent("node.running")).toBeNull();
  });
});

describe("receiveEvent", () => {
  it("applies events in order and records one timeline row each", () => {
    const { state, outcomes, effects } = feed(initialState(["ticket", "route"]), [
      ev(1, "run.queued", "", { trigger: "api" }),
      ev(2, "node.queued", "ticket"),
      ev(3, "node.running", "ticket", { attempt: 1 }),
      ev(4, "run.running"),
      ev(5, "node.succeeded", "ticket", { handle: null, cache_hit: false }),
    ]);
    expect(outcomes).toEqual(["applied", "applied", "applied", "applied", "applied"]);
    expect(effects).toEqual([]);
    expect(state.lastSeq).toBe(5);
    expect(state.status).toBe("running");
    expect(state.nodes.ticket.status).toBe("succeeded");
    expect(state.nodes.ticket.attempt).toBe(1);
    expect(state.nodes.route.status).toBe("pending");
    expect(state.timeline.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(state.timeline[2]).toMatchObject({ event: "node.running", nodeId: "ticket" });
  });

  it("drops duplicates without changing state", () => {
    const first = feed(initialState(["a"]), [ev(1, "node.running", "a"), ev(2, "node.succeeded", "a")]).state;
    const step = receiveEvent(first, ev(1, "node.running", "a"), 0);
    expect(step.outcome).toBe("duplicate");
    expect(step.state).toBe(first);
    expect(step.effects).toEqual([]);
    expect(receiveEvent(first, ev(2, "node.succeeded", "a"), 0).outcome).toBe("duplicate");
    expect(first.timeline.map((r) => r.seq)).toEqual([1, 2]);
  });

  it("holds back an event after a gap and asks for a resume once", () => {
    const start = feed(initialState(["a"]), [ev(1, "node.queued", "a"), ev(2, "node.running", "a")]).state;
    const gap = receiveEvent(start, ev(4, "node.succeeded", "a"), 1000);
    expect(gap.outcome).toBe("gap");
    expect(gap.effects).toEqual([{ type: "resume", after: 2 }]);
    expect(gap.state.lastSeq).toBe(2);
    expect(gap.state.nodes.a.status).toBe("running");
    expect(gap.state.timeline.map((r) => r.seq)).toEqual([1, 2]);
    // A second out-of-order event while the resume is pending does not ask again.
    const again = receiveEvent(gap.state, ev(5, "run.succeeded"), 1100);
    expect(again.outcome).toBe("gap");
    expect(again.effects).toEqual([]);
    // The resent stream fills the gap in order; duplicates after it are dropped.
    const filled = feed(again.state, [ev(3, "node.succeeded", "a"), ev(4, "run.running"), ev(3, "node.succeeded", "a")]);
    expect(filled.outcomes).toEqual(["applied", "applied", "duplicate"]);
    expect(filled.state.resume).toBeNull();
    expect(filled.state.timeline.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
  });

  it("refetches the snapshot when a resume has not filled the gap in time", () => {
    const gap = receiveEvent(initialState(), ev(3, "run.running"), 1000).state;
    expect(checkResume(gap, 2500).effects).toEqual([]); // too early
    const late = checkResume(gap, 3000);
    expect(late.effects).toEqual([{ type: "refetch", reason: "gap" }]);
    expect(late.state.resume).toBeNull();
    // Filled in time: nothing to do.
    const filled = feed(gap, [ev(1, "run.queued"), ev(2, "run.running")]).state;
    expect(checkResume(filled, 5000).effects).toEqual([]);
  });

  it("asks again for a gap after the first one was filled", () => {
    let state = receiveEvent(initialState(), ev(2, "run.queued"), 0).state;
    state = feed(state, [ev(1, "run.queued")]).state;
    const step = receiveEvent(state, ev(5, "run.running"), 10);
    expect(step.effects).toEqual([{ type: "resume", after: 1 }]);
  });

  it("a hello (new connection replays after lastSeq) clears a pending resume", () => {
    const gap = receiveEvent(initialState(), ev(3, "run.running"), 0).state;
    expect(gap.resume).not.toBeNull();
    expect(receiveHello(gap).resume).toBeNull();
  });

  it("computes durations from the last node.running to the finishing event", () => {
    const { state } = feed(initialState(["a", "b"]), [
      ev(1, "node.running", "a", { attempt: 1 }, 1000),
      ev(2, "node.failed", "a", { attempt: 1, code: "timeout", error: "took too long", retry_at: at(5000) }, 2500),
      ev(3, "node.running", "a", { attempt: 2 }, 5000),
      ev(4, "node.succeeded", "a", { handle: "true", cache_hit: true }, 6200),
      ev(5, "node.skipped", "b", {}, 6300),
    ]);
    expect(state.nodes.a).toMatchObject({ status: "succeeded", attempt: 2, durationMs: 1200, handle: "true", cacheHit: true, error: null, retryAt: null });
    expect(state.nodes.b).toMatchObject({ status: "skipped", durationMs: null });
  });

  it("records a failure with a scheduled retry, and a final failure without one", () => {
    const retrying = feed(initialState(["a"]), [
      ev(1, "node.running", "a", { attempt: 1 }, 0),
      ev(2, "node.failed", "a", { attempt: 1, code: "http_500", error: "upstream said 500", retry_at: at(9000) }, 300),
    ]).state;
    expect(retrying.nodes.a).toMatchObject({ status: "failed", durationMs: 300, retryAt: at(9000), error: { code: "http_500", message: "upstream said 500" } });
    const final = feed(retrying, [ev(3, "node.running", "a", { attempt: 2 }, 9000), ev(4, "node.failed", "a", { attempt: 2, code: "http_500", error: "again", retry_at: null }, 9100)]).state;
    expect(final.nodes.a).toMatchObject({ status: "failed", attempt: 2, durationMs: 100, retryAt: null });
  });

  it("tracks crashes, waiting and cancellation", () => {
    const { state } = feed(initialState(["a", "b", "c"]), [
      ev(1, "node.running", "a", { attempt: 1 }, 0),
      ev(2, "node.crashed", "a", { attempt: 1, retry_at: at(100) }, 30000),
      ev(3, "node.running", "b", { attempt: 1 }, 100),
      ev(4, "node.waiting", "b", { until: at(999999) }, 400),
      ev(5, "run.waiting"),
      ev(6, "node.cancelled", "b", {}, 500),
      ev(7, "node.cancelled", "c", {}, 500),
      ev(8, "run.cancelled", "", { by: "ada" }),
    ]);
    expect(state.nodes.a).toMatchObject({ status: "crashed", durationMs: 30000, error: { code: "worker_lost" } });
    expect(state.nodes.b).toMatchObject({ status: "cancelled", durationMs: 300 });
    expect(state.nodes.c.status).toBe("cancelled");
    expect(state.status).toBe("cancelled");
  });

  it("tracks the run status and asks for one refetch when the run ends", () => {
    const result = feed(initialState(), [ev(1, "run.queued"), ev(2, "run.running"), ev(3, "run.waiting"), ev(4, "run.running"), ev(5, "run.escalated", "x"), ev(6, "run.succeeded")]);
    expect(result.state.status).toBe("succeeded");
    expect(result.effects).toEqual([{ type: "refetch", reason: "run-ended" }]);
    // run.failed names a node but is not a node status change.
    const failed = feed(initialState(["x"]), [ev(1, "run.failed", "x", { error: "boom" })]);
    expect(failed.state.nodes.x.status).toBe("pending");
    expect(failed.effects).toEqual([{ type: "refetch", reason: "run-ended" }]);
    // A retry reopens the run and requeues the failed node.
    const retried = feed(failed.state, [ev(2, "run.retried", "", { by: "ada" }), ev(3, "node.queued", "x", { retry_of_attempt: 1 })]);
    expect(retried.state.status).toBe("running");
    expect(retried.state.nodes.x.status).toBe("pending");
    expect(retried.effects).toEqual([]);
  });

  it("applies unknown event types (they still advance seq)", () => {
    const { state } = feed(initialState(), [ev(1, "approval.requested", "review"), ev(2, "run.running")]);
    expect(state.lastSeq).toBe(2);
    expect(state.status).toBe("running");
  });
});

describe("applySnapshot", () => {
  const snap = snapshot({
    last_seq: 17,
    status: "running",
    nodes: [
      { node_id: "route", node_type: "condition", status: "succeeded", attempt: 1, handle: "true", input: { expression: "x" }, output: { result: true }, error: null, usage: null, cost: "0.000000", cache_hit: false, started_at: at(0), finished_at: at(12), duration_ms: 12 },
      { node_id: "draft", node_type: "llm", status: "running", attempt: 1, handle: "", input: null, output: null, error: null, usage: null, cost: "0", cache_hit: false, started_at: at(20), finished_at: null, duration_ms: null },
    ],
  });

  it("takes statuses, details and last_seq from the snapshot", () => {
    const state = applySnapshot(initialState(["route", "draft", "reply"]), snap);
    expect(state.lastSeq).toBe(17);
    expect(state.snapshotSeq).toBe(17);
    expect(state.status).toBe("running");
    expect(state.run?.workflow_name).toBe("Triage");
    expect(state.nodes.route).toMatchObject({ status: "succeeded", handle: "true", durationMs: 12, output: { result: true } });
    expect(state.nodes.draft).toMatchObject({ status: "running", runningSince: at(20) });
    expect(state.nodes.reply.status).toBe("pending");
    // Events continue from last_seq; the duration comes from the snapshot's started_at.
    const next = receiveEvent(state, ev(18, "node.succeeded", "draft", {}, 1520), 0);
    expect(next.outcome).toBe("applied");
    expect(next.state.nodes.draft.durationMs).toBe(1500);
    expect(receiveEvent(state, ev(17, "node.running", "draft"), 0).outcome).toBe("duplicate");
  });

  it("keeps newer event statuses when the snapshot is older, but takes its details", () => {
    let state = applySnapshot(initialState(), snapshot({ last_seq: 2, nodes: [] }));
    state = feed(state, [ev(3, "node.running", "a", { attempt: 1 }), ev(4, "node.failed", "a", { code: "boom", error: "bad", retry_at: null }), ev(5, "run.failed")]).state;
    const stale = snapshot({
      last_seq: 3,
      status: "running",
      cost: "0.5",
      nodes: [{ node_id: "a", node_type: "t", status: "failed", attempt: 1, handle: "", input: { q: 1 }, output: null, error: { code: "boom", message: "bad", traceback: "Traceback..." }, usage: { total_tokens: 5 }, cost: "0.5", cache_hit: false, started_at: at(0), finished_at: at(1), duration_ms: 1 }],
    });
    const merged = applySnapshot(state, stale);
    expect(merged.lastSeq).toBe(5);
    expect(merged.status).toBe("failed");
    expect(merged.run?.cost).toBe("0.5");
    expect(merged.run?.status).toBe(state.run?.status);
    expect(merged.nodes.a).toMatchObject({ status: "failed", input: { q: 1 }, usage: { total_tokens: 5 }, error: { code: "boom", traceback: "Traceback..." } });
  });

  it("keeps a duration the events measured when a newer snapshot does not know it", () => {
    let state = applySnapshot(initialState(["a"]), snapshot({ last_seq: 0 }));
    state = feed(state, [ev(1, "node.running", "a", { attempt: 1 }, 0), ev(2, "node.succeeded", "a", {}, 180)]).state;
    const later = snapshot({ last_seq: 3, nodes: [{ node_id: "a", node_type: "t", status: "succeeded", attempt: 1, handle: "", started_at: at(0), finished_at: null, duration_ms: null }] });
    expect(applySnapshot(state, later).nodes.a.durationMs).toBe(180);
    const rerun = snapshot({ last_seq: 3, nodes: [{ node_id: "a", node_type: "t", status: "succeeded", attempt: 2, handle: "", duration_ms: null }] });
    expect(applySnapshot(state, rerun).nodes.a.durationMs).toBeNull();
  });

  it("a newer snapshot jumps lastSeq and clears a resume it covers", () => {
    const gap = receiveEvent(initialState(), ev(5, "run.running"), 0).state;
    const state = applySnapshot(gap, snapshot({ last_seq: 9 }));
    expect(state.lastSeq).toBe(9);
    expect(state.resume).toBeNull();
    expect(receiveEvent(state, ev(5, "run.running"), 0).outcome).toBe("duplicate");
  });
});

describe("timeline history", () => {
  it("reports where history is missing and merges it without duplicates or rows past lastSeq", () => {
    let state = applySnapshot(initialState(), snapshot({ last_seq: 3 }));
    expect(missingHistoryAfter(state)).toBe(0);
    state = feed(state, [ev(4, "run.running")]).state;
    expect(missingHistoryAfter(state)).toBe(0);
    const rows = [1, 2, 3, 4, 5].map((seq) => historyRow({ seq, type: "node.queued", node_id: "a", payload: {}, created_at: at(seq) }));
    state = mergeHistory(state, rows);
    expect(state.timeline.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect(state.timeline[0]).toMatchObject({ event: "node.queued", nodeId: "a", at: at(1) });
    expect(missingHistoryAfter(state)).toBeNull();
    expect(mergeHistory(state, rows)).toBe(state);
  });

  it("a duplicate from a resend fills a row a snapshot jumped over", () => {
    let state = feed(initialState(), [ev(1, "run.queued")]).state;
    state = applySnapshot(state, snapshot({ last_seq: 3 }));
    expect(missingHistoryAfter(state)).toBe(1);
    state = feed(state, [ev(2, "run.running"), ev(3, "node.queued", "a"), ev(4, "node.running", "a")]).state;
    expect(state.timeline.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect(state.nodes.a.status).toBe("running");
  });
});

describe("messages", () => {
  it("parses hello and event frames and ignores anything else", () => {
    expect(parseMessage('{"type":"hello","run":42,"last_seq":17}')).toEqual({ type: "hello", run: 42, last_seq: 17 });
    expect(parseMessage('{"type":"event","seq":18,"event":"node.succeeded","node_id":"route","payload":{"handle":"true"},"at":"2026-11-22T02:00:00.123Z"}')).toEqual({
      type: "event",
      seq: 18,
      event: "node.succeeded",
      node_id: "route",
      payload: { handle: "true" },
      at: "2026-11-22T02:00:00.123Z",
    });
    expect(parseMessage("not json")).toBeNull();
    expect(parseMessage('{"type":"event","seq":"x"}')).toBeNull();
    expect(parseMessage('{"type":"ping"}')).toBeNull();
  });

  it("describes events briefly", () => {
    expect(describeEvent({ event: "node.succeeded", payload: { handle: "true", cache_hit: true } })).toBe("→ true · cache hit");
    expect(describeEvent({ event: "node.failed", payload: { code: "timeout", error: "slow", retry_at: null } })).toBe("timeout · slow");
    expect(describeEvent({ event: "node.failed", payload: { code: "timeout", error: "slow", retry_at: at(0) } })).toMatch(/^timeout · slow · retry at /);
    expect(describeEvent({ event: "run.cancelled", payload: { by: "ada" } })).toBe("by ada");
    expect(describeEvent({ event: "node.running", payload: { attempt: 1 } })).toBe("");
  });

  it("measures durations between timestamps", () => {
    expect(durationBetween(at(0), at(1234))).toBe(1234);
    expect(durationBetween(null, at(1))).toBeNull();
    expect(durationBetween(at(5), at(1))).toBeNull();
  });
});

describe("text deltas", () => {
  const delta = (offset: number, text: string, attempt = 1) => ({ type: "text.delta" as const, node_id: "draft", attempt, offset, text });
  const running = (attempt = 1) => feed(initialState(["draft"]), [ev(1, "node.running", "draft", { attempt })]).state;

  it("grows the running node's draft and restarts it at offset 0", () => {
    let state = running();
    for (const [offset, text] of [[0, "Hello "], [6, "there"]] as const) state = receiveDelta(state, delta(offset, text));
    expect(state.nodes.draft.draft).toBe("Hello there");
    expect(receiveDelta(state, delta(0, "Hi")).nodes.draft.draft).toBe("Hi");
  });

  it("ignores a delta after a lost one, for another attempt or for a node not running", () => {
    const state = receiveDelta(running(), delta(0, "Hello "));
    expect(receiveDelta(state, delta(9, "lost"))).toBe(state);
    expect(receiveDelta(state, delta(6, "old", 2))).toBe(state);
    const ended = feed(state, [ev(2, "node.succeeded", "draft")]).state;
    expect(receiveDelta(ended, delta(6, "late"))).toBe(ended);
  });

  it("drops the draft when the stored output arrives or the node runs again", () => {
    const state = receiveDelta(running(), delta(0, "Hello"));
    const withOutput = applySnapshot(state, snapshot({ last_seq: 1, nodes: [{ node_id: "draft", node_type: "generate", status: "succeeded", attempt: 1, handle: "out", output: { text: "Hello" } }] }));
    expect(withOutput.nodes.draft.draft).toBeNull();
    expect(feed(state, [ev(2, "node.failed", "draft"), ev(3, "node.running", "draft", { attempt: 2 })]).state.nodes.draft.draft).toBeNull();
  });

  it("parses well-formed deltas only", () => {
    expect(parseMessage('{"type":"text.delta","node_id":"draft","attempt":1,"offset":3,"text":"lo"}')).toEqual(delta(3, "lo"));
    expect(parseMessage('{"type":"text.delta","node_id":"draft","attempt":1,"offset":-1,"text":"lo"}')).toBeNull();
    expect(parseMessage('{"type":"text.delta","node_id":"draft","attempt":1,"offset":0}')).toBeNull();
  });
});
