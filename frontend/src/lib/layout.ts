// Auto-layout with dagre, left to right or top to bottom, then wrapped: a chain longer than the
// canvas shows at a readable zoom is cut into bands placed one after the other (like lines of
// text), so the graph is read at a normal zoom instead of as one long row. Branches keep dagre's
// fan-out.

import dagre from "@dagrejs/dagre";
import type { GraphNodeV1, GraphV1 } from "./graph";

export type LayoutDirection = "LR" | "TB";

export interface Size {
  width: number;
  height: number;
}

export interface LayoutOptions {
  direction?: LayoutDirection;
  /** Each node's size; the designer passes its card's (more outputs, taller card). */
  sizeOf?: (node: GraphNodeV1) => Size;
  /** The longest a band may run along the main axis before the chain wraps (in flow units;
   * the designer passes what its canvas shows at a readable zoom). */
  wrapAt?: number;
}

export const DEFAULT_SIZE: Size = { width: 240, height: 84 };
const NODE_GAP = 40;
const RANK_GAP = 70;
const BAND_GAP = 80;
/** A 1400×900 window's canvas at the readable zoom (lib/viewport.ts), less its margins. */
const WRAP_LR = 1250;
const WRAP_TB = 760;

type Point = { x: number; y: number };

/** Top-left positions for every node of the graph (sticky notes stay where they are). */
export function autoLayout(graph: GraphV1, options: LayoutOptions = {}): Record<string, Point> {
  const direction = options.direction ?? "LR";
  const sizeOf = options.sizeOf ?? (() => DEFAULT_SIZE);
  const wrapAt = options.wrapAt ?? (direction === "LR" ? WRAP_LR : WRAP_TB);
  const layout = new dagre.graphlib.Graph();
  layout.setGraph({ rankdir: direction, nodesep: NODE_GAP, ranksep: RANK_GAP });
  layout.setDefaultEdgeLabel(() => ({}));
  const sizes = new Map(graph.nodes.map((node) => [node.id, sizeOf(node)]));
  for (const node of graph.nodes) layout.setNode(node.id, { ...sizes.get(node.id) });
  for (const edge of graph.edges) {
    if (layout.hasNode(edge.source) && layout.hasNode(edge.target)) layout.setEdge(edge.source, edge.target);
  }
  dagre.layout(layout);

  // Main axis: the one ranks follow (x for left to right); cross axis: the other.
  const lr = direction === "LR";
  const placed = graph.nodes.map((node) => {
    const centre = layout.node(node.id);
    const size = sizes.get(node.id) ?? DEFAULT_SIZE;
    const x = centre.x - size.width / 2;
    const y = centre.y - size.height / 2;
    return { id: node.id, main: lr ? x : y, cross: lr ? y : x, mainSize: lr ? size.width : size.height, crossSize: lr ? size.height : size.width };
  });
  if (!placed.length) return {};

  const ranks = [...new Set(placed.map((p) => Math.round(p.main)))].sort((a, b) => a - b);
  const rankOf = new Map(ranks.map((main, index) => [main, index]));
  const mainEnd = Math.max(...placed.map((p) => p.main + p.mainSize));
  const crossStart = Math.min(...placed.map((p) => p.cross));
  const crossExtent = Math.max(...placed.map((p) => p.cross + p.crossSize)) - crossStart;
  const mainExtent = mainEnd - ranks[0];

  // Like text wrapped to a line width: as many bands as it takes for each to fit, ranks spread evenly.
  const bands = Math.min(ranks.length, Math.max(1, Math.ceil(mainExtent / wrapAt)));
  const perBand = Math.ceil(ranks.length / bands);

  const positions: Record<string, Point> = {};
  for (const p of placed) {
    const rank = rankOf.get(Math.round(p.main)) ?? 0;
    const band = Math.floor(rank / perBand);
    const main = p.main - (ranks[band * perBand] - ranks[0]) - ranks[0];
    const cross = p.cross - crossStart + band * (crossExtent + BAND_GAP);
    positions[p.id] = lr ? { x: Math.round(main), y: Math.round(cross) } : { x: Math.round(cross), y: Math.round(main) };
  }
  return positions;
}

/** The graph with a laid-out position for every node that has none (a graph written by hand or
 * through the API); nodes that have one keep it. Done once on load, so it is not an edit. */
export function withPositions(graph: GraphV1, options: LayoutOptions = {}): GraphV1 {
  if (graph.nodes.every((node) => node.position)) return graph;
  const positions = autoLayout(graph, options);
  return { ...graph, nodes: graph.nodes.map((node) => (node.position ? node : { ...node, position: positions[node.id] })) };
}
