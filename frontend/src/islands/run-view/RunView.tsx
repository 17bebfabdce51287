import {
  Controls,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  useNodesInitialized,
  useNodesState,
  useReactFlow,
  type Node,
  type NodeTypes,
  type OnSelectionChangeParams,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import { toFlow, type GraphV1, type RunFlowEdge, type RunFlowNode } from "../../lib/graph";
import type { NodeState, NodeStatus } from "../../lib/runEvents";
import { readableViewport } from "../../lib/viewport";
import { NodeStatesContext } from "./context";
import { messageOf, RunController, socketUrlFor, type ConnectionState, type RunAction } from "./controller";
import { Header } from "./Header";
import { Inspector } from "./Inspector";
import { RunNode } from "./RunNode";
import { Timeline } from "./Timeline";

const nodeTypes: NodeTypes = { run: RunNode };
const MINIMAP_SIZE = { width: 180, height: 110 };

/** MiniMap fills (the canvas itself is styled by data-status in run-view.css). */
const MINIMAP_COLORS: Record<NodeStatus, string> = {
  pending: "#c3c9d2",
  running: "#2f5bd3",
  succeeded: "#137a3a",
  failed: "#b42318",
  crashed: "#b42318",
  skipped: "#e4e7ec",
  waiting: "#d08a00",
  cancelled: "#98a2b3",
};

export interface RunViewProps {
  runId: string;
  apiUrl: string;
  wsPath: string;
  canEdit: boolean;
  graph: GraphV1;
}

/** Edges taken by a finished branch are drawn solid, the branches it did not take faded. */
function styledEdges(edges: RunFlowEdge[], nodes: Record<string, NodeState>): RunFlowEdge[] {
  return edges.map((edge) => {
    const source = nodes[edge.source];
    const target = nodes[edge.target];
    let className = "rv-edge";
    if (source?.status === "succeeded") {
      const taken = !source.handle || source.handle === edge.sourceHandle;
      className += taken ? " rv-edge-taken" : " rv-edge-not-taken";
    } else if (source?.status === "skipped") {
      className += " rv-edge-not-taken";
    }
    return { ...edge, className, animated: source?.status === "succeeded" && target?.status === "running" };
  });
}

function ConnectionIndicator({ connection, message }: { connection: ConnectionState; message: string }) {
  const text =
    connection === "connecting" ? "Connecting…" : connection === "reconnecting" ? "Reconnecting… live updates are paused." : connection === "closed" ? message : "";
  return (
    <div className={`rv-connection rv-connection-${connection}`} role="status" data-connection={connection} hidden={!text}>
      {text}
    </div>
  );
}

function RunViewInner({ runId, apiUrl, wsPath, canEdit, graph }: RunViewProps) {
  const flow = useMemo(() => toFlow(graph), [graph]);
  const graphNodes = useMemo(() => new Map(graph.nodes.map((node) => [node.id, node])), [graph]);
  const controller = useMemo(
    () =>
      new RunController({
        apiUrl,
        socketUrl: (after) => socketUrlFor(window.location, wsPath, after),
        nodeIds: graph.nodes.map((node) => node.id),
      }),
    [apiUrl, wsPath, graph],
  );
  useEffect(() => {
    controller.start();
    return () => controller.stop();
  }, [controller]);
  const view = useSyncExternalStore(controller.subscribe, controller.getView);
  const state = view.run;

  const [nodes, setNodes, onNodesChange] = useNodesState<RunFlowNode>(flow.nodes);
  const edges = useMemo(() => styledEdges(flow.edges, state.nodes), [flow.edges, state.nodes]);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const onSelectionChange = useCallback(({ nodes: selected }: OnSelectionChangeParams) => {
    setSelectedId(selected[0]?.id ?? null);
  }, []);
  const selectNode = useCallback(
    (id: string) => setNodes((current) => current.map((node) => (node.selected === (node.id === id) ? node : { ...node, selected: node.id === id }))),
    [setNodes],
  );
  // The first view: fitted, but never below the zoom at which titles read at 12 px (lib/viewport.ts).
  const flowApi = useReactFlow();
  const graphRef = useRef<HTMLElement>(null);
  const initialised = useNodesInitialized();
  const [framed, setFramed] = useState(false);
  useEffect(() => {
    const element = graphRef.current;
    if (!initialised || framed || !element) return;
    const shown = flowApi.getNodes();
    if (!shown.length) return;
    setFramed(true);
    void flowApi.setViewport(readableViewport(flowApi.getNodesBounds(shown), { width: element.clientWidth, height: element.clientHeight }, { reserveBottom: MINIMAP_SIZE.height + 24 }));
  }, [initialised, framed, flowApi]);
  const minimapColor = useCallback((node: Node) => MINIMAP_COLORS[state.nodes[node.id]?.status ?? "pending"], [state.nodes]);

  // Outputs and inputs come with snapshots: refresh when the selected node moves on.
  const selectedStatus = selectedId ? state.nodes[selectedId]?.status : undefined;
  useEffect(() => {
    if (selectedId) controller.refreshDetails();
  }, [controller, selectedId, selectedStatus]);

  const [busy, setBusy] = useState<RunAction | null>(null);
  const [actionError, setActionError] = useState("");
  const onAction = useCallback(
    async (action: RunAction) => {
      setBusy(action);
      setActionError("");
      try {
        const next = await controller.act(action);
        if (next) {
          window.location.assign(next);
          return;
        }
      } catch (error) {
        setActionError(messageOf(error));
      }
      setBusy(null);
    },
    [controller],
  );

  return (
    <div className="rv" data-run-id={runId}>
      <Header runId={runId} state={state} canEdit={canEdit} busy={busy} actionError={actionError} onAction={(action) => void onAction(action)} />
      <ConnectionIndicator connection={view.connection} message={view.connectionMessage} />
      {view.loadError ? (
        <p className="error" role="alert">
          {view.loadError}
        </p>
      ) : null}
      <div className="rv-body">
        <section ref={graphRef} className="rv-graph card" aria-label="Run graph" data-framed={framed}>
          <NodeStatesContext.Provider value={state.nodes}>
            <ReactFlow
              nodes={nodes}
              edges={edges}
              onNodesChange={onNodesChange}
              onSelectionChange={onSelectionChange}
              nodeTypes={nodeTypes}
              nodesDraggable={false}
              nodesConnectable={false}
              elementsSelectable
              edgesFocusable={false}
              deleteKeyCode={null}
              selectionKeyCode={null}
              multiSelectionKeyCode={null}
              zoomOnScroll={false}
              preventScrolling={false}
              minZoom={0.2}
              ariaLabelConfig={{ "node.a11yDescription.default": "Press Enter or Space to inspect this node." }}
            >
              <MiniMap pannable zoomable nodeColor={minimapColor} nodeStrokeWidth={2} style={MINIMAP_SIZE} />
              <Controls showInteractive={false} />
            </ReactFlow>
          </NodeStatesContext.Provider>
        </section>
        <Inspector state={state} selectedId={selectedId} graphNodes={graphNodes} />
      </div>
      <Timeline rows={state.timeline} historyUnavailable={view.historyUnavailable} selectedId={selectedId} onSelectNode={selectNode} />
    </div>
  );
}

export function RunView(props: RunViewProps) {
  return (
    <ReactFlowProvider>
      <RunViewInner {...props} />
    </ReactFlowProvider>
  );
}
