// Which new edges the designer accepts. The server checks the same (engine/graph.py); refusing
// here keeps a user from drawing an edge that the save would only report as a problem.

import { sourceHandleOf, targetHandleOf, type GraphV1 } from "./graph";
import { inputHandles, outputHandles, type NodeKind } from "./nodeKinds";

export interface Connection {
  source: string;
  sourceHandle?: string | null;
  target: string;
  targetHandle?: string | null;
}

/** Why `connection` cannot be added to `graph`, or null when it can. */
export function connectionProblem(graph: GraphV1, kinds: Map<string, NodeKind>, connection: Connection): string | null {
  const source = graph.nodes.find((node) => node.id === connection.source);
  const target = graph.nodes.find((node) => node.id === connection.target);
  if (!source || !target) return "Both ends must be nodes";
  if (source.id === target.id) return "A node cannot connect to itself";
  const targetKind = kinds.get(target.type);
  if (targetKind?.is_trigger) return "A trigger starts the workflow: nothing can lead into it";
  const sourceHandle = connection.sourceHandle || "out";
  const targetHandle = connection.targetHandle || "in";
  if (!outputHandles(kinds.get(source.type), source).includes(sourceHandle)) return `${source.id} has no output ${sourceHandle}`;
  if (!inputHandles(targetKind).includes(targetHandle)) return `${target.id} has no input ${targetHandle}`;
  const duplicate = graph.edges.some(
    (edge) => edge.source === source.id && edge.target === target.id && sourceHandleOf(edge) === sourceHandle && targetHandleOf(edge) === targetHandle,
  );
  if (duplicate) return "These two handles are already connected";
  if (reaches(graph, target.id, source.id)) return "This edge would make a cycle";
  return null;
}

/** Whether `to` can be reached from `from` along edges. */
export function reaches(graph: GraphV1, from: string, to: string): boolean {
  const children = new Map<string, string[]>();
  for (const edge of graph.edges) children.set(edge.source, [...(children.get(edge.source) ?? []), edge.target]);
  const seen = new Set([from]);
  const queue = [from];
  while (queue.length) {
    const id = queue.shift()!;
    if (id === to) return true;
    for (const child of children.get(id) ?? []) {
      if (!seen.has(child)) {
        seen.add(child);
        queue.push(child);
      }
    }
  }
  return false;
}

/** Every node that runs before `nodeId` (its transitive sources), nearest first. */
export function upstreamOf(graph: GraphV1, nodeId: string): string[] {
  const parents = new Map<string, string[]>();
  for (const edge of graph.edges) parents.set(edge.target, [...(parents.get(edge.target) ?? []), edge.source]);
  const found: string[] = [];
  const queue = [nodeId];
  while (queue.length) {
    for (const parent of parents.get(queue.shift()!) ?? []) {
      if (!found.includes(parent) && parent !== nodeId) {
        found.push(parent);
        queue.push(parent);
      }
    }
  }
  return found;
}
