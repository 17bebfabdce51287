// Graph JSON v1 (engine/graph.py) -> React Flow nodes and edges. Pure: no React, no DOM.
// The canvas draws left to right: inputs on the left of a node, outputs on the right.

import type { Edge, Node } from "@xyflow/react";

export interface GraphNodeV1 {
  id: string;
  type: string;
  label?: string;
  position?: { x: number; y: number };
  params?: Record<string, unknown>;
  retry?: Record<string, unknown>;
  timeout_s?: number;
  cache?: Record<string, unknown>;
  /** After its retries: fail the run (the default), or continue through the `error` output. */
  on_failure?: "fail_run" | "continue";
}

export interface GraphEdgeV1 {
  id: string;
  source: string;
  source_handle?: string | null;
  target: string;
  target_handle?: string | null;
}

/** A sticky note on the canvas: text only, never run (engine/graph.py StickyNote). */
export interface StickyNoteV1 {
  id: string;
  text: string;
  position: { x: number; y: number };
  width?: number;
  height?: number;
}

export interface GraphV1 {
  schema_version: 1;
  nodes: GraphNodeV1[];
  edges: GraphEdgeV1[];
  notes?: StickyNoteV1[];
}

/** A handle drawn on a node; `label` is empty when the name says nothing ("in"/"out" alone). */
export interface HandleSpec {
  id: string;
  label: string;
}

export type RunNodeData = {
  label: string;
  subtitle: string;
  sourceHandles: HandleSpec[];
  targetHandles: HandleSpec[];
};

export type RunFlowNode = Node<RunNodeData, "run">;
export type RunFlowEdge = Edge;

export const DEFAULT_SOURCE_HANDLE = "out";
export const DEFAULT_TARGET_HANDLE = "in";
const LAYER_GAP_X = 260;
const ROW_GAP_Y = 110;

export function sourceHandleOf(edge: GraphEdgeV1): string {
  return edge.source_handle || DEFAULT_SOURCE_HANDLE;
}

export function targetHandleOf(edge: GraphEdgeV1): string {
  return edge.target_handle || DEFAULT_TARGET_HANDLE;
}

/** Reads and sanity-checks the JSON the page embeds; throws with a readable message. */
export function parseGraph(text: string): GraphV1 {
  const data: unknown = JSON.parse(text);
  if (!data || typeof data !== "object") throw new Error("The graph is not a JSON object");
  const graph = data as Partial<GraphV1>;
  if (graph.schema_version !== 1) throw new Error(`Unsupported graph schema_version: ${String(graph.schema_version)}`);
  if (!Array.isArray(graph.nodes) || !Array.isArray(graph.edges)) throw new Error("The graph has no nodes or edges list");
  return graph as GraphV1;
}

/** The graph a page embeds with Django's json_script under `scriptId`. */
export function readGraphScript(doc: Document, scriptId: string): GraphV1 {
  const script = doc.getElementById(scriptId);
  if (!script?.textContent) throw new Error(`The page has no #${scriptId} graph`);
  return parseGraph(script.textContent);
}

export function handleSpecs(names: string[], defaultName: string): HandleSpec[] {
  // A lone default handle needs no caption; anything else (true/false, case names) is labelled.
  const plain = names.length === 1 && names[0] === defaultName;
  return names.map((id) => ({ id, label: plain ? "" : id }));
}

/** Source handles a node needs: one per distinct source_handle its outgoing edges use,
 * ordered by where their targets sit (top to bottom) so edges cross as little as possible. */
export function sourceHandlesFor(graph: GraphV1, nodeId: string, positions: Map<string, { x: number; y: number }>): HandleSpec[] {
  const order = new Map<string, { first: number; ySum: number; count: number }>();
  graph.edges.forEach((edge, index) => {
    if (edge.source !== nodeId) return;
    const name = sourceHandleOf(edge);
    const entry = order.get(name) ?? { first: index, ySum: 0, count: 0 };
    entry.ySum += positions.get(edge.target)?.y ?? 0;
    entry.count += 1;
    order.set(name, entry);
  });
  const names = [...order.entries()]
    .sort(([, a], [, b]) => a.ySum / a.count - b.ySum / b.count || a.first - b.first)
    .map(([name]) => name);
  return handleSpecs(names, DEFAULT_SOURCE_HANDLE);
}

