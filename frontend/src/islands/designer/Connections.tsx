// Edges of the selected node as a form, so they can be made and removed without a mouse.
import { useState } from "react";
import { connectionProblem } from "../../lib/connections";
import { sourceHandleOf, type GraphNodeV1, type GraphV1 } from "../../lib/graph";
import { outputHandles, type NodeKind } from "../../lib/nodeKinds";

export interface ConnectionsProps {
  graph: GraphV1;
  node: GraphNodeV1;
  kinds: Map<string, NodeKind>;
  onConnect: (edge: { source: string; sourceHandle: string; target: string; targetHandle: string }) => void;
  onRemove: (edgeId: string) => void;
}

export function Connections({ graph, node, kinds, onConnect, onRemove }: ConnectionsProps) {
  const handles = outputHandles(kinds.get(node.type), node);
  const [handle, setHandle] = useState("");
  const [target, setTarget] = useState("");
  const from = handle || handles[0] || "";
  const targets = graph.nodes.filter((other) => !connectionProblem(graph, kinds, { source: node.id, sourceHandle: from, target: other.id, targetHandle: "in" }));
  const outgoing = graph.edges.filter((edge) => edge.source === node.id);
  const name = (id: string) => graph.nodes.find((n) => n.id === id)?.label || id;
  return (
    <>
      {outgoing.length ? (
        <ul className="dz-edges">
          {outgoing.map((edge) => (
            <li key={edge.id}>
              <span>
                {sourceHandleOf(edge)} → {name(edge.target)}
              </span>
              <button type="button" className="dz-chip" onClick={() => onRemove(edge.id)} aria-label={`Remove the edge from ${sourceHandleOf(edge)} to ${name(edge.target)}`}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted small">No outgoing edges.</p>
      )}
      {handles.length ? (
        <form
          className="dz-connect"
          onSubmit={(event) => {
            event.preventDefault();
            if (!target) return;
            onConnect({ source: node.id, sourceHandle: from, target, targetHandle: "in" });
            setTarget("");
          }}
        >
          <label>
            <span>From output</span>
            <select value={from} onChange={(event) => setHandle(event.target.value)}>
              {handles.map((h) => (
                <option key={h}>{h}</option>
              ))}
            </select>
          </label>
          <label>
            <span>to node</span>
            <select value={target} onChange={(event) => setTarget(event.target.value)}>
              <option value="">choose…</option>
              {targets.map((other) => (
                <option key={other.id} value={other.id}>
                  {other.label || other.id}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" disabled={!target}>
            Connect
          </button>
        </form>
      ) : null}
    </>
  );
}
