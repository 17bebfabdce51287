// The run view's state and the rules for applying RunEvents to it. Pure: every function takes
// the state (and the clock, where time matters) and returns a new state plus the side effects
// the caller must perform (send a resume, refetch the REST snapshot). No React, no sockets.
//
// Rules (docs/engine.md, "Events"): an event is applied only when seq == lastSeq + 1; seq <=
// lastSeq is a duplicate and dropped; seq > lastSeq + 1 is a gap: not applied, the caller asks
// the server to resend after lastSeq, and refetches the snapshot if that has not filled the gap
// within RESUME_TIMEOUT_MS.

import { ENDED_RUN_STATUSES, EventType, LiveMessage, NODE_STATUS_AFTER, NODE_STATUSES, RUN_STATUS_AFTER, RUN_STATUSES, type NodeStatus, type RunStatus } from "./eventTypes.generated";
import { asStep, mergeSteps, withStep, type AgentStepView } from "./agentTrace";
import { formatClock, formatDateTime } from "./format";

export { ENDED_RUN_STATUSES, NODE_STATUSES, RUN_STATUSES, type NodeStatus, type RunStatus };
export const RESUME_TIMEOUT_MS = 2000;

export interface NodeError {
  code: string;
  message: string;
  traceback?: string;
  details?: unknown;
}

/** One node of `GET /api/v1/runs/{id}`. */
export interface NodeRunSnapshot {
  node_id: string;
  node_type: string;
  status: string;
  attempt: number;
  handle: string | null;
  input?: unknown;
  output?: unknown;
  error?: NodeError | null;
  usage?: Record<string, unknown> | null;
  cost?: string | number | null;
  cache_hit?: boolean;
  started_at?: string | null;
  finished_at?: string | null;
  duration_ms?: number | null;
  /** An agent node's recorded steps (docs/agents.md). */
  agent_steps?: unknown[];
}

/** `GET /api/v1/runs/{id}` (also the 202 body of cancel, retry and rerun). */
export interface RunSnapshot {
  id: number;
  workflow_id: number | null;
  workflow_name: string;
  version_number: number | null;
  status: string;
  trigger_kind: string;
  is_test: boolean;
  input: unknown;
  output: unknown;
  escalation_reason: string;
  error: string;
  cost: string | number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  last_seq: number;
  nodes: NodeRunSnapshot[];
}

/** `{"type": "event", ...}` from the run socket. */
export interface EventMessage {
  type: "event";
  seq: number;
  event: string;
  node_id: string;
  payload: Record<string, unknown>;
  at: string;
}

/** `{"type": "text.delta", ...}`: text a running node's model has written, at `offset` of its answer. Never stored. */
export interface TextDeltaMessage {
  type: typeof LiveMessage.TEXT_DELTA;
  node_id: string;
  attempt: number;
  offset: number;
  text: string;
}

export interface HelloMessage {
  type: "hello";
  run: number;
  last_seq: number;
}

export interface NodeState {
  status: NodeStatus;
  attempt: number;
  handle: string;
  /** Time from the node's last node.running to the event that ended or parked it. */
  durationMs: number | null;
  runningSince: string | null;
  /** Set while a failed/crashed node waits for its next attempt. */
  retryAt: string | null;
  cacheHit: boolean;
  error: NodeError | null;
  input: unknown;
  output: unknown;
  usage: Record<string, unknown> | null;
  cost: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** The answer so far, from text deltas, until the node's stored output arrives. */
  draft: string | null;
  /** An agent node's steps, from the snapshot and the `agent.step` events. */
  agentSteps: AgentStepView[];
}

export interface TimelineRow {
  seq: number;
  event: string;
  nodeId: string;
  at: string;
  payload: Record<string, unknown>;
}

export interface RunViewState {
  /** The newest snapshot's run fields (workflow, version, cost, input, output...). */
  run: Omit<RunSnapshot, "nodes"> | null;
  status: RunStatus | null;
  /** Highest seq applied to `status` and `nodes`. */
  lastSeq: number;
  /** last_seq of the newest snapshot merged; below lastSeq means outputs may be stale. */
  snapshotSeq: number;
  nodes: Record<string, NodeState>;
  /** One row per seq, ascending; never holds a seq above lastSeq. */
  timeline: TimelineRow[];
  /** A resume request in flight: the server was asked to resend everything after `after`. */
  resume: { after: number; since: number } | null;
}

