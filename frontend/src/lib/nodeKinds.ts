// Node kinds as GET /api/v1/node-types describes them (engine/registry.py Node.describe), and the
// handles a node of a kind has. Pure: shared by the designer and its tests.

import type { GraphNodeV1 } from "./graph";
export interface NodeKind {
  kind: string;
  label: string;
  category: string;
  description: string;
  inputs: string[];
  outputs: string[];
  side_effect: boolean;
  is_trigger: boolean;
  params_schema: JsonSchema;
  /** The failure policies a node of this kind may choose, and the handle "continue" adds; null for a trigger. */
  on_failure?: { choices: string[]; default: string; handle: string } | null;
}

/** What the outputs of a node depend on: its params (a switch's cases) and its failure policy. */
export type HandleSource = Pick<GraphNodeV1, "params" | "on_failure">;

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  default?: unknown;
  enum?: unknown[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  [key: string]: unknown;
}

/** The output handles of a node: its kind's, except a switch, which has one per case plus
 * `default` (engine/nodes/branching.py Switch.output_handles). */
export function outputHandles(kind: NodeKind | undefined, node: HandleSource | undefined): string[] {
  if (!kind) return [];
  const params = node?.params;
  const handles =
    kind.kind === "switch"
      ? [...new Set(Array.isArray(params?.cases) ? params.cases.filter((c): c is string => typeof c === "string" && c !== "") : []), "default"]
      : kind.outputs;
  const onError = kind.on_failure?.handle;
  return node?.on_failure === "continue" && onError && !handles.includes(onError) ? [...handles, onError] : handles;
}

export function inputHandles(kind: NodeKind | undefined): string[] {
  return kind ? kind.inputs : [];
}

/** The params a new node starts with: each top-level property's default. */
export function defaultParams(kind: NodeKind): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(kind.params_schema.properties ?? {})) {
    if (schema.default !== undefined) params[name] = structuredClone(schema.default);
  }
  return params;
}

/** How well a kind matches a search: its name starts with it (0), holds it (1), or only its description or category does (2). */
function matchRank(kind: NodeKind, needle: string): number | null {
  const names = `${kind.label} ${kind.kind}`.toLowerCase();
  if (names.split(/[\s_]+/).some((word) => word.startsWith(needle)) || names.startsWith(needle)) return 0;
  if (names.includes(needle)) return 1;
  return `${kind.description} ${kind.category}`.toLowerCase().includes(needle) ? 2 : null;
}

/** Kinds grouped by category (in the order given), filtered by a search over label, kind and description.
 * With a search, the best matches come first (within a group, and the group holding them first), so
 * "rep" offers Reply before a kind that merely says "replace". */
export function paletteGroups(kinds: NodeKind[], search: string): { category: string; kinds: NodeKind[] }[] {
  const needle = search.trim().toLowerCase();
  const groups = new Map<string, { kind: NodeKind; rank: number }[]>();
  for (const kind of kinds) {
    const rank = needle ? matchRank(kind, needle) : 0;
    if (rank === null) continue;
    groups.set(kind.category, [...(groups.get(kind.category) ?? []), { kind, rank }]);
  }
  const best = (members: { rank: number }[]) => Math.min(...members.map((m) => m.rank));
  return [...groups.entries()]
    .sort(([, a], [, b]) => best(a) - best(b))
    .map(([category, members]) => ({ category, kinds: [...members].sort((a, b) => a.rank - b.rank).map((m) => m.kind) }));
}
