// "Extract into sub-workflow": the selected nodes move into a new workflow that one subworkflow
// node calls from their place. The server does the graph surgery and creates the workflow
// (POST /api/v1/workflows/{id}/extract, builder/extraction.py); the designer applies the graph it
// returns as one undo step. What is checked here only saves a round trip; the server decides.

import { sendJSON } from "./http";
import type { GraphV1 } from "./graph";
import type { NodeKind } from "./nodeKinds";

export interface Extracted {
  workflow_id: number;
  name: string;
  /** The version published from the selection; null when the new workflow does not validate yet. */
  version: number | null;
  problems: { path: string; code: string; message: string }[];
  designer_url: string;
  node_id: string;
  graph: GraphV1;
}

/** The node ids among the selection (notes and edges are not extracted). */
export function selectedNodeIds(graph: GraphV1, selected: Iterable<string>): string[] {
  const chosen = new Set(selected);
  return graph.nodes.filter((node) => chosen.has(node.id)).map((node) => node.id);
}

/** Why these nodes cannot be extracted, or null to ask the server. */
export function extractRefusal(graph: GraphV1, ids: string[], kinds: Map<string, NodeKind>): string | null {
  if (!ids.length) return "Select the nodes to extract first";
  const trigger = graph.nodes.find((node) => ids.includes(node.id) && kinds.get(node.type)?.is_trigger);
  if (trigger) return `${trigger.label || trigger.id} is the trigger: it stays; select what runs after it`;
  return null;
}

/** The name offered for the new workflow: after the first selected node. */
export function suggestedName(graph: GraphV1, ids: string[]): string {
  const first = graph.nodes.find((node) => node.id === ids[0]);
  return `${first?.label || first?.id || "Extracted"} sub-workflow`;
}

/** What the designer says once it is done. */
export function extractedNotice(done: Extracted): string {
  if (done.version !== null) return `Extracted into ${done.name} (published as v${done.version})`;
  const count = done.problems.length;
  return `Extracted into ${done.name}, not published: ${count} problem(s) to fix there first`;
}

export function extractSelection(
  apiUrl: string,
  workflowId: number,
  body: { graph: GraphV1; node_ids: string[]; name: string },
  token: string,
  fetchImpl: typeof fetch = fetch,
): Promise<Extracted> {
  return sendJSON<Extracted>(`${apiUrl}/workflows/${workflowId}/extract`, "POST", body, token, fetchImpl);
}
