import { Controls, MiniMap, ReactFlow, ReactFlowProvider, type Node, type NodeTypes } from "@xyflow/react";
import { useMemo } from "react";
import { diffGraphs, edgeKey, isEmpty, mergedGraph, type DiffStatus, type GraphDiff } from "../../lib/diff";
import { toFlow, type GraphV1 } from "../../lib/graph";
import { ChangeList } from "./ChangeList";
import { GraphNode, type GraphFlowNode } from "./GraphNode";

const nodeTypes: NodeTypes = { run: GraphNode };

const MINIMAP_COLORS: Record<DiffStatus, string> = { added: "#137a3a", removed: "#b42318", changed: "#b26a00", same: "#c3c9d2" };

export interface GraphViewProps {
  graph: GraphV1;
  base: GraphV1 | null;
  beforeName: string;
  afterName: string;
}

interface Drawn {
  graph: GraphV1;
  nodes: Map<string, DiffStatus>;
  edges: Map<string, DiffStatus>;
  diff: GraphDiff | null;
}

function drawn(graph: GraphV1, base: GraphV1 | null): Drawn {
  if (!base) return { graph, nodes: new Map(), edges: new Map(), diff: null };
  const diff = diffGraphs(base, graph);
  return { ...mergedGraph(graph, diff), diff };
}

function Legend() {
  return (
    <ul className="gv-legend" aria-label="Colours">
      <li data-diff="added">added</li>
      <li data-diff="removed">removed</li>
      <li data-diff="changed">changed</li>
    </ul>
  );
}

export function GraphView({ graph, base, beforeName, afterName }: GraphViewProps) {
  const view = useMemo(() => drawn(graph, base), [graph, base]);
  const flow = useMemo(() => {
    const { nodes, edges } = toFlow(view.graph);
    const edgeIds = new Map(view.graph.edges.map((edge) => [edge.id, edgeKey(edge)]));
    return {
      nodes: nodes.map((node): GraphFlowNode => ({ ...node, data: { ...node.data, diff: view.nodes.get(node.id) ?? "same" } })),
      edges: edges.map((edge) => {
        // Removed edges carry a "removed:" id prefix (mergedGraph), so they never share an id with a kept one.
        const status = edge.id.startsWith("removed:") ? "removed" : (view.edges.get(edgeIds.get(edge.id) ?? "") ?? "same");
        return { ...edge, className: `gv-edge gv-edge-${status}`, data: { diff: status } };
      }),
    };
  }, [view]);
  const minimapColor = (node: Node) => MINIMAP_COLORS[view.nodes.get(node.id) ?? "same"];
  return (
    <div className="gv">
      {view.diff ? (
        <p className="gv-summary" role="status">
          {isEmpty(view.diff) ? `No differences between ${beforeName} and ${afterName}.` : `Changes from ${beforeName} to ${afterName}.`}
        </p>
      ) : null}
      <section className="gv-graph card" aria-label={view.diff ? "Differences on the graph" : "Graph (read-only)"}>
        <ReactFlowProvider>
          <ReactFlow
            // Uncontrolled: the graph never changes once drawn, and React Flow keeps the measured sizes the minimap needs.
            defaultNodes={flow.nodes}
            defaultEdges={flow.edges}
            nodeTypes={nodeTypes}
            nodesDraggable={false}
            nodesConnectable={false}
            elementsSelectable={false}
            edgesFocusable={false}
            deleteKeyCode={null}
            zoomOnScroll={false}
            preventScrolling={false}
            fitView
            fitViewOptions={{ padding: 0.1, maxZoom: 1.25 }}
            minZoom={0.2}
          >
            <MiniMap pannable zoomable nodeColor={minimapColor} nodeStrokeWidth={2} />
            <Controls showInteractive={false} />
          </ReactFlow>
        </ReactFlowProvider>
      </section>
      {view.diff ? (
        <>
          <Legend />
          <ChangeList diff={view.diff} />
        </>
      ) : null}
    </div>
  );
}