export type Effect = { type: "resume"; after: number } | { type: "refetch"; reason: "gap" | "run-ended" };

export type Outcome = "applied" | "duplicate" | "gap";

export interface Step {
  state: RunViewState;
  effects: Effect[];
}

/** Events after which the node's duration (since its last node.running) is known. */
const DURATION_EVENTS = new Set<string>([EventType.NODE_SUCCEEDED, EventType.NODE_FAILED, EventType.NODE_CRASHED, EventType.NODE_CANCELLED, EventType.NODE_WAITING]);

// An event from the wire may be of a type this build does not know: it then moves no status.
export function nodeStatusForEvent(event: string): NodeStatus | null {
  return NODE_STATUS_AFTER[event as EventType] ?? null;
}

export function runStatusForEvent(event: string): RunStatus | null {
  return RUN_STATUS_AFTER[event as EventType] ?? null;
}

export function isRunEnded(status: RunStatus | null): boolean {
  return status !== null && ENDED_RUN_STATUSES.includes(status);
}

export function asNodeStatus(value: string): NodeStatus {
  return (NODE_STATUSES as readonly string[]).includes(value) ? (value as NodeStatus) : "pending";
}

export function asRunStatus(value: string): RunStatus {
  return (RUN_STATUSES as readonly string[]).includes(value) ? (value as RunStatus) : "queued";
}

/** Milliseconds between two ISO timestamps, or null when either is missing or unreadable. */
export function durationBetween(from: string | null | undefined, to: string | null | undefined): number | null {
  if (!from || !to) return null;
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) && ms >= 0 ? ms : null;
}

export function emptyNode(): NodeState {
  return {
    status: "pending",
    attempt: 0,
    handle: "",
    durationMs: null,
    runningSince: null,
    retryAt: null,
    cacheHit: false,
    error: null,
    input: null,
    output: null,
    usage: null,
    cost: null,
    startedAt: null,
    finishedAt: null,
    draft: null,
    agentSteps: [],
  };
}

/** The state before anything is known; `nodeIds` are the graph's nodes (all pending). */
export function initialState(nodeIds: string[] = []): RunViewState {
  return {
    run: null,
    status: null,
    lastSeq: 0,
    snapshotSeq: 0,
    nodes: Object.fromEntries(nodeIds.map((id) => [id, emptyNode()])),
    timeline: [],
    resume: null,
  };
}

function nodeFromSnapshot(snap: NodeRunSnapshot, previous: NodeState | undefined, takeStatus: boolean): NodeState {
  const base = previous ?? emptyNode();
  const details = {
    input: snap.input ?? null,
    output: snap.output ?? null,
    usage: snap.usage ?? null,
    cost: snap.cost === undefined || snap.cost === null ? null : String(snap.cost),
    // The stored output replaces the live draft.
    draft: snap.output === undefined || snap.output === null ? (previous?.draft ?? null) : null,
    agentSteps: mergeSteps(base.agentSteps, snap.agent_steps, takeStatus),
  };
  if (!takeStatus) {
    // The snapshot is older than the events already applied: keep their statuses, take the
    // details it adds (outputs, usage) and the traceback only the snapshot carries.
    const error = base.error && snap.error && base.error.code === snap.error.code ? { ...snap.error, ...base.error, traceback: snap.error.traceback } : base.error;
    return { ...base, ...details, error };
  }
  const status = asNodeStatus(snap.status);
  // A snapshot without a duration must not erase the one the events measured for this same state.
  const durationMs =
    snap.duration_ms ??
    (status === "running" ? null : durationBetween(snap.started_at, snap.finished_at)) ??
    (previous && previous.status === status && previous.attempt === snap.attempt ? previous.durationMs : null);
  return {
    ...base,
    ...details,
    status,
    attempt: snap.attempt,
    handle: snap.handle ?? "",
    durationMs,
    runningSince: status === "running" ? (snap.started_at ?? null) : null,
    retryAt: null,
    cacheHit: Boolean(snap.cache_hit),
    error: snap.error ?? null,
    startedAt: snap.started_at ?? null,
    finishedAt: snap.finished_at ?? null,
  };
}

