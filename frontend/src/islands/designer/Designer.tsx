// The designer: palette, canvas, side panel, toolbar and test runs around one store whose
// document is our graph JSON v1 (lib/designerStore.ts).
import {
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  type Connection as FlowConnection,
  type EdgeChange,
  type EdgeTypes,
  type FinalConnectionState,
  type NodeChange,
  type NodeTypes,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import { PanelLeftOpen, PanelRightOpen } from "lucide-react";
import { useStore } from "zustand";
import { CLIPBOARD_KEY, copyFragment, parseFragment } from "../../lib/clipboard";
import { connectionProblem, upstreamOf } from "../../lib/connections";
import { createDesignerStore, type DesignerState } from "../../lib/designerStore";
import { DraftSaver } from "../../lib/draftSaver";
import { cardSize, editorEdges, graphBounds, FlowCache, type DesignerFlowNode } from "../../lib/editorFlow";
import type { GraphNodeV1, GraphV1 } from "../../lib/graph";
import { extractedNotice, extractRefusal, extractSelection, selectedNodeIds, suggestedName } from "../../lib/extraction";
import { csrfToken, sendJSON } from "../../lib/http";
import { autoLayout, type LayoutDirection } from "../../lib/layout";
import { outputHandles, type NodeKind } from "../../lib/nodeKinds";
import { kindsFor, neighbourOf, type QuickAddTarget } from "../../lib/quickAdd";
import type { ProviderChoice } from "../../lib/paramsUi";
import { placeProblems, type Problem } from "../../lib/problems";
import { triggerSchema } from "../../lib/sampleForm";
import { READABLE_ZOOM, readableViewport } from "../../lib/viewport";
import { messageOf } from "../run-view/controller";
import { Help } from "./Help";
import { InsertEdge } from "./InsertEdge";
import { NodePicker } from "./NodePicker";
import { EditorNode, NoteEditContext, NoteNode, QuickAddContext, TestStatesContext } from "./nodes";
import { KIND_MIME, Palette } from "./Palette";
import { Panel, type PanelTab, type Upstream } from "./Panel";
import { RunHistory } from "./RunHistory";
import { TestBar } from "./TestBar";
import { useTestRuns } from "./useTestRuns";
import { Toolbar } from "./Toolbar";

const nodeTypes: NodeTypes = { editor: EditorNode, note: NoteNode };
const edgeTypes: EdgeTypes = { default: InsertEdge };
const MINIMAP_FILL: Record<string, string> = { idle: "#c3c9d2", pending: "#c3c9d2", running: "#2f5bd3", succeeded: "#137a3a", failed: "#b42318", crashed: "#b42318", waiting: "#d08a00", skipped: "#e4e7ec", cancelled: "#98a2b3" };
const PASTE_OFFSET = { x: 40, y: 40 };
const EMPTY_STATES = {};
/** The minimap's size, and the band at the bottom of the canvas kept free of nodes at the first view. */
export const MINIMAP = { width: 180, height: 110 };
export const BOTTOM_BAND = MINIMAP.height + 24;
const VIEW_PADDING = 24;

/** A side panel's open state, remembered in this browser. */
function useRemembered(key: string, initial: boolean): [boolean, (open: boolean) => void] {
  const [open, setOpen] = useState(() => {
    const stored = window.localStorage.getItem(key);
    return stored === null ? initial : stored === "1";
  });
  const set = useCallback(
    (next: boolean) => {
      window.localStorage.setItem(key, next ? "1" : "0");
      setOpen(next);
    },
    [key],
  );
  return [open, set];
}

export interface DesignerProps {
  workflowId: number;
  workflowName: string;
  listUrl: string;
  revision: number;
  graph: GraphV1;
  kinds: NodeKind[];
  problems: Problem[];
  sampleInput: unknown;
  /** GET list of {name, kind, label, models} for the provider and model pickers. */
  providersUrl: string;
  apiUrl: string;
  canEdit: boolean;
  versionsUrl: string;
  runsUrl: string;
}


function typing(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null;
  return !!element && (element.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(element.tagName));
}

/** React Flow reports selection as changes; the store keeps the selected ids. */
function applySelection(state: DesignerState, changes: (NodeChange<DesignerFlowNode> | EdgeChange)[]): void {
  const next = new Set(state.selected);
  const picks = changes.filter((change) => change.type === "select");
  if (!picks.length) return;
  for (const change of picks) {
    if (change.selected) next.add(change.id);
    else next.delete(change.id);
  }
  state.select([...next]);
}

/** What the quick-add picker will connect the new node to, in words. */
function pickerTitle(graph: GraphV1, target: QuickAddTarget): string {
  const label = (id: string) => graph.nodes.find((n) => n.id === id)?.label || id;
  if (target.kind === "after") return `Add after ${label(target.source)} (${target.handle})`;
  if (target.kind === "edge") {
    const edge = graph.edges.find((e) => e.id === target.edge);
    return edge ? `Insert between ${label(edge.source)} and ${label(edge.target)}` : "Insert a node";
  }
  return "Add a node";
}

function outputFields(value: unknown): string[] {
  return value && typeof value === "object" && !Array.isArray(value) ? Object.keys(value).slice(0, 20) : [];
}

function DesignerInner(props: DesignerProps) {
  const { workflowId, apiUrl, canEdit } = props;
  const kinds = useMemo(() => new Map(props.kinds.map((kind) => [kind.kind, kind])), [props.kinds]);
  const store = useMemo(() => createDesignerStore(props.graph, kinds), [props.graph, kinds]);
  const graph = useStore(store, (s) => s.graph);
  const selectedList = useStore(store, (s) => s.selected);
  const drag = useStore(store, (s) => s.drag);
  const selected = useMemo(() => new Set(selectedList), [selectedList]);
  const canUndo = useStore(store.temporal, (t) => t.pastStates.length > 0);
  const canRedo = useStore(store.temporal, (t) => t.futureStates.length > 0);
  const flow = useReactFlow();

  const saver = useMemo(
    () => new DraftSaver({ url: `${apiUrl}/workflows/${workflowId}/draft`, token: () => csrfToken(document), revision: props.revision, graph: props.graph, problems: props.problems }),
    [apiUrl, workflowId, props.revision, props.graph, props.problems],
  );
  const save = useSyncExternalStore(saver.subscribe, saver.getState);
  useEffect(() => {
    if (canEdit) saver.changed(graph);
  }, [saver, graph, canEdit]);
  useEffect(() => {
    const warn = (event: BeforeUnloadEvent) => {
      if (saver.dirty && saver.getState().status !== "conflict") event.preventDefault();
    };
    window.addEventListener("beforeunload", warn);
    return () => {
      window.removeEventListener("beforeunload", warn);
      saver.stop();
    };
  }, [saver]);
  const placed = useMemo(() => placeProblems(save.checked, save.problems), [save.checked, save.problems]);

  // Provider and model fields suggest from the workspace's AI providers.
  const { providersUrl } = props;
  const [providers, setProviders] = useState<ProviderChoice[]>([]);
  useEffect(() => {
    if (!providersUrl) return;
    let live = true;
    sendJSON<ProviderChoice[]>(providersUrl, "GET", undefined, "")
      .then((found) => live && Array.isArray(found) && setProviders(found))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [providersUrl]);

  // A workflow's designer sits under the workflow list (builder/urls.py: /workflows/<id>/).
  const { listUrl } = props;
  const designerUrl = useCallback((id: number) => `${(listUrl || "/workflows/").replace(/\/+$/, "")}/${id}/`, [listUrl]);

  // --- test runs ------------------------------------------------------------------------
  const nodeIds = useMemo(() => graph.nodes.map((n) => n.id), [graph.nodes]);
  const api = useMemo(() => ({ apiUrl, workflowId }), [apiUrl, workflowId]);
  const tests = useTestRuns(api, saver, nodeIds, props.sampleInput);
  const { test, sample } = tests;

  // --- selection and the panel -------------------------------------------------------------
  const single = selectedList.length === 1 ? selectedList[0] : null;
  const selectedNode = single ? graph.nodes.find((n) => n.id === single) ?? null : null;
  const selectedNote = single ? (graph.notes ?? []).find((n) => n.id === single) ?? null : null;
  const upstream: Upstream[] = useMemo(() => {
    if (!selectedNode) return [];
    const sampleFields = outputFields((() => {
      try {
        return JSON.parse(sample);
      } catch {
        return null;
      }
    })());
    return upstreamOf(graph, selectedNode.id).map((id) => {
      const node = graph.nodes.find((n) => n.id === id);
      const isTrigger = node ? kinds.get(node.type)?.is_trigger : false;
      const seen = outputFields(test?.nodes[id]?.output);
      return { id, label: node?.label || id, fields: seen.length ? seen : isTrigger ? sampleFields : [] };
    });
  }, [selectedNode, graph, kinds, test, sample]);

  // --- canvas ---------------------------------------------------------------------------
  const cache = useRef(new FlowCache());
  const nodes = useMemo(() => cache.current.nodes(graph, kinds, { selected, problems: placed.byNode, drag }), [graph, kinds, selected, placed.byNode, drag]);
  const edges = useMemo(() => editorEdges(graph, selected), [graph, selected]);
  const [paletteOpen, setPaletteOpen] = useRemembered("switchyard.designer.palette", true);
  const [panelOpen, setPanelOpen] = useRemembered("switchyard.designer.panel", true);
  const panelShown = panelOpen && !!(selectedNode || selectedNote);
  const minimapColor = useCallback((node: { id: string; type?: string }) => (node.type === "note" ? "#f5e69a" : MINIMAP_FILL[test?.nodes[node.id]?.status ?? "idle"] ?? MINIMAP_FILL.idle), [test]);
  const [notice, setNotice] = useState("");
  const [help, setHelp] = useState(false);
  const [tab, setTab] = useState<PanelTab>("parameters");
  const [historyOpen, setHistoryOpen] = useState(false);
  const schema = useMemo(() => triggerSchema(graph, kinds), [graph, kinds]);
  const addCount = useRef(0);
  const canvasRef = useRef<HTMLElement>(null);

  const onNodesChange = useCallback(
    (changes: NodeChange<DesignerFlowNode>[]) => {
      const state = store.getState();
      applySelection(state, changes);
      const moving: Record<string, { x: number; y: number }> = {};
      let dropped = false;
      for (const change of changes) {
        if (change.type === "position" && canEdit) {
          if (change.position) moving[change.id] = change.position;
          if (change.dragging === false) dropped = true;
        }
      }
      if (Object.keys(moving).length) state.dragTo(moving);
      if (dropped || (Object.keys(moving).length && !changes.some((c) => c.type === "position" && c.dragging))) store.getState().commitDrag();
    },
    [store, canEdit],
  );
  const onEdgesChange = useCallback(
    (changes: EdgeChange[]) => applySelection(store.getState(), changes),
    [store],
  );
  const isValidConnection = useCallback(
    (connection: FlowConnection | { source: string; target: string; sourceHandle?: string | null; targetHandle?: string | null }) =>
      connectionProblem(store.getState().graph, kinds, connection) === null,
    [store, kinds],
  );
  const onConnect = useCallback(
    (connection: FlowConnection) => {
      const problem = connectionProblem(store.getState().graph, kinds, connection);
      if (problem) setNotice(`Connection refused: ${problem}`);
      else store.getState().connect(connection);
    },
    [store, kinds],
  );
  const onConnectEnd = useCallback(
    (_: MouseEvent | TouchEvent, state: FinalConnectionState) => {
      if (state.isValid !== false || !state.fromNode || !state.toNode) return;
      const from = state.fromHandle?.type === "target" ? { node: state.toNode.id, handle: state.toHandle?.id } : { node: state.fromNode.id, handle: state.fromHandle?.id };
      const to = state.fromHandle?.type === "target" ? { node: state.fromNode.id, handle: state.fromHandle?.id } : { node: state.toNode.id, handle: state.toHandle?.id };
      const problem = connectionProblem(store.getState().graph, kinds, { source: from.node, sourceHandle: from.handle, target: to.node, targetHandle: to.handle });
      if (problem) setNotice(`Connection refused: ${problem}`);
    },
    [store, kinds],
  );

  const addKind = useCallback(
    (kind: NodeKind, at?: { x: number; y: number }) => {
      if (!canEdit) return;
      const bounds = document.querySelector(".dz-canvas")?.getBoundingClientRect();
      const step = (addCount.current++ % 6) * 30;
      const position = at ?? flow.screenToFlowPosition({ x: (bounds ? bounds.left + bounds.width / 2 : 400) + step, y: (bounds ? bounds.top + bounds.height / 3 : 300) + step });
      store.getState().addNode(kind, { x: Math.round(position.x), y: Math.round(position.y) });
    },
    [store, flow, canEdit],
  );
  // --- quick add: the "+" on outputs and edges, `/` and Ctrl/⌘ K -----------------------------
  const [picker, setPicker] = useState<{ target: QuickAddTarget; at: { x: number; y: number } } | null>(null);
  const pointer = useRef<{ x: number; y: number } | null>(null);
  const openPicker = useCallback((target: QuickAddTarget, at: { x: number; y: number }) => setPicker({ target, at }), []);
  const sizeOf = useCallback((node: GraphNodeV1) => cardSize(outputHandles(kinds.get(node.type), node).length), [kinds]);
  /** Focus a node's card: the focus ring shows it, and React Flow pans to it when it is off screen. */
  // Two frames later, once React Flow has drawn the node; but a picker opened meanwhile (Ctrl-K
  // pressed right after Enter) keeps the focus, or the next keys typed would be lost.
  const focusNode = useCallback((id: string) => {
    window.requestAnimationFrame(() =>
      window.requestAnimationFrame(() => {
        if (document.activeElement?.closest(".dz-picker")) return;
        canvasRef.current?.querySelector<HTMLElement>(`.react-flow__node[data-id="${CSS.escape(id)}"]`)?.focus();
      }),
    );
  }, []);
  const pick = useCallback(
    (kind: NodeKind) => {
      if (!picker) return;
      setPicker(null);
      const id = store.getState().insert(kind, picker.target, sizeOf);
      if (id) focusNode(id);
    },
    [picker, store, sizeOf, focusNode],
  );
  /** `/` and Ctrl/⌘ K: after the selected node's first output, else where the pointer is. */
  const quickAdd = useCallback(() => {
    const element = canvasRef.current;
    if (!element) return;
    const bounds = element.getBoundingClientRect();
    const inside = pointer.current && pointer.current.x >= bounds.left && pointer.current.x <= bounds.right && pointer.current.y >= bounds.top && pointer.current.y <= bounds.bottom;
    const at = inside && pointer.current ? pointer.current : { x: bounds.left + bounds.width / 3, y: bounds.top + bounds.height / 4 };
    const { graph: current, selected: ids } = store.getState();
    const node = ids.length === 1 ? current.nodes.find((n) => n.id === ids[0]) : undefined;
    const handle = node ? outputHandles(kinds.get(node.type), node)[0] : undefined;
    if (node && handle) {
      const card = element.querySelector(`.react-flow__node[data-id="${CSS.escape(node.id)}"]`)?.getBoundingClientRect();
      openPicker({ kind: "after", source: node.id, handle }, card ? { x: card.right + 12, y: card.top } : at);
      return;
    }
    const spot = flow.screenToFlowPosition(at);
    openPicker({ kind: "free", position: { x: Math.round(spot.x), y: Math.round(spot.y) } }, at);
  }, [store, kinds, flow, openPicker]);
  const step = useCallback(
    (forward: boolean) => {
      const { graph: current, selected: ids } = store.getState();
      const next = neighbourOf(current, ids.length === 1 ? ids[0] : null, forward);
      if (!next) return;
      store.getState().select([next]);
      focusNode(next);
    },
    [store, focusNode],
  );

  const onDrop = useCallback(
    (event: React.DragEvent) => {
      const kind = kinds.get(event.dataTransfer.getData(KIND_MIME));
      if (!kind) return;
      event.preventDefault();
      addKind(kind, flow.screenToFlowPosition({ x: event.clientX, y: event.clientY }));
    },
    [kinds, addKind, flow],
  );

  const undo = useCallback(() => store.temporal.getState().undo(), [store]);
  const redo = useCallback(() => store.temporal.getState().redo(), [store]);
  // The first view, Fit view and F: fitted, but never below a readable zoom (lib/viewport.ts).
  const frame = useCallback(
    (duration = 0) => {
      const element = canvasRef.current;
      const current = store.getState().graph;
      if (!element || !(current.nodes.length || current.notes?.length)) return;
      const view = readableViewport(graphBounds(current, kinds), { width: element.clientWidth, height: element.clientHeight }, { padding: VIEW_PADDING, reserveBottom: BOTTOM_BAND });
      // Counted when the move ends: a browser test waits for the count instead of for time.
      void flow.setViewport(view, { duration }).then(() => setViewMoves((moves) => moves + 1));
    },
    [flow, store, kinds],
  );
  const [viewMoves, setViewMoves] = useState(0);
  const [framed, setFramed] = useState(false);
  const onInit = useCallback(() => {
    frame();
    setFramed(true);
  }, [frame]);
  const fitView = useCallback(() => frame(200), [frame]);

  const [direction, setDirection] = useState<LayoutDirection>("LR");
  const layout = useCallback(() => {
    const element = canvasRef.current;
    const room = element ? (direction === "LR" ? element.clientWidth : element.clientHeight - BOTTOM_BAND) - 2 * VIEW_PADDING : 1100;
    const positions = autoLayout(store.getState().graph, {
      direction,
      wrapAt: Math.max(600, room / READABLE_ZOOM),
      sizeOf: (node) => cardSize(outputHandles(kinds.get(node.type), node).length),
    });
    store.getState().moveAll(positions);
    window.requestAnimationFrame(() => frame(200));
  }, [store, frame, direction, kinds]);
  const addNote = useCallback(() => {
    const center = flow.screenToFlowPosition({ x: window.innerWidth / 2, y: window.innerHeight / 2 });
    store.getState().addNote({ x: Math.round(center.x), y: Math.round(center.y) });
  }, [store, flow]);
  const validate = useCallback(async () => {
    try {
      const problems = await saver.validate(`${apiUrl}/workflows/${workflowId}/validate`, store.getState().graph);
      setNotice(problems.length ? `${problems.length} problem(s): see the marked nodes` : "No problems: the draft can be published");
    } catch (error) {
      setNotice(messageOf(error));
    }
  }, [saver, apiUrl, workflowId, store]);
  const copy = useCallback(() => {
    const fragment = copyFragment(store.getState().graph, new Set(store.getState().selected));
    if (!fragment) return;
    const text = JSON.stringify(fragment);
    localStorage.setItem(CLIPBOARD_KEY, text);
    void navigator.clipboard?.writeText(text).catch(() => undefined);
    setNotice(`Copied ${fragment.nodes.length} node(s)`);
  }, [store]);
  const extract = useCallback(async () => {
    const { graph: current, selected: chosen } = store.getState();
    const ids = selectedNodeIds(current, chosen);
    const refusal = extractRefusal(current, ids, kinds);
    if (refusal) {
      setNotice(refusal);
      return;
    }
    const name = window.prompt("Name of the new workflow", suggestedName(current, ids))?.trim();
    if (!name) return;
    try {
      const done = await extractSelection(apiUrl, workflowId, { graph: current, node_ids: ids, name }, csrfToken(document));
      if (store.getState().graph !== current) {
        // Applying the returned graph would drop the edits made while the server worked.
        setNotice(`Created ${done.name}, but the canvas changed meanwhile: call it with a Sub-workflow node`);
        return;
      }
      store.getState().replaceGraph(done.graph, [done.node_id]);
      setNotice(extractedNotice(done));
    } catch (error) {
      setNotice(`Not extracted: ${messageOf(error)}`);
    }
  }, [store, kinds, apiUrl, workflowId]);
  const paste = useCallback(() => {
    const fragment = parseFragment(localStorage.getItem(CLIPBOARD_KEY) ?? "");
    if (fragment) store.getState().paste(fragment, PASTE_OFFSET);
  }, [store]);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const mod = event.ctrlKey || event.metaKey;
      const key = event.key.toLowerCase();
      if (mod && key === "s") {
        event.preventDefault();
        if (canEdit) void saver.save();
        return;
      }
      if (typing(event.target) || help || picker) return;
      if (canEdit && ((mod && key === "k") || (!mod && !event.altKey && event.key === "/"))) {
        event.preventDefault();
        quickAdd();
        return;
      }
      if (mod && key === "z" && canEdit) {
        event.preventDefault();
        if (event.shiftKey) redo();
        else undo();
      } else if (mod && key === "y" && canEdit) {
        event.preventDefault();
        redo();
      } else if (mod && key === "c") copy();
      else if (mod && key === "v" && canEdit) paste();
      else if (mod && key === "a") {
        event.preventDefault();
        const g = store.getState().graph;
        store.getState().select([...g.nodes.map((n) => n.id), ...(g.notes ?? []).map((n) => n.id)]);
      } else if (mod || event.altKey) return;
      else if (event.key === "?") setHelp(true);
      else if (key === "n" && canEdit) addNote();
      else if (key === "l" && canEdit) layout();
      else if (key === "f") fitView();
      else if (key === "h") setHistoryOpen((open) => !open);
      else if (event.key === "]") step(true);
      else if (event.key === "[") step(false);
      else if (event.key === "Escape") store.getState().select([]);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [store, saver, canEdit, help, picker, quickAdd, step, undo, redo, copy, paste, addNote, layout, fitView]);

  useEffect(() => {
    if (!notice) return;
    const timer = setTimeout(() => setNotice(""), 5000);
    return () => clearTimeout(timer);
  }, [notice]);

  const editNote = useCallback((id: string, text: string) => store.getState().updateNote(id, { text }), [store]);

  return (
    <div className="dz" data-save-status={save.status} data-revision={save.revision}>
      <Toolbar
        save={save}
        canEdit={canEdit}
        canUndo={canUndo}
        canRedo={canRedo}
        canExtract={selectedNodeIds(graph, selectedList).length > 0}
        versionsUrl={props.versionsUrl}
        runsUrl={props.runsUrl}
        on={{ save: () => void saver.save(), undo, redo, layout, addNote, validate: () => void validate(), extract: () => void extract(), fitView, help: () => setHelp(true), history: () => setHistoryOpen(!historyOpen) }}
        historyOpen={historyOpen}
        title={props.workflowName}
        listUrl={props.listUrl}
        direction={direction}
        onDirection={setDirection}
      />
      {placed.general.length ? (
        <ul className="dz-banner dz-general-problems" aria-label="Problems of the workflow">
          {placed.general.map((message) => (
            <li key={message}>{message}</li>
          ))}
        </ul>
      ) : null}
      <div className="dz-body" data-palette={canEdit && paletteOpen ? "open" : "closed"} data-panel={panelShown ? "open" : "closed"}>
        {canEdit ? (
          paletteOpen ? (
            <Palette kinds={props.kinds} onAdd={(kind) => addKind(kind)} onClose={() => setPaletteOpen(false)} />
          ) : (
            <div className="dz-rail">
              <button type="button" className="dz-icon-button" onClick={() => setPaletteOpen(true)} aria-label="Show the node palette" title="Show the node palette">
                <PanelLeftOpen size={18} aria-hidden="true" />
              </button>
            </div>
          )
        ) : null}
        <section
          ref={canvasRef}
          className="dz-canvas"
          aria-label="Workflow canvas"
          data-framed={framed}
          data-view-moves={viewMoves}
          onDragOver={(event) => event.preventDefault()}
          onDrop={onDrop}
          onPointerMove={(event) => {
            pointer.current = { x: event.clientX, y: event.clientY };
          }}
        >
          {notice ? (
            <p className="dz-notice" role="status" data-notice>
              {notice}
            </p>
          ) : null}
          <TestStatesContext.Provider value={test?.nodes ?? EMPTY_STATES}>
            <QuickAddContext.Provider value={canEdit ? openPicker : null}>
            <NoteEditContext.Provider value={canEdit ? editNote : null}>
              <ReactFlow
                nodes={nodes}
                edges={edges}
                nodeTypes={nodeTypes}
                edgeTypes={edgeTypes}
                onNodesChange={onNodesChange}
                onEdgesChange={onEdgesChange}
                onConnect={onConnect}
                onConnectEnd={onConnectEnd}
                isValidConnection={isValidConnection}
                onDelete={({ nodes: gone, edges: cut }) => canEdit && store.getState().remove([...gone.map((n) => n.id), ...cut.map((e) => e.id)])}
                nodesDraggable={canEdit}
                nodesConnectable={canEdit}
                deleteKeyCode={canEdit ? ["Delete", "Backspace"] : null}
                multiSelectionKeyCode={["Control", "Meta"]}
                selectionKeyCode="Shift"
                onInit={onInit}
                onlyRenderVisibleElements={graph.nodes.length > 150}
                minZoom={0.1}
                maxZoom={2}
                ariaLabelConfig={{ "node.a11yDescription.default": "Press Enter or Space to select this node, then configure it in the side panel." }}
              >
                <Background gap={20} />
                <MiniMap pannable zoomable style={MINIMAP} nodeColor={minimapColor} />
                <Controls orientation="horizontal" showInteractive={false} />
              </ReactFlow>
            </NoteEditContext.Provider>
            </QuickAddContext.Provider>
          </TestStatesContext.Provider>
          {canEdit ? (
            <TestBar
              api={api}
              schema={schema}
              sample={sample}
              pin={tests.pin}
              testing={tests.testing}
              runId={tests.runId}
              status={test?.status ?? null}
              error={tests.error}
              onSample={tests.setSample}
              onPin={tests.setPin}
              onRun={() => void tests.runTest()}
            />
          ) : null}
          {historyOpen ? (
            <RunHistory
              api={api}
              shownId={tests.runId}
              shownStatus={test?.status ?? null}
              onShow={(run) => {
                tests.show(run);
                setTab("run");
              }}
              onClose={() => setHistoryOpen(false)}
            />
          ) : null}
        </section>
        {panelShown ? (
          <Panel
            graph={graph}
            kinds={kinds}
            onConnect={(edge) => store.getState().connect(edge)}
            onRemoveEdge={(id) => store.getState().remove([id])}
            node={selectedNode}
            note={selectedNote}
            kind={selectedNode ? kinds.get(selectedNode.type) : undefined}
            upstream={upstream}
            problems={selectedNode ? placed.byNode.get(selectedNode.id) ?? [] : []}
            fieldProblems={selectedNode ? placed.byField.get(selectedNode.id) : undefined}
            providers={providers}
            readOnly={!canEdit}
            test={test}
            canRunFromHere={canEdit && tests.runId !== null && !tests.testing}
            onChange={(patch) => selectedNode && store.getState().updateNode(selectedNode.id, patch)}
            onNoteChange={(text) => selectedNote && editNote(selectedNote.id, text)}
            onRunFromHere={() => selectedNode && void tests.runFrom(selectedNode.id)}
            onClose={() => setPanelOpen(false)}
            tab={tab}
            onTab={setTab}
            workflowId={workflowId}
            apiUrl={apiUrl}
            designerUrl={designerUrl}
            runTitle={tests.runId !== null ? `Run #${tests.runId}${test?.status ? ` · ${test.status}` : ""}` : ""}
          />
        ) : selectedNode || selectedNote ? (
          <div className="dz-rail">
            <button type="button" className="dz-icon-button" onClick={() => setPanelOpen(true)} aria-label="Show the settings panel" title="Show the settings panel">
              <PanelRightOpen size={18} aria-hidden="true" />
            </button>
          </div>
        ) : null}
      </div>
      {help ? <Help onClose={() => setHelp(false)} /> : null}
      {picker ? <NodePicker kinds={kindsFor(props.kinds, picker.target)} at={picker.at} title={pickerTitle(graph, picker.target)} onPick={pick} onClose={() => setPicker(null)} /> : null}
    </div>
  );
}

export function Designer(props: DesignerProps) {
  return (
    <ReactFlowProvider>
      <DesignerInner {...props} />
    </ReactFlowProvider>
  );
}
