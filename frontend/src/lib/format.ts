// Small display helpers shared by islands. Pure.

/** "12 ms", "1.2 s", "3 min 05 s"; empty for unknown. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const totalSeconds = Math.round(ms / 1000);
  const minutes = Math.floor(totalSeconds / 60);
  const seconds = totalSeconds % 60;
  if (minutes < 60) return `${minutes} min ${String(seconds).padStart(2, "0")} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

/** Costs arrive as decimal strings ("0.001200"): "$0.0012", "$0.00" for zero, "" when unknown. */
export function formatCost(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === "") return "";
  const amount = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(amount)) return String(value);
  if (amount === 0) return "$0.00";
  const fixed = amount.toFixed(6).replace(/0+$/, "");
  const [whole, fraction = ""] = fixed.split(".");
  return `$${whole}.${fraction.padEnd(2, "0")}`;
}

/** Local wall-clock time with milliseconds, for event rows: "14:03:07.123". */
export function formatClock(iso: string): string {
  const date = new Date(iso);
  if (!iso || Number.isNaN(date.getTime())) return "";
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** Token counts from a usage object whatever the provider called them. */
export function tokenSummary(usage: Record<string, unknown> | null | undefined): string {
  if (!usage) return "";
  const pick = (...keys: string[]) => keys.map((key) => usage[key]).find((value) => typeof value === "number") as number | undefined;
  const input = pick("input_tokens", "prompt_tokens");
  const output = pick("output_tokens", "completion_tokens");
  const total = pick("total_tokens") ?? (input !== undefined || output !== undefined ? (input ?? 0) + (output ?? 0) : undefined);
  if (total === undefined) return "";
  const parts = [`${total.toLocaleString("en")} tokens`];
  if (input !== undefined && output !== undefined) parts.push(`(${input.toLocaleString("en")} in, ${output.toLocaleString("en")} out)`);
  return parts.join(" ");
}

/** JSON for a <pre>: always text, never markup. */
export function prettyJSON(value: unknown): string {
  if (value === undefined) return "";
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}