export function targetHandlesFor(graph: GraphV1, nodeId: string): HandleSpec[] {
  const names: string[] = [];
  for (const edge of graph.edges) {
    if (edge.target !== nodeId) continue;
    const name = targetHandleOf(edge);
    if (!names.includes(name)) names.push(name);
  }
  return handleSpecs(names, DEFAULT_TARGET_HANDLE);
}

function needsLayout(graph: GraphV1): boolean {
  if (graph.nodes.length < 2) return false;
  return graph.nodes.every((node) => !node.position || (node.position.x === 0 && node.position.y === 0));
}

/** A small layered layout for graphs saved without positions: column = longest path from a
 * root, rows in graph order. Cycles (invalid graphs) cannot hang it: each node is placed once. */
export function layeredPositions(graph: GraphV1): Map<string, { x: number; y: number }> {
  const ids = graph.nodes.map((node) => node.id);
  const known = new Set(ids);
  const indegree = new Map(ids.map((id) => [id, 0]));
  const children = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const edge of graph.edges) {
    if (!known.has(edge.source) || !known.has(edge.target)) continue;
    children.get(edge.source)!.push(edge.target);
    indegree.set(edge.target, indegree.get(edge.target)! + 1);
  }
  const depth = new Map<string, number>();
  const queue = ids.filter((id) => indegree.get(id) === 0);
  for (const id of queue) depth.set(id, 0);
  while (queue.length) {
    const id = queue.shift()!;
    for (const child of children.get(id)!) {
      depth.set(child, Math.max(depth.get(child) ?? 0, depth.get(id)! + 1));
      indegree.set(child, indegree.get(child)! - 1);
      if (indegree.get(child) === 0) queue.push(child);
    }
  }
  const layers = new Map<number, string[]>();
  for (const id of ids) {
    const layer = depth.get(id) ?? 0; // nodes on a cycle never reach indegree 0: first column
    layers.set(layer, [...(layers.get(layer) ?? []), id]);
  }
  const tallest = Math.max(...[...layers.values()].map((layer) => layer.length));
  const positions = new Map<string, { x: number; y: number }>();
  for (const [layer, members] of layers) {
    const offset = ((tallest - members.length) * ROW_GAP_Y) / 2;
    members.forEach((id, row) => positions.set(id, { x: layer * LAYER_GAP_X, y: offset + row * ROW_GAP_Y }));
  }
  return positions;
}

export function toFlow(graph: GraphV1): { nodes: RunFlowNode[]; edges: RunFlowEdge[] } {
  const positions = needsLayout(graph)
    ? layeredPositions(graph)
    : new Map(graph.nodes.map((node) => [node.id, { x: node.position?.x ?? 0, y: node.position?.y ?? 0 }]));
  const known = new Set(graph.nodes.map((node) => node.id));
  const nodes: RunFlowNode[] = graph.nodes.map((node) => ({
    id: node.id,
    type: "run",
    position: positions.get(node.id) ?? { x: 0, y: 0 },
    draggable: false,
    connectable: false,
    data: {
      label: node.label || node.id,
      subtitle: node.type,
      sourceHandles: sourceHandlesFor(graph, node.id, positions),
      targetHandles: targetHandlesFor(graph, node.id),
    },
  }));
  const edges: RunFlowEdge[] = graph.edges
    .filter((edge) => known.has(edge.source) && known.has(edge.target))
    .map((edge) => ({
      id: edge.id,
      source: edge.source,
      sourceHandle: sourceHandleOf(edge),
      target: edge.target,
      targetHandle: targetHandleOf(edge),
      selectable: false,
      focusable: false,
    }));
  return { nodes, edges };
}
