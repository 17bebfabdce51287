// Copy and paste of a selection as our graph JSON, so it travels between workflows (and tabs)
// through the system clipboard or localStorage. Pasted nodes get fresh ids, and expressions in
// the pasted params that pointed at a copied node point at its copy.

import type { GraphEdgeV1, GraphNodeV1, GraphV1, StickyNoteV1 } from "./graph";

export const FRAGMENT_FORMAT = "switchyard-fragment";
export const CLIPBOARD_KEY = "switchyard:clipboard";

export interface Fragment {
  format: typeof FRAGMENT_FORMAT;
  schema_version: 1;
  nodes: GraphNodeV1[];
  edges: GraphEdgeV1[];
  notes: StickyNoteV1[];
}

/** The selected nodes and notes, with the edges that run between selected nodes. */
export function copyFragment(graph: GraphV1, selected: ReadonlySet<string>): Fragment | null {
  const nodes = graph.nodes.filter((node) => selected.has(node.id));
  const notes = (graph.notes ?? []).filter((note) => selected.has(note.id));
  if (!nodes.length && !notes.length) return null;
  const edges = graph.edges.filter((edge) => selected.has(edge.source) && selected.has(edge.target));
  return structuredClone({ format: FRAGMENT_FORMAT, schema_version: 1, nodes, edges, notes });
}

export function parseFragment(text: string): Fragment | null {
  try {
    const data = JSON.parse(text) as Partial<Fragment>;
    if (data?.format !== FRAGMENT_FORMAT || data.schema_version !== 1 || !Array.isArray(data.nodes) || !Array.isArray(data.edges)) return null;
    return { format: FRAGMENT_FORMAT, schema_version: 1, nodes: data.nodes, edges: data.edges, notes: Array.isArray(data.notes) ? data.notes : [] };
  } catch {
    return null;
  }
}

/** A node id (engine/graph.py NODE_ID_PATTERN) built from `base`, not yet in `taken`. */
export function freshId(base: string, taken: ReadonlySet<string>): string {
  const stem = (base.replace(/[^A-Za-z0-9_]/g, "_").replace(/^(?=[0-9])/, "n_") || "node").slice(0, 56);
  const root = stem.replace(/_\d+$/, "");
  for (let n = 1; ; n += 1) {
    const id = `${root}_${n}`;
    if (!taken.has(id)) return id;
  }
}

function retarget(params: Record<string, unknown> | undefined, renamed: Map<string, string>): Record<string, unknown> | undefined {
  if (!params || !renamed.size) return params;
  const text = JSON.stringify(params).replace(/\bnodes\.([A-Za-z_][A-Za-z0-9_]*)/g, (whole, id: string) => (renamed.has(id) ? `nodes.${renamed.get(id)}` : whole));
  return JSON.parse(text) as Record<string, unknown>;
}

/** `graph` with `fragment` added `offset` away from where it was copied; also the new ids. */
export function pasteFragment(graph: GraphV1, fragment: Fragment, offset: { x: number; y: number }): { graph: GraphV1; ids: string[] } {
  const taken = new Set([...graph.nodes.map((n) => n.id), ...(graph.notes ?? []).map((n) => n.id), ...graph.edges.map((e) => e.id)]);
  const renamed = new Map<string, string>();
  for (const item of [...fragment.nodes, ...fragment.notes]) {
    const id = freshId(item.id, taken);
    taken.add(id);
    renamed.set(item.id, id);
  }
  const move = (position: { x: number; y: number } | undefined) => ({ x: (position?.x ?? 0) + offset.x, y: (position?.y ?? 0) + offset.y });
  const nodes = fragment.nodes.map((node) => ({ ...node, id: renamed.get(node.id)!, position: move(node.position), params: retarget(node.params, renamed) }));
  const notes = fragment.notes.map((note) => ({ ...note, id: renamed.get(note.id)!, position: move(note.position) }));
  const edges = fragment.edges.map((edge) => {
    const id = freshId(`e_${renamed.get(edge.source)}_${renamed.get(edge.target)}`, taken);
    taken.add(id);
    return { ...edge, id, source: renamed.get(edge.source)!, target: renamed.get(edge.target)! };
  });
  return {
    graph: { ...graph, nodes: [...graph.nodes, ...nodes], edges: [...graph.edges, ...edges], notes: [...(graph.notes ?? []), ...notes] },
    ids: [...renamed.values()],
  };
}
