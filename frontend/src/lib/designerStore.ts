// The designer's state: our graph JSON v1 is the document, and every edit is a function from
// graph to graph. zundo records the graph (only the graph) so each edit is one undo step;
// selection and in-flight drag positions are not edits and are not recorded.

import { temporal, type TemporalState } from "zundo";
import { createStore, type StoreApi } from "zustand/vanilla";
import { freshId, pasteFragment, type Fragment } from "./clipboard";
import { sourceHandleOf, targetHandleOf, type GraphNodeV1, type GraphV1 } from "./graph";
import { defaultParams, outputHandles, type NodeKind } from "./nodeKinds";
import { insertNode, type QuickAddTarget } from "./quickAdd";

type Point = { x: number; y: number };

export interface DesignerState {
  graph: GraphV1;
  /** Selected node, note and edge ids. */
  selected: string[];
  drag: Record<string, Point>;
  select(ids: string[]): void;
  addNode(kind: NodeKind, position: Point): string;
  addNote(position: Point): string;
  /** Add a node connected at `target` (after an output, on an edge), selected; one undo step. */
  insert(kind: NodeKind, target: QuickAddTarget, sizeOf: (node: GraphNodeV1) => { width: number; height: number }): string | null;
  connect(edge: { source: string; sourceHandle?: string | null; target: string; targetHandle?: string | null }): void;
  remove(ids: string[]): void;
  dragTo(positions: Record<string, Point>): void;
  commitDrag(): void;
  updateNode(id: string, patch: Partial<Omit<GraphNodeV1, "id">>): void;
  updateNote(id: string, patch: { text?: string; width?: number; height?: number }): void;
  paste(fragment: Fragment, offset: Point): string[];
  moveAll(positions: Record<string, Point>): void;
  /** Put a graph made elsewhere (an extraction's) in place of this one, selecting `selected`; one undo step. */
  replaceGraph(graph: GraphV1, selected: string[]): void;
}

export const UNDO_LIMIT = 200;
/** Edits of one node's (or note's) fields closer together than this are one undo step: a typed word, not each key. */
export const TYPING_BURST_MS = 1000;

function allIds(graph: GraphV1): Set<string> {
  return new Set([...graph.nodes.map((n) => n.id), ...(graph.notes ?? []).map((n) => n.id), ...graph.edges.map((e) => e.id)]);
}

/** Drop the edges leaving `nodeId` from a handle it no longer has (a switch case was removed). */
function pruneEdges(graph: GraphV1, nodeId: string, kinds: Map<string, NodeKind>): GraphV1 {
  const node = graph.nodes.find((n) => n.id === nodeId);
  const kind = node && kinds.get(node.type);
  if (!node || !kind) return graph;
  const handles = outputHandles(kind, node);
  const edges = graph.edges.filter((edge) => edge.source !== nodeId || handles.includes(sourceHandleOf(edge)));
  return edges.length === graph.edges.length ? graph : { ...graph, edges };
}

