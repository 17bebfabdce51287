// An edge of the designer with a "+" at its middle that inserts a node between its two ends.
import { BaseEdge, EdgeLabelRenderer, getBezierPath, type EdgeProps } from "@xyflow/react";
import { Plus } from "lucide-react";
import { useContext } from "react";
import { QuickAddContext } from "./nodes";

export function InsertEdge({ id, source, target, sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, markerEnd, style, selected }: EdgeProps) {
  const quickAdd = useContext(QuickAddContext);
  const [path, labelX, labelY] = getBezierPath({ sourceX, sourceY, sourcePosition, targetX, targetY, targetPosition });
  return (
    <>
      <BaseEdge id={id} path={path} markerEnd={markerEnd} style={style} />
      {quickAdd ? (
        <EdgeLabelRenderer>
          <button
            type="button"
            className={`dz-edge-add nodrag nopan${selected ? " dz-edge-add-selected" : ""}`}
            style={{ transform: `translate(-50%, -50%) translate(${labelX}px, ${labelY}px)` }}
            data-edge={id}
            aria-label={`Insert a node between ${source} and ${target}`}
            title="Insert a node here"
            onClick={(event) => {
              const box = event.currentTarget.getBoundingClientRect();
              quickAdd({ kind: "edge", edge: id }, { x: box.left, y: box.bottom + 8 });
            }}
          >
            <Plus size={12} aria-hidden="true" />
          </button>
        </EdgeLabelRenderer>
      ) : null}
    </>
  );
}
