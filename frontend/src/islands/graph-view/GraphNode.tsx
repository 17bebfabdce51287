import type { NodeProps } from "@xyflow/react";
import { memo } from "react";
import type { DiffStatus } from "../../lib/diff";
import type { RunFlowNode } from "../../lib/graph";
import { hasLabelledPorts, Ports } from "../run-view/RunNode";

export type GraphFlowNode = RunFlowNode & { data: RunFlowNode["data"] & { diff: DiffStatus } };

function GraphNodeView({ id, data }: NodeProps<GraphFlowNode>) {
  const { diff } = data as GraphFlowNode["data"];
  const labelled = hasLabelledPorts(data);
  return (
    <div className={`run-node gv-node${labelled ? " run-node-ported" : ""}`} data-node-id={id} data-diff={diff} title={`${data.label} (${data.subtitle})${diff === "same" ? "" : `: ${diff}`}`}>
      <div className="run-node-head">
        <span className="run-node-label">{data.label}</span>
      </div>
      <div className="run-node-meta">
        <span className="run-node-type">{data.subtitle}</span>
        {diff === "same" ? null : <span className="gv-node-diff">{diff}</span>}
      </div>
      <Ports data={data} labelled={labelled} />
    </div>
  );
}

export const GraphNode = memo(GraphNodeView);
