// Graph JSON v1 -> the React Flow nodes and edges of the designer. The designer's state is our
// graph; these are derived from it on every change and never saved. Unchanged nodes keep their
// React Flow objects (a cache keyed by the graph node), so a 300-node canvas re-renders only
// what changed.

import type { Edge, Node } from "@xyflow/react";
import { handleSpecs, sourceHandleOf, targetHandleOf, type GraphNodeV1, type GraphV1, type HandleSpec, type StickyNoteV1 } from "./graph";
import { inputHandles, outputHandles, type NodeKind } from "./nodeKinds";
import { nodeSummary } from "./nodeSummary";

export type EditorNodeData = {
  label: string;
  kind: string;
  kindLabel: string;
  category: string;
  /** What it is configured to do, in one line (lib/nodeSummary.ts). */
  summary: string;
  inputs: HandleSpec[];
  outputs: HandleSpec[];
  problems: string[];
  /** Output handles with an edge: their "+" shows only on hover or selection. */
  linked: string;
};
export type NoteNodeData = { text: string };
export type EditorFlowNode = Node<EditorNodeData, "editor">;
export type NoteFlowNode = Node<NoteNodeData, "note">;
export type DesignerFlowNode = EditorFlowNode | NoteFlowNode;

export interface FlowOverlay {
  selected: ReadonlySet<string>;
  problems: ReadonlyMap<string, string[]>;
  /** Positions of nodes being dragged, not yet committed to the graph. */
  drag: Readonly<Record<string, { x: number; y: number }>>;
}

const NO_PROBLEMS: string[] = [];
export const NODE_SIZE = { width: 240, height: 72 };

/** A card's size before React measures it: taller with more handles (one row each). */
export function cardSize(outputs: number, inputs = 1): { width: number; height: number } {
  return { width: NODE_SIZE.width, height: NODE_SIZE.height + 18 * Math.max(0, Math.max(outputs, inputs) - 1) };
}

type Entry = { source: GraphNodeV1 | StickyNoteV1; selected: boolean; problems: string[]; at: { x: number; y: number } | undefined; linked: string; node: DesignerFlowNode };

/** Each node's output handles that have an edge, as one comparable string ("out true"). */
function linkedHandles(graph: GraphV1): Map<string, string> {
  const handles = new Map<string, Set<string>>();
  for (const edge of graph.edges) {
    const set = handles.get(edge.source) ?? new Set<string>();
    set.add(sourceHandleOf(edge));
    handles.set(edge.source, set);
  }
  return new Map([...handles].map(([id, set]) => [id, [...set].sort().join(" ")]));
}

export class FlowCache {
  private entries = new Map<string, Entry>();

  nodes(graph: GraphV1, kinds: Map<string, NodeKind>, overlay: FlowOverlay): DesignerFlowNode[] {
    const next = new Map<string, Entry>();
    const out: DesignerFlowNode[] = [];
    const links = linkedHandles(graph);
    const reuse = (id: string, source: Entry["source"], build: (linked: string) => DesignerFlowNode) => {
      const linked = links.get(id) ?? "";
      const selected = overlay.selected.has(id);
      const problems = overlay.problems.get(id) ?? NO_PROBLEMS;
      const at = overlay.drag[id];
      const old = this.entries.get(id);
      const entry =
        old && old.source === source && old.selected === selected && old.problems === problems && old.at === at && old.linked === linked
          ? old
          : { source, selected, problems, at, linked, node: build(linked) };
      next.set(id, entry);
      out.push(entry.node);
    };
    for (const node of graph.nodes) {
      reuse(node.id, node, (linked) => editorNode(node, kinds.get(node.type), overlay, linked));
    }
    for (const note of graph.notes ?? []) {
      reuse(note.id, note, () => noteNode(note, overlay));
    }
    this.entries = next;
    return out;
  }
}

export function editorNode(node: GraphNodeV1, kind: NodeKind | undefined, overlay: FlowOverlay, linked = ""): EditorFlowNode {
  return {
    id: node.id,
    type: "editor",
    position: overlay.drag[node.id] ?? node.position ?? { x: 0, y: 0 },
    // A size before React measures the node, so fitView can frame a large graph on first paint.
    initialWidth: NODE_SIZE.width,
    initialHeight: cardSize(outputHandles(kind, node).length).height,
    selected: overlay.selected.has(node.id),
    data: {
      label: node.label || node.id,
      kind: node.type,
      kindLabel: kind?.label ?? `unknown type ${node.type}`,
      category: kind?.category ?? "",
      summary: nodeSummary(node.type, node.params),
      inputs: handleSpecs(inputHandles(kind), "in"),
      outputs: handleSpecs(outputHandles(kind, node), "out"),
      problems: overlay.problems.get(node.id) ?? NO_PROBLEMS,
      linked,
    },
  };
}

function noteNode(note: StickyNoteV1, overlay: FlowOverlay): NoteFlowNode {
  return {
    id: note.id,
    type: "note",
    position: overlay.drag[note.id] ?? note.position,
    selected: overlay.selected.has(note.id),
    style: { width: note.width ?? 200, height: note.height ?? 120 },
    data: { text: note.text },
  };
}

export function editorEdges(graph: GraphV1, selected: ReadonlySet<string>): Edge[] {
  return graph.edges.map((edge) => ({
    id: edge.id,
    source: edge.source,
    sourceHandle: sourceHandleOf(edge),
    target: edge.target,
    targetHandle: targetHandleOf(edge),
    selected: selected.has(edge.id),
  }));
}

/** The box around the graph's nodes and notes, from their positions and card sizes, so the first
 * view can be framed before React Flow has measured anything. */
export function graphBounds(graph: GraphV1, kinds: Map<string, NodeKind>): { x: number; y: number; width: number; height: number } {
  const boxes = [
    ...graph.nodes.map((node) => ({ ...(node.position ?? { x: 0, y: 0 }), ...cardSize(outputHandles(kinds.get(node.type), node).length) })),
    ...(graph.notes ?? []).map((note) => ({ ...note.position, width: note.width ?? 200, height: note.height ?? 120 })),
  ];
  if (!boxes.length) return { x: 0, y: 0, width: 0, height: 0 };
  const x = Math.min(...boxes.map((b) => b.x));
  const y = Math.min(...boxes.map((b) => b.y));
  return { x, y, width: Math.max(...boxes.map((b) => b.x + b.width)) - x, height: Math.max(...boxes.map((b) => b.y + b.height)) - y };
}
