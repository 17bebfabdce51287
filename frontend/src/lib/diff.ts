// The difference between two graphs (JSON v1): nodes added, removed and changed down to the
// parameter, edges added and removed. Pure: the versions page renders both its list and the
// canvas colours from this one result, so the two can never disagree.

import { sourceHandleOf, targetHandleOf, type GraphEdgeV1, type GraphNodeV1, type GraphV1 } from "./graph";

export type DiffStatus = "added" | "removed" | "changed" | "same";

/** One leaf that differs; `before`/`after` are undefined where the key did not exist. */
export interface FieldChange {
  path: string;
  before: unknown;
  after: unknown;
}

export interface NodeChange {
  id: string;
  label: string;
  type: string;
  changes: FieldChange[];
}

export interface GraphDiff {
  added: GraphNodeV1[];
  removed: GraphNodeV1[];
  changed: NodeChange[];
  addedEdges: GraphEdgeV1[];
  removedEdges: GraphEdgeV1[];
}

// Position is layout, not behaviour: moving a node is not a change worth reviewing.
const IGNORED_NODE_FIELDS = new Set(["id", "position"]);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Every leaf path where `before` and `after` differ. Objects and lists are descended into
 * (lists by index), so a changed prompt shows as `params.prompt`, not as "params changed". */
export function fieldChanges(before: unknown, after: unknown, path = ""): FieldChange[] {
  const join = (key: string | number) => (path ? `${path}.${key}` : String(key));
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((key) => fieldChanges(before[key], after[key], join(key)));
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    const length = Math.max(before.length, after.length);
    return Array.from({ length }, (_, i) => fieldChanges(before[i], after[i], join(i))).flat();
  }
  if (before === after) return [];
  return [{ path, before, after }];
}

function nodeFields(node: GraphNodeV1): Record<string, unknown> {
  return Object.fromEntries(Object.entries(node).filter(([key]) => !IGNORED_NODE_FIELDS.has(key)));
}

/** Edges are matched by what they connect, not by id: ids are arbitrary and an editor may re-number them. */
export function edgeKey(edge: GraphEdgeV1): string {
  return JSON.stringify([edge.source, sourceHandleOf(edge), edge.target, targetHandleOf(edge)]);
}

export function diffGraphs(before: GraphV1, after: GraphV1): GraphDiff {
  const old = new Map(before.nodes.map((node) => [node.id, node]));
  const now = new Map(after.nodes.map((node) => [node.id, node]));
  const changed: NodeChange[] = [];
  for (const node of after.nodes) {
    const previous = old.get(node.id);
    if (!previous) continue;
    const changes = fieldChanges(nodeFields(previous), nodeFields(node));
    if (changes.length) changed.push({ id: node.id, label: node.label || node.id, type: node.type, changes });
  }
  const oldEdges = new Set(before.edges.map(edgeKey));
  const newEdges = new Set(after.edges.map(edgeKey));
  return {
    added: after.nodes.filter((node) => !old.has(node.id)),
    removed: before.nodes.filter((node) => !now.has(node.id)),
    changed,
    addedEdges: after.edges.filter((edge) => !oldEdges.has(edgeKey(edge))),
    removedEdges: before.edges.filter((edge) => !newEdges.has(edgeKey(edge))),
  };
}

export function isEmpty(diff: GraphDiff): boolean {
  return !diff.added.length && !diff.removed.length && !diff.changed.length && !diff.addedEdges.length && !diff.removedEdges.length;
}

/** One graph to draw: `after` plus what the diff says it lost, each element with its status. */
export function mergedGraph(after: GraphV1, diff: GraphDiff): { graph: GraphV1; nodes: Map<string, DiffStatus>; edges: Map<string, DiffStatus> } {
  const nodes = new Map<string, DiffStatus>(after.nodes.map((node) => [node.id, "same"]));
  for (const node of diff.added) nodes.set(node.id, "added");
  for (const change of diff.changed) nodes.set(change.id, "changed");
  for (const node of diff.removed) nodes.set(node.id, "removed");
  const edges = new Map<string, DiffStatus>(after.edges.map((edge) => [edgeKey(edge), "same"]));
  for (const edge of diff.addedEdges) edges.set(edgeKey(edge), "added");
  for (const edge of diff.removedEdges) edges.set(edgeKey(edge), "removed");
  // A removed edge may share its id with a new one; the drawn graph needs unique ids.
  const removedEdges = diff.removedEdges.map((edge) => ({ ...edge, id: `removed:${edge.id}` }));
  const graph: GraphV1 = {
    schema_version: 1,
    nodes: [...after.nodes, ...diff.removed],
    edges: [...after.edges, ...removedEdges],
  };
  return { graph, nodes, edges };
}

/** A value as the change list shows it: JSON, or a word for "not there". */
export function shown(value: unknown): string {
  return value === undefined ? "(none)" : JSON.stringify(value);
}
