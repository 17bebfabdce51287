// How a node and a sticky note look on the designer canvas. Handles are typed by name: an
// output handle connects only to an input handle, and branch handles carry their names.
import { Handle, Position, type NodeProps } from "@xyflow/react";
import { createContext, memo, useContext } from "react";
import type { EditorFlowNode, NoteFlowNode } from "../../lib/editorFlow";
import type { HandleSpec } from "../../lib/graph";
import type { NodeState } from "../../lib/runEvents";
import { formatDuration } from "../../lib/format";
import type { QuickAddTarget } from "../../lib/quickAdd";
import { CircleAlert, Plus } from "lucide-react";
import { categoryOf, KindIcon } from "./look";

/** Statuses of the test run on show, by node id. */
export const TestStatesContext = createContext<Record<string, NodeState>>({});
/** Opens the quick-add picker at a window point; null when the viewer cannot edit. */
export const QuickAddContext = createContext<((target: QuickAddTarget, at: { x: number; y: number }) => void) | null>(null);
/** Changes a note's text (one undo step per edit). */
export const NoteEditContext = createContext<((id: string, text: string) => void) | null>(null);

function Ports({ nodeId, handles, type, linked = "" }: { nodeId: string; handles: HandleSpec[]; type: "source" | "target"; linked?: string }) {
  const quickAdd = useContext(QuickAddContext);
  if (!handles.length) return null;
  const position = type === "source" ? Position.Right : Position.Left;
  return (
    <div className={`dz-ports dz-ports-${type}`}>
      {handles.map((handle) => (
        <div className="dz-port" key={handle.id} data-handle={handle.id} data-linked={linked.split(" ").includes(handle.id) || undefined}>
          {handle.label ? <span className="dz-port-label">{handle.label}</span> : null}
          <Handle type={type} position={position} id={handle.id} aria-label={`${type === "source" ? "output" : "input"} ${handle.id}`} />
          {type === "source" && quickAdd ? (
            <button
              type="button"
              className="dz-handle-add nodrag nopan"
              aria-label={`Add a node after ${nodeId} ${handle.id}`}
              title="Add a node here"
              onClick={(event) => {
                event.stopPropagation();
                const box = event.currentTarget.getBoundingClientRect();
                quickAdd({ kind: "after", source: nodeId, handle: handle.id }, { x: box.right + 8, y: box.top });
              }}
            >
              <Plus size={10} aria-hidden="true" />
            </button>
          ) : null}
        </div>
      ))}
    </div>
  );
}

function EditorNodeView({ id, data, selected }: NodeProps<EditorFlowNode>) {
  const state = useContext(TestStatesContext)[id];
  const problems = data.problems;
  const duration = state ? formatDuration(state.durationMs) : "";
  return (
    <div
      className={`dz-node${selected ? " dz-selected" : ""}${problems.length ? " dz-has-problems" : ""}`}
      data-node-id={id}
      data-category={categoryOf(data.kind, data.category || undefined)}
      data-status={state?.status ?? "idle"}
      data-problems={problems.length}
      title={problems.length ? problems.join("\n") : undefined}
    >
      <div className="dz-node-head">
        <span className="dz-node-icon">
          <KindIcon kind={data.kind} />
        </span>
        <span className="dz-node-titles">
          <span className="dz-node-label">{data.label}</span>
          <span className="dz-node-kind">{data.kindLabel}</span>
        </span>
        {problems.length ? (
          <span className="dz-node-problems" aria-label={`${problems.length} problem(s): ${problems.join("; ")}`}>
            <CircleAlert size={12} aria-hidden="true" />
            {problems.length}
          </span>
        ) : null}
      </div>
      {data.summary ? <div className="dz-node-summary">{data.summary}</div> : null}
      {state ? (
        <div className="dz-node-meta">
          <span className="dz-node-status">{state.status}</span>
          {duration ? <span className="dz-node-duration">{duration}</span> : null}
          {state.cacheHit && state.status === "succeeded" ? <span>cached</span> : null}
        </div>
      ) : null}
      <div className="dz-node-ports">
        <Ports nodeId={id} handles={data.inputs} type="target" />
        <Ports nodeId={id} handles={data.outputs} type="source" linked={data.linked} />
      </div>
    </div>
  );
}

function NoteNodeView({ id, data }: NodeProps<NoteFlowNode>) {
  const edit = useContext(NoteEditContext);
  return (
    <div className="dz-note" data-note-id={id}>
      <textarea
        key={data.text}
        className="nodrag"
        aria-label="Sticky note"
        defaultValue={data.text}
        readOnly={!edit}
        placeholder="Note…"
        onBlur={(event) => {
          if (edit && event.target.value !== data.text) edit(id, event.target.value);
        }}
      />
    </div>
  );
}

export const EditorNode = memo(EditorNodeView);
export const NoteNode = memo(NoteNodeView);
