import { Handle, Position, type NodeProps } from "@xyflow/react";
import { memo, useContext } from "react";
import { formatDuration } from "../../lib/format";
import type { HandleSpec, RunFlowNode } from "../../lib/graph";
import { emptyNode, type NodeState } from "../../lib/runEvents";
import { categoryOf, KindIcon } from "../designer/look";
import { NodeStatesContext } from "./context";

const PENDING = emptyNode();
// The end of a draft that fits on the card; the inspector shows all of it.
const DRAFT_TAIL = 90;

export const STATUS_TEXT: Record<NodeState["status"], string> = {
  pending: "pending",
  running: "running",
  succeeded: "succeeded",
  failed: "failed",
  crashed: "crashed",
  skipped: "skipped",
  waiting: "waiting",
  cancelled: "cancelled",
};

/** A node set to continue on failure succeeds on its `error` handle once its retries are spent. */
export function continuedOnError(node: NodeState): boolean {
  return node.status === "succeeded" && node.handle === "error";
}

function statusText(node: NodeState): string {
  if ((node.status === "failed" || node.status === "crashed") && node.retryAt) return `${node.status}, retrying`;
  if (continuedOnError(node)) return "continued on error";
  return STATUS_TEXT[node.status];
}

function Handles({ handles, type }: { handles: HandleSpec[]; type: "source" | "target" }) {
  const position = type === "source" ? Position.Right : Position.Left;
  if (handles.length === 1 && !handles[0].label) {
    return <Handle type={type} position={position} id={handles[0].id} isConnectable={false} />;
  }
  if (!handles.length) return null;
  return (
    <div className={`run-node-ports run-node-ports-${type}`}>
      {handles.map((handle) => (
        <div className="run-node-port" key={handle.id} data-handle={handle.id}>
          <span className="run-node-port-label">{handle.label}</span>
          <Handle type={type} position={position} id={handle.id} isConnectable={false} />
        </div>
      ))}
    </div>
  );
}

export function hasLabelledPorts(data: RunFlowNode["data"]): boolean {
  return data.targetHandles.some((h) => h.label) || data.sourceHandles.some((h) => h.label);
}

/** A node's input and output handles; labelled ones (true/false, case names) sit in two captioned columns. */
export function Ports({ data, labelled }: { data: RunFlowNode["data"]; labelled: boolean }) {
  const handles = (
    <>
      <Handles handles={data.targetHandles} type="target" />
      <Handles handles={data.sourceHandles} type="source" />
    </>
  );
  return labelled ? <div className="run-node-portrows">{handles}</div> : handles;
}

function RunNodeView({ id, data }: NodeProps<RunFlowNode>) {
  const node = useContext(NodeStatesContext)[id] ?? PENDING;
  const duration = formatDuration(node.durationMs);
  const labelledPorts = hasLabelledPorts(data);
  return (
    <div
      className={`run-node${labelledPorts ? " run-node-ported" : ""}`}
      data-status={node.status}
      data-continued={continuedOnError(node) || undefined}
      data-node-id={id}
      data-category={categoryOf(data.subtitle)}
      title={`${data.label} (${data.subtitle}): ${statusText(node)}${duration ? `, ${duration}` : ""}`}
    >
      <div className="run-node-head">
        <span className="run-node-icon">
          <KindIcon kind={data.subtitle} size={14} />
        </span>
        <span className="run-node-label">{data.label}</span>
        <span className="run-node-dot" aria-hidden="true" />
      </div>
      <div className="run-node-meta">
        <span className="run-node-type">{data.subtitle}</span>
        <span className="run-node-status">{statusText(node)}</span>
        {node.cacheHit && node.status === "succeeded" ? <span className="run-node-cache">cached</span> : null}
        {duration ? <span className="run-node-duration">{duration}</span> : null}
      </div>
      {node.draft && node.status === "running" ? (
        <div className="run-node-draft" data-draft-for={id}>
          {node.draft.length > DRAFT_TAIL ? `…${node.draft.slice(-DRAFT_TAIL)}` : node.draft}
        </div>
      ) : null}
      <Ports data={data} labelled={labelledPorts} />
    </div>
  );
}

export const RunNode = memo(RunNodeView);