/** Merge a REST snapshot. A snapshot at least as new as the applied events replaces statuses
 * and moves lastSeq forward to its last_seq; an older one only contributes details. */
export function applySnapshot(state: RunViewState, snap: RunSnapshot): RunViewState {
  const { nodes: nodeSnaps, ...run } = snap;
  const newer = snap.last_seq >= state.lastSeq;
  const nodes = { ...state.nodes };
  for (const nodeSnap of nodeSnaps) {
    nodes[nodeSnap.node_id] = nodeFromSnapshot(nodeSnap, nodes[nodeSnap.node_id], newer);
  }
  const lastSeq = Math.max(state.lastSeq, snap.last_seq);
  return {
    ...state,
    run: newer || !state.run ? run : { ...run, status: state.run.status },
    status: newer || state.status === null ? asRunStatus(snap.status) : state.status,
    lastSeq,
    snapshotSeq: Math.max(state.snapshotSeq, snap.last_seq),
    nodes,
    resume: state.resume && state.resume.after < lastSeq ? null : state.resume,
  };
}

function rowOf(message: EventMessage): TimelineRow {
  return { seq: message.seq, event: message.event, nodeId: message.node_id ?? "", at: message.at, payload: message.payload ?? {} };
}

/** Insert rows (seq <= limit only) into an ascending, duplicate-free timeline. */
export function mergeTimeline(timeline: TimelineRow[], rows: TimelineRow[], limit: number): TimelineRow[] {
  const fresh = rows.filter((row) => row.seq <= limit);
  if (!fresh.length) return timeline;
  const bySeq = new Map(timeline.map((row) => [row.seq, row]));
  let added = false;
  for (const row of fresh) {
    if (!bySeq.has(row.seq)) {
      bySeq.set(row.seq, row);
      added = true;
    }
  }
  if (!added) return timeline;
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/** History from `GET {api}/events` (display only: statuses already come from the snapshot). */
export function mergeHistory(state: RunViewState, rows: TimelineRow[]): RunViewState {
  const timeline = mergeTimeline(state.timeline, rows, state.lastSeq);
  return timeline === state.timeline ? state : { ...state, timeline };
}

/** The `after` to page history from when the timeline lacks some seq <= lastSeq, else null. */
export function missingHistoryAfter(state: RunViewState): number | null {
  let expected = 1;
  for (const row of state.timeline) {
    if (row.seq !== expected) return expected - 1;
    expected += 1;
  }
  return expected - 1 < state.lastSeq ? expected - 1 : null;
}

function applyToNode(node: NodeState, message: EventMessage, status: NodeStatus): NodeState {
  const payload = message.payload ?? {};
  const next: NodeState = { ...node, status };
  switch (message.event) {
    case EventType.NODE_QUEUED:
      next.draft = null;
      next.retryAt = null;
      next.durationMs = null;
      next.runningSince = null;
      if (payload.retry_of_attempt !== undefined) next.error = null;
      break;
    case EventType.NODE_RUNNING:
      next.draft = null;
      next.runningSince = message.at;
      next.startedAt = message.at;
      next.finishedAt = null;
      next.durationMs = null;
      next.retryAt = null;
      next.error = null;
      if (typeof payload.attempt === "number") next.attempt = payload.attempt;
      break;
    case EventType.NODE_SUCCEEDED:
      next.handle = typeof payload.handle === "string" ? payload.handle : "";
      next.cacheHit = Boolean(payload.cache_hit);
      next.error = null;
      break;
    case EventType.NODE_FAILED:
    case EventType.NODE_CRASHED: {
      const retryAt = payload.retry_at;
      next.retryAt = typeof retryAt === "string" && retryAt ? retryAt : null;
      if (typeof payload.attempt === "number") next.attempt = payload.attempt;
      const code = typeof payload.code === "string" ? payload.code : message.event === EventType.NODE_CRASHED ? "worker_lost" : "error";
      const text = typeof payload.error === "string" ? payload.error : message.event === EventType.NODE_CRASHED ? "The worker running this node stopped answering" : "";
      next.error = { code, message: text };
      break;
    }
    case EventType.NODE_CANCELLED:
      next.retryAt = null;
      break;
  }
  if (DURATION_EVENTS.has(message.event)) {
    const ms = durationBetween(node.runningSince, message.at);
    if (ms !== null) next.durationMs = ms;
    next.runningSince = null;
    next.finishedAt = message.event === EventType.NODE_WAITING ? null : message.at;
  }
  return next;
}

/** The change one in-order event makes to statuses (lastSeq and the timeline aside). */
function applyEvent(state: RunViewState, message: EventMessage): RunViewState {
  const nodeStatus = nodeStatusForEvent(message.event);
  const runStatus = runStatusForEvent(message.event);
  let { nodes, status } = state;
  if (nodeStatus && message.node_id) {
    nodes = { ...nodes, [message.node_id]: applyToNode(nodes[message.node_id] ?? emptyNode(), message, nodeStatus) };
  }
  if (runStatus) status = runStatus;
  const step = message.event === EventType.AGENT_STEP && message.node_id ? asStep(message.payload ?? {}) : null;
  if (step) {
    const node = nodes[message.node_id] ?? emptyNode();
    nodes = { ...nodes, [message.node_id]: { ...node, agentSteps: withStep(node.agentSteps, step) } };
  }
  return { ...state, nodes, status };
}

/** Handle one `{"type": "event"}` message. `now` is the caller's clock in milliseconds. */
export function receiveEvent(state: RunViewState, message: EventMessage, now: number): Step & { outcome: Outcome } {
  if (message.seq <= state.lastSeq) {
    // A duplicate changes nothing, but may fill a timeline row a snapshot jumped over.
    const timeline = mergeTimeline(state.timeline, [rowOf(message)], state.lastSeq);
    return { state: timeline === state.timeline ? state : { ...state, timeline }, effects: [], outcome: "duplicate" };
  }
  if (message.seq > state.lastSeq + 1) {
    if (state.resume && state.resume.after === state.lastSeq) return { state, effects: [], outcome: "gap" };
    return {
      state: { ...state, resume: { after: state.lastSeq, since: now } },
      effects: [{ type: "resume", after: state.lastSeq }],
      outcome: "gap",
    };
  }
  const applied = applyEvent(state, message);
  const lastSeq = message.seq;
  const last = state.timeline[state.timeline.length - 1];
  const row = rowOf(message);
  const timeline = !last || last.seq < row.seq ? [...state.timeline, row] : mergeTimeline(state.timeline, [row], lastSeq);
  const effects: Effect[] = [];
  if (isRunEnded(runStatusForEvent(message.event))) effects.push({ type: "refetch", reason: "run-ended" });
  return {
    state: { ...applied, lastSeq, timeline, resume: state.resume && state.resume.after < lastSeq ? null : state.resume },
    effects,
    outcome: "applied",
  };
}

/** Handle one text delta: grow the running node's draft. A delta for another attempt, for a node
 * not running, or past the end of the draft (an earlier one was lost) changes nothing; offset 0
 * starts the draft again (the model call was retried). */
export function receiveDelta(state: RunViewState, message: TextDeltaMessage): RunViewState {
  const node = state.nodes[message.node_id];
  if (!node || node.status !== "running" || (node.attempt && node.attempt !== message.attempt)) return state;
  const draft = node.draft ?? "";
  if (message.offset > draft.length) return state;
  const grown = draft.slice(0, message.offset) + message.text;
  if (grown === node.draft) return state;
  return { ...state, nodes: { ...state.nodes, [message.node_id]: { ...node, draft: grown } } };
}

/** Call RESUME_TIMEOUT_MS after a resume: if the gap is still there, refetch the snapshot. */
export function checkResume(state: RunViewState, now: number, timeoutMs = RESUME_TIMEOUT_MS): Step {
  const resume = state.resume;
  if (!resume || now - resume.since < timeoutMs) return { state, effects: [] };
  if (state.lastSeq > resume.after) return { state: { ...state, resume: null }, effects: [] };
  return { state: { ...state, resume: null }, effects: [{ type: "refetch", reason: "gap" }] };
}

/** A (re)connected socket replays everything after the `after` it was opened with. */
export function receiveHello(state: RunViewState): RunViewState {
  return state.resume ? { ...state, resume: null } : state;
}

/** Parse a socket frame; anything that is not a well-formed hello, event or text delta gives null. */
export function parseMessage(text: string): HelloMessage | EventMessage | TextDeltaMessage | null {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  if (!data || typeof data !== "object") return null;
  const message = data as Record<string, unknown>;
  if (message.type === "hello" && typeof message.last_seq === "number") return message as unknown as HelloMessage;
  if (message.type === LiveMessage.TEXT_DELTA) {
    const { node_id, attempt, offset, text } = message;
    if (typeof node_id !== "string" || typeof text !== "string" || !Number.isInteger(offset) || (offset as number) < 0) return null;
    return { type: LiveMessage.TEXT_DELTA, node_id, attempt: Number.isInteger(attempt) ? (attempt as number) : 0, offset: offset as number, text };
  }
  if (message.type === "event" && Number.isInteger(message.seq) && typeof message.event === "string") {
    return {
      type: "event",
      seq: message.seq as number,
      event: message.event,
      node_id: typeof message.node_id === "string" ? message.node_id : "",
      payload: message.payload && typeof message.payload === "object" ? (message.payload as Record<string, unknown>) : {},
      at: typeof message.at === "string" ? message.at : "",
    };
  }
  return null;
}

/** A row of `GET {api}/events` ({seq, type, node_id, payload, created_at}) as a timeline row. */
export function historyRow(event: { seq: number; type?: string; event?: string; node_id?: string; payload?: Record<string, unknown>; created_at?: string; at?: string }): TimelineRow {
  return {
    seq: event.seq,
    event: event.type ?? event.event ?? "",
    nodeId: event.node_id ?? "",
    at: event.created_at ?? event.at ?? "",
    payload: event.payload ?? {},
  };
}

/** A short plain-text detail for a timeline row ("handle true", "attempt 2", the error...). */
export function describeEvent(row: Pick<TimelineRow, "event" | "payload">): string {
  const p = row.payload ?? {};
  const str = (key: string) => (typeof p[key] === "string" && p[key] ? (p[key] as string) : "");
  const parts: string[] = [];
  switch (row.event) {
    case EventType.NODE_RUNNING:
      if (typeof p.attempt === "number" && p.attempt > 1) parts.push(`attempt ${p.attempt}`);
      break;
    case EventType.NODE_SUCCEEDED:
      if (str("handle")) parts.push(`→ ${str("handle")}`);
      if (p.cache_hit) parts.push("cache hit");
      break;
    case EventType.NODE_FAILED:
    case EventType.NODE_CRASHED:
      if (str("code")) parts.push(str("code"));
      if (str("error")) parts.push(str("error"));
      if (str("retry_at")) parts.push(`retry at ${formatClock(str("retry_at")) || str("retry_at")}`);
      break;
    case EventType.NODE_QUEUED:
      if (typeof p.retry_of_attempt === "number") parts.push(`retry of attempt ${p.retry_of_attempt}`);
      break;
    case EventType.NODE_WAITING:
      if (str("until")) parts.push(`until ${formatDateTime(str("until"))}`);
      break;
    case EventType.AGENT_STEP:
      parts.push([str("kind"), str("tool"), str("status")].filter(Boolean).join(" "));
      break;
    case EventType.RUN_QUEUED:
      if (str("trigger")) parts.push(`trigger ${str("trigger")}`);
      break;
    case EventType.RUN_FAILED:
      if (str("error")) parts.push(str("error"));
      break;
    case EventType.RUN_ESCALATED:
      if (str("reason")) parts.push(str("reason"));
      break;
    case EventType.RUN_CANCELLED:
    case EventType.RUN_RETRIED:
      if (str("by")) parts.push(`by ${str("by")}`);
      break;
  }
  return parts.join(" · ");
}
