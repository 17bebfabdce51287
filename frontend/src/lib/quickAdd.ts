// Quick building: where a node added from the "+" of an output, the "+" of an edge or the
// quick-add search goes, and the one graph edit that adds it connected. Pure: the designer's
// store applies `insertNode` as one undo step.

import { freshId } from "./clipboard";
import { sourceHandleOf, targetHandleOf, type GraphNodeV1, type GraphV1 } from "./graph";
import { defaultParams, inputHandles, outputHandles, type NodeKind } from "./nodeKinds";

type Point = { x: number; y: number };
type Size = { width: number; height: number };

/** Where a quick-added node is connected: after an output handle, or in place of an edge. */
export type QuickAddTarget = { kind: "after"; source: string; handle: string } | { kind: "edge"; edge: string } | { kind: "free"; position: Point };

export const GAP = { x: 80, y: 40 };

function box(node: GraphNodeV1, sizeOf: (node: GraphNodeV1) => Size) {
  return { ...(node.position ?? { x: 0, y: 0 }), ...sizeOf(node) };
}

function collides(graph: GraphV1, at: Point, size: Size, sizeOf: (node: GraphNodeV1) => Size, ignore: ReadonlySet<string>): boolean {
  return graph.nodes.some((node) => {
    if (ignore.has(node.id)) return false;
    const other = box(node, sizeOf);
    return at.x < other.x + other.width + GAP.y && other.x < at.x + size.width + GAP.y && at.y < other.y + other.height + GAP.y && other.y < at.y + size.height + GAP.y;
  });
}

/** Nodes reachable from `from` along edges, `from` included. */
export function downstreamOf(graph: GraphV1, from: string): Set<string> {
  const seen = new Set([from]);
  const queue = [from];
  while (queue.length) {
    const id = queue.shift()!;
    for (const edge of graph.edges) {
      if (edge.source === id && !seen.has(edge.target)) {
        seen.add(edge.target);
        queue.push(edge.target);
      }
    }
  }
  return seen;
}

/** The kinds that may be added at `target`: on an edge or after an output, the new node needs
 * an input (and, on an edge, an output to carry on); a trigger only goes on a free spot. */
export function kindsFor(kinds: NodeKind[], target: QuickAddTarget): NodeKind[] {
  if (target.kind === "free") return kinds;
  return kinds.filter((kind) => inputHandles(kind).length > 0 && !kind.is_trigger && (target.kind === "after" || outputHandles(kind, { params: defaultParams(kind) }).length > 0));
}

export interface Inserted {
  graph: GraphV1;
  id: string;
}

/** `graph` with a node of `kind` added at `target`, connected, and placed: after its source
 * (the first free spot below, one row per handle), or on an edge where the edge's target was,
 * everything after it shifted right to make room. */
export function insertNode(graph: GraphV1, kind: NodeKind, target: QuickAddTarget, sizeOf: (node: GraphNodeV1) => Size): Inserted | null {
  const taken = new Set([...graph.nodes.map((n) => n.id), ...(graph.notes ?? []).map((n) => n.id), ...graph.edges.map((e) => e.id)]);
  const id = freshId(kind.kind, taken);
  taken.add(id);
  const draft: GraphNodeV1 = { id, type: kind.kind, label: kind.label, params: defaultParams(kind) };
  const size = sizeOf(draft);
  const input = inputHandles(kind)[0];
  const output = outputHandles(kind, draft)[0];
  const edgeId = (source: string, to: string) => {
    const fresh = freshId(`e_${source}_${to}`, taken);
    taken.add(fresh);
    return fresh;
  };

  if (target.kind === "free") {
    return { graph: { ...graph, nodes: [...graph.nodes, { ...draft, position: target.position }] }, id };
  }
  if (!input) return null;

  if (target.kind === "after") {
    const source = graph.nodes.find((n) => n.id === target.source);
    if (!source) return null;
    const from = box(source, sizeOf);
    const at = { x: from.x + from.width + GAP.x, y: from.y };
    while (collides(graph, at, size, sizeOf, new Set())) at.y += size.height + GAP.y;
    const edge = { id: edgeId(source.id, id), source: source.id, source_handle: target.handle, target: id, target_handle: input };
    return { graph: { ...graph, nodes: [...graph.nodes, { ...draft, position: at }], edges: [...graph.edges, edge] }, id };
  }

  const old = graph.edges.find((e) => e.id === target.edge);
  const source = old && graph.nodes.find((n) => n.id === old.source);
  const next = old && graph.nodes.find((n) => n.id === old.target);
  if (!old || !source || !next || !output) return null;
  const from = box(source, sizeOf);
  const at = { x: from.x + from.width + GAP.x, y: next.position?.y ?? from.y };
  // Shift the edge's target and everything after it right, just enough to clear the new node.
  const room = at.x + size.width + GAP.x - (next.position?.x ?? 0);
  const shifted = room > 0 ? downstreamOf(graph, next.id) : new Set<string>();
  const nodes = graph.nodes.map((n) => (shifted.has(n.id) ? { ...n, position: { x: (n.position?.x ?? 0) + room, y: n.position?.y ?? 0 } } : n));
  const edges = graph.edges.filter((e) => e.id !== old.id);
  edges.push(
    { id: edgeId(source.id, id), source: source.id, source_handle: sourceHandleOf(old), target: id, target_handle: input },
    { id: edgeId(id, next.id), source: id, source_handle: output, target: next.id, target_handle: targetHandleOf(old) },
  );
  return { graph: { ...graph, nodes: [...nodes, { ...draft, position: at }], edges }, id };
}

/** The node to select with the keyboard after `current`, along the flow: forward, the first
 * node it leads to; backward, the first node leading into it; else the next or previous node in
 * the graph's order (wrapping), so every node is reachable. */
export function neighbourOf(graph: GraphV1, current: string | null, forward: boolean): string | null {
  if (!graph.nodes.length) return null;
  const ids = graph.nodes.map((n) => n.id);
  if (current === null || !ids.includes(current)) return forward ? ids[0] : ids[ids.length - 1];
  const edge = graph.edges.find((e) => (forward ? e.source === current : e.target === current));
  if (edge) return forward ? edge.target : edge.source;
  const index = ids.indexOf(current);
  return ids[(index + (forward ? 1 : ids.length - 1)) % ids.length];
}
