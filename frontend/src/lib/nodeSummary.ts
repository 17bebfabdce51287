// One line saying what a node is configured to do, for its card on the canvas: the model of an AI
// node, the knowledge base of a search, the threshold of a check. Pure: tested per kind.

const MAX = 44;

type Params = Record<string, unknown>;

function text(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value.replace(/\s+/g, " ").trim();
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

function short(value: string): string {
  return value.length > MAX ? `${value.slice(0, MAX - 1)}…` : value;
}

function names(value: unknown): string[] {
  if (Array.isArray(value)) {
    return value.map((item) => (item && typeof item === "object" && "name" in item ? text((item as { name: unknown }).name) : text(item))).filter(Boolean);
  }
  if (value && typeof value === "object") return Object.keys(value);
  return [];
}

function list(items: string[], shown = 3): string {
  return items.length > shown ? `${items.slice(0, shown).join(", ")} +${items.length - shown}` : items.join(", ");
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function model(params: Params): string {
  return `${text(params.provider) || "builtin"} · ${text(params.model) || "builtin-extractive"}`;
}

function seconds(value: unknown): string {
  const s = Number(value);
  if (!Number.isFinite(s)) return "";
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600} h`;
  if (s >= 60 && s % 60 === 0) return `${s / 60} min`;
  return `${s} s`;
}

const SUMMARIES: Record<string, (params: Params) => string> = {
  trigger: (p) => {
    const fields = names((p.input_schema as Params | undefined)?.properties);
    return fields.length ? `input: ${list(fields)}` : "any input";
  },
  classify: (p) => {
    const labels = names(p.labels);
    return labels.length ? `${model(p)} · ${plural(labels.length, "label")}` : model(p);
  },
  extract: (p) => {
    const fields = names(p.fields);
    return fields.length ? `${model(p)} · ${plural(fields.length, "field")}` : model(p);
  },
  generate: model,
  agent: (p) => `${model(p)} · ${plural(Array.isArray(p.tools) ? p.tools.length : 0, "tool")}`,
  retrieve: (p) => {
    const base = typeof p.knowledge_base === "number" ? `knowledge base #${p.knowledge_base}` : text(p.knowledge_base) || "no knowledge base";
    return `${base} · top ${text(p.top_k) || "5"}`;
  },
  confidence_check: (p) => {
    const rules = Array.isArray(p.rules) ? p.rules.length : 0;
    const threshold = `confidence ≥ ${text(p.threshold) || "0.7"}`;
    return rules ? `${threshold} · ${rules} rule${rules === 1 ? "" : "s"}` : threshold;
  },
  transform: (p) => {
    const fields = names(p.fields);
    return fields.length ? `sets ${list(fields)}` : "no fields";
  },
  http_request: (p) => {
    const url = text(p.url);
    let where = url;
    try {
      const parsed = new URL(url);
      where = parsed.host + (parsed.pathname === "/" ? "" : parsed.pathname);
    } catch {
      // An expression or a partial URL: shown as written.
    }
    return `${text(p.method) || "GET"} ${where || "no URL"}`;
  },
  condition: (p) => (text(p.expression) ? `if ${text(p.expression)}` : "no condition"),
  switch: (p) => {
    const cases = names(p.cases);
    return `on ${text(p.value) || "?"} · ${cases.length} case${cases.length === 1 ? "" : "s"}`;
  },
  delay: (p) => (seconds(p.seconds) ? `wait ${seconds(p.seconds)}` : "no delay set"),
  reply: (p) => (text(p.answer) ? `answers ${text(p.answer)}` : "no answer"),
  escalate: (p) => text(p.reason) || "no reason",
  approval: (p) => {
    const needed = Number(p.required_approvals ?? 1) || 1;
    const title = text(p.title) || "Review";
    return `${title} · ${needed} approval${needed === 1 ? "" : "s"}`;
  },
};

export function nodeSummary(kind: string, params: Params | undefined): string {
  const summarise = SUMMARIES[kind];
  return summarise ? short(summarise(params ?? {})) : "";
}