export function createDesignerStore(initial: GraphV1, kinds: Map<string, NodeKind>, now: () => number = Date.now) {
  return createStore<DesignerState>()(
    temporal(
      (set, get, store) => {
        const edit = (change: (graph: GraphV1) => GraphV1) => set({ graph: change(get().graph) });
        // The first edit of a burst is recorded; the rest change the graph without a step of their own.
        // A burst ends after a pause, on another node, or when any other step (or an undo) came between.
        let burst = { id: "", at: -Infinity, steps: -1 };
        // zundo attaches `temporal` to the store before this runs; its type does not say so here.
        const undoHistory = () =>
          (store as unknown as { temporal: StoreApi<TemporalState<{ graph: GraphV1 }>> }).temporal.getState();
        const editFields = (id: string, change: (graph: GraphV1) => GraphV1) => {
          const at = now();
          const history = undoHistory();
          const continues =
            burst.id === id && at - burst.at < TYPING_BURST_MS && history.pastStates.length === burst.steps && history.isTracking;
          if (continues) {
            history.pause();
            try {
              edit(change);
            } finally {
              history.resume();
            }
          } else {
            edit(change);
          }
          burst = { id, at, steps: undoHistory().pastStates.length };
        };
        return {
          graph: initial,
          selected: [],
          drag: {},
          select: (ids) => set({ selected: ids }),
          addNode(kind, position) {
            const id = freshId(kind.kind, allIds(get().graph));
            const node: GraphNodeV1 = { id, type: kind.kind, label: kind.label, position, params: defaultParams(kind) };
            set({ graph: { ...get().graph, nodes: [...get().graph.nodes, node] }, selected: [id] });
            return id;
          },
          insert(kind, target, sizeOf) {
            const inserted = insertNode(get().graph, kind, target, sizeOf);
            if (!inserted) return null;
            set({ graph: inserted.graph, selected: [inserted.id] });
            return inserted.id;
          },
          addNote(position) {
            const id = freshId("note", allIds(get().graph));
            const note = { id, text: "", position, width: 200, height: 120 };
            set({ graph: { ...get().graph, notes: [...(get().graph.notes ?? []), note] }, selected: [id] });
            return id;
          },
          connect({ source, sourceHandle, target, targetHandle }) {
            const from = sourceHandle || "out";
            const to = targetHandle || "in";
            edit((graph) => {
              const id = freshId(`e_${source}_${target}`, allIds(graph));
              return { ...graph, edges: [...graph.edges, { id, source, source_handle: from, target, target_handle: to }] };
            });
          },
          remove(ids) {
            const gone = new Set(ids);
            if (!gone.size) return;
            set({
              graph: {
                ...get().graph,
                nodes: get().graph.nodes.filter((n) => !gone.has(n.id)),
                notes: (get().graph.notes ?? []).filter((n) => !gone.has(n.id)),
                edges: get().graph.edges.filter((e) => !gone.has(e.id) && !gone.has(e.source) && !gone.has(e.target)),
              },
              selected: get().selected.filter((id) => !gone.has(id)),
            });
          },
          dragTo: (positions) => set({ drag: { ...get().drag, ...positions } }),
          commitDrag() {
            const drag = get().drag;
            if (!Object.keys(drag).length) return;
            const graph = movedTo(get().graph, drag);
            // Unchanged, zundo records nothing and the saver sees the same graph: not an edit.
            set(graph === get().graph ? { drag: {} } : { graph, drag: {} });
          },
          updateNode(id, patch) {
            editFields(id, (graph) => pruneEdges({ ...graph, nodes: graph.nodes.map((n) => (n.id === id ? { ...n, ...patch } : n)) }, id, kinds));
          },
          updateNote(id, patch) {
            editFields(id, (graph) => ({ ...graph, notes: (graph.notes ?? []).map((n) => (n.id === id ? { ...n, ...patch } : n)) }));
          },
          paste(fragment, offset) {
            const pasted = pasteFragment(get().graph, fragment, offset);
            set({ graph: pasted.graph, selected: pasted.ids });
            return pasted.ids;
          },
          moveAll: (positions) => edit((graph) => movedTo(graph, positions)),
          replaceGraph: (graph, selected) => set({ graph, selected, drag: {} }),
        };
      },
      {
        partialize: (state) => ({ graph: state.graph }),
        equality: (past, current) => past.graph === current.graph,
        limit: UNDO_LIMIT,
      },
    ),
  );
}

/** The graph with these positions; the same graph when none of them moves anything, so a click
 * (which React Flow reports as a drag that ends where it began) is not an edit. */
function movedTo(graph: GraphV1, positions: Record<string, Point>): GraphV1 {
  const moves = (id: string, old: Point | undefined) => {
    const to = positions[id];
    return !!to && (!old || old.x !== to.x || old.y !== to.y);
  };
  if (!graph.nodes.some((n) => moves(n.id, n.position)) && !(graph.notes ?? []).some((n) => moves(n.id, n.position))) return graph;
  return {
    ...graph,
    nodes: graph.nodes.map((n) => (moves(n.id, n.position) ? { ...n, position: positions[n.id] } : n)),
    notes: (graph.notes ?? []).map((n) => (moves(n.id, n.position) ? { ...n, position: positions[n.id] } : n)),
  };
}

export type DesignerStore = ReturnType<typeof createDesignerStore>;

/** Edges as handle quadruples, to compare graphs in tests and to detect changes that matter. */
export function edgeKeys(graph: GraphV1): string[] {
  return graph.edges.map((e) => `${e.source}.${sourceHandleOf(e)}->${e.target}.${targetHandleOf(e)}`).sort();
}
