// Auto-layout with dagre: left to right, like the canvas draws edges.

import dagre from "@dagrejs/dagre";
import type { GraphV1 } from "./graph";

const NODE_WIDTH = 200;
const NODE_HEIGHT = 80;

export function autoLayout(graph: GraphV1): Record<string, { x: number; y: number }> {
  const layout = new dagre.graphlib.Graph();
  layout.setGraph({ rankdir: "LR", nodesep: 40, ranksep: 80 });
  layout.setDefaultEdgeLabel(() => ({}));
  for (const node of graph.nodes) layout.setNode(node.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const edge of graph.edges) {
    if (layout.hasNode(edge.source) && layout.hasNode(edge.target)) layout.setEdge(edge.source, edge.target);
  }
  dagre.layout(layout);
  const positions: Record<string, { x: number; y: number }> = {};
  for (const node of graph.nodes) {
    const placed = layout.node(node.id);
    positions[node.id] = { x: Math.round(placed.x - NODE_WIDTH / 2), y: Math.round(placed.y - NODE_HEIGHT / 2) };
  }
  return positions;
}
