// An agent node's trace: its recorded steps (model turns, tool calls, approvals) as the run API
// (`agent_steps`) and the `agent.step` events carry them (docs/agents.md). Pure: the run view and
// the designer's Last run tab fold steps in with `withStep` and draw `traceTurns`.

/** One step, as engine/runs/agent_steps.py `payload` writes it. */
export interface AgentStepView {
  attempt: number;
  loop: number;
  seq: number;
  turn: number;
  kind: "model" | "tool" | "approval";
  status: string;
  tool: string;
  call_id: string;
  text: string;
  arguments: unknown;
  result: unknown;
  tool_calls: { id?: string; name?: string; arguments?: string }[];
  tokens_in: number;
  tokens_out: number;
  cost: string;
  duration_ms: number;
}

const KIND_ORDER: Record<string, number> = { approval: 0, model: 1, tool: 2 };

function compare(a: AgentStepView, b: AgentStepView): number {
  return a.loop - b.loop || a.seq - b.seq || (KIND_ORDER[a.kind] ?? 9) - (KIND_ORDER[b.kind] ?? 9);
}

function sameStep(a: AgentStepView, b: AgentStepView): boolean {
  return a.loop === b.loop && a.seq === b.seq && a.kind === b.kind;
}

function number(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** A step from an event payload or an API row; null when it is not one (no kind or seq). */
export function asStep(payload: Record<string, unknown>): AgentStepView | null {
  const kind = payload.kind;
  if ((kind !== "model" && kind !== "tool" && kind !== "approval") || typeof payload.seq !== "number") return null;
  return {
    attempt: number(payload.attempt),
    loop: number(payload.loop) || 1,
    seq: payload.seq,
    turn: number(payload.turn),
    kind,
    status: text(payload.status),
    tool: text(payload.tool),
    call_id: text(payload.call_id),
    text: text(payload.text),
    arguments: payload.arguments ?? null,
    result: payload.result ?? null,
    tool_calls: Array.isArray(payload.tool_calls) ? (payload.tool_calls as AgentStepView["tool_calls"]) : [],
    tokens_in: number(payload.tokens_in),
    tokens_out: number(payload.tokens_out),
    cost: payload.cost === undefined || payload.cost === null ? "0" : String(payload.cost),
    duration_ms: number(payload.duration_ms),
  };
}

/** The steps with `step` in its place: a step seen again (an approval decided, a replayed event) replaces the old one. */
export function withStep(steps: AgentStepView[], step: AgentStepView): AgentStepView[] {
  const kept = steps.filter((old) => !sameStep(old, step));
  return [...kept, step].sort(compare);
}

/** Steps from the API answer merged with those the events brought: a snapshot at least as new as
 * the events (`newer`) replaces the steps it holds; an older one only adds the steps missing. */
export function mergeSteps(steps: AgentStepView[], rows: unknown[] | undefined, newer: boolean): AgentStepView[] {
  let merged = steps;
  for (const row of rows ?? []) {
    const step = row && typeof row === "object" ? asStep(row as Record<string, unknown>) : null;
    if (step && (newer || !merged.some((old) => sameStep(old, step)))) merged = withStep(merged, step);
  }
  return merged;
}

export interface ToolCallView {
  seq: number;
  name: string;
  callId: string;
  /** The call's result step, once recorded. */
  step: AgentStepView | null;
  approval: AgentStepView | null;
}

export interface TurnView {
  loop: number;
  seq: number;
  model: AgentStepView;
  calls: ToolCallView[];
}

/** The steps as turns: each model turn with the tool calls it asked for, their approvals and results. */
export function traceTurns(steps: AgentStepView[]): TurnView[] {
  const turns: TurnView[] = [];
  const ordered = [...steps].sort(compare);
  const find = (loop: number, seq: number, kind: string) => ordered.find((s) => s.loop === loop && s.seq === seq && s.kind === kind) ?? null;
  for (const model of ordered.filter((step) => step.kind === "model")) {
    const calls = model.tool_calls.map((asked, index) => {
      const seq = model.seq + 1 + index;
      const step = find(model.loop, seq, "tool");
      return { seq, name: asked.name ?? step?.tool ?? "", callId: asked.id ?? step?.call_id ?? "", step, approval: find(model.loop, seq, "approval") };
    });
    turns.push({ loop: model.loop, seq: model.seq, model, calls });
  }
  return turns;
}

/** The loops a node's steps span, newest last: a node run again ("retry from here") starts another. */
export function loopsOf(steps: AgentStepView[]): number[] {
  return [...new Set(steps.map((step) => step.loop))].sort((a, b) => a - b);
}

/** The inbox item of an approval step: approvals/urls.py `tool-call`, keyed by the step's loop and seq. */
export function approvalUrl(runId: number, nodeId: string, step: Pick<AgentStepView, "loop" | "seq">): string {
  return `/inbox/runs/${runId}/${encodeURIComponent(nodeId)}/calls/${step.loop}.${step.seq}/`;
}

const APPROVAL_TEXT: Record<string, string> = {
  pending: "waiting for a reviewer",
  approved: "approved",
  edited: "approved with edited arguments",
  rejected: "rejected",
};

export function approvalText(status: string): string {
  return APPROVAL_TEXT[status] ?? status;
}

/** A tool call's arguments as the model sent them: the recorded ones, else the turn's raw JSON text. */
export function callArguments(call: ToolCallView, turn: TurnView): unknown {
  if (call.step?.arguments !== undefined && call.step?.arguments !== null) return call.step.arguments;
  if (call.approval?.arguments !== undefined && call.approval?.arguments !== null) return call.approval.arguments;
  const raw = turn.model.tool_calls[call.seq - turn.seq - 1]?.arguments;
  if (typeof raw !== "string") return null;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}
