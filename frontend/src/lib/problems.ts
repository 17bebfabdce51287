// Problems the server reports ({path, code, message}, engine/graph.py) placed on their node and
// field. Paths index into the graph that was checked, so they are resolved against that graph.

import type { GraphV1 } from "./graph";

export interface Problem {
  path: string;
  code: string;
  message: string;
}

export interface PlacedProblems {
  /** Messages per node id (params problems included). */
  byNode: Map<string, string[]>;
  /** Messages per node id and top-level field: `params.url`, `label`, `timeout_s`... */
  byField: Map<string, Record<string, string[]>>;
  /** Problems of the graph as a whole (no trigger, too many nodes). */
  general: string[];
}

export function placeProblems(graph: GraphV1, problems: Problem[]): PlacedProblems {
  const placed: PlacedProblems = { byNode: new Map(), byField: new Map(), general: [] };
  const onNode = (id: string, message: string, ...keys: (string | null)[]) => {
    placed.byNode.set(id, [...(placed.byNode.get(id) ?? []), message]);
    for (const field of keys) {
      if (!field) continue;
      const fields = placed.byField.get(id) ?? {};
      fields[field] = [...(fields[field] ?? []), message];
      placed.byField.set(id, fields);
    }
  };
  for (const problem of problems) {
    const parts = problem.path.split(".");
    if (parts[0] === "nodes" && parts.length > 1 && graph.nodes[Number(parts[1])]) {
      const node = graph.nodes[Number(parts[1])];
      const field = parts[2] === "params" && parts[3] ? `params.${parts[3]}` : parts[2] ?? null;
      // A problem inside a list param (an agent's `params.tools.0.url`) is also kept under its full path, for editors of one item.
      const inner = parts[2] === "params" && parts.length > 4 ? parts.slice(2).join(".") : null;
      onNode(node.id, problem.message, field, inner);
    } else if (parts[0] === "edges" && parts.length > 1 && graph.edges[Number(parts[1])]) {
      const edge = graph.edges[Number(parts[1])];
      onNode(graph.nodes.some((n) => n.id === edge.target) ? edge.target : edge.source, problem.message, null);
    } else {
      placed.general.push(problem.message);
    }
  }
  return placed;
}
