// The model calls a node made, as the engine keeps them in its usage (engine/providers/calls.py). Pure.

import { formatCost, formatDuration } from "./format";

export interface PromptMessage {
  role: string;
  content: string;
}

// How the offline provider is named wherever a model is shown (engine/providers/builtin.py LABEL).
const BUILTIN_LABEL = "built-in (offline)";

export interface ModelCall {
  call: number;
  provider: string;
  providerKind: string;
  model: string;
  tokensIn: number;
  tokensOut: number;
  cost: string;
  latencyMs: number;
  cached: boolean;
  prompt: PromptMessage[];
  response: string;
}

const text = (value: unknown): string => (typeof value === "string" ? value : "");
const count = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) ? value : 0);

function message(value: unknown): PromptMessage | null {
  if (!value || typeof value !== "object") return null;
  const entry = value as Record<string, unknown>;
  return { role: text(entry.role), content: text(entry.content) };
}

/** `usage.calls` as typed entries; anything that is not a call is left out. */
export function modelCalls(usage: Record<string, unknown> | null | undefined): ModelCall[] {
  const calls = usage?.calls;
  if (!Array.isArray(calls)) return [];
  return calls.flatMap((value, index): ModelCall[] => {
    if (!value || typeof value !== "object") return [];
    const entry = value as Record<string, unknown>;
    const prompt = Array.isArray(entry.prompt) ? entry.prompt.map(message).filter((m): m is PromptMessage => m !== null) : [];
    return [
      {
        call: typeof entry.call === "number" ? entry.call : index,
        provider: text(entry.provider),
        providerKind: text(entry.provider_kind),
        model: text(entry.model),
        tokensIn: count(entry.tokens_in),
        tokensOut: count(entry.tokens_out),
        cost: text(entry.cost) || String(count(entry.cost)),
        latencyMs: count(entry.latency_ms),
        cached: entry.cached === true,
        prompt,
        response: text(entry.response),
      },
    ];
  });
}

/** One line per call: "fake · gpt-4o · 310 in / 147 out · $0.0075 · 512 ms", or "… · from cache". */
export function callSummary(call: ModelCall): string {
  const provider = call.providerKind === "builtin" ? BUILTIN_LABEL : call.provider;
  const parts = [provider, call.model, `${call.tokensIn.toLocaleString("en")} in / ${call.tokensOut.toLocaleString("en")} out`, formatCost(call.cost)];
  parts.push(call.cached ? "from cache" : formatDuration(call.latencyMs));
  return parts.filter(Boolean).join(" · ");
}
