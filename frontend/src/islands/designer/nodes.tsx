// How a node and a sticky note look on the designer canvas. Handles are typed by name: an
// output handle connects only to an input handle, and branch handles carry their names.
import { Handle, Position, type NodeProps } from "@xyflow/react";
import { createContext, memo, useContext } from "react";
import type { EditorFlowNode, NoteFlowNode } from "../../lib/editorFlow";
import type { HandleSpec } from "../../lib/graph";
import type { NodeState } from "../../lib/runEvents";

/** Statuses of the test run on show, by node id. */
export const TestStatesContext = createContext<Record<string, NodeState>>({});
/** Changes a note's text (one undo step per edit). */
export const NoteEditContext = createContext<((id: string, text: string) => void) | null>(null);

function Ports({ handles, type }: { handles: HandleSpec[]; type: "source" | "target" }) {
  if (!handles.length) return null;
  const position = type === "source" ? Position.Right : Position.Left;
  return (
    <div className={`dz-ports dz-ports-${type}`}>
      {handles.map((handle) => (
        <div className="dz-port" key={handle.id} data-handle={handle.id}>
          {handle.label ? <span className="dz-port-label">{handle.label}</span> : null}
          <Handle type={type} position={position} id={handle.id} aria-label={`${type === "source" ? "output" : "input"} ${handle.id}`} />
        </div>
      ))}
    </div>
  );
}

function EditorNodeView({ id, data, selected }: NodeProps<EditorFlowNode>) {
  const state = useContext(TestStatesContext)[id];
  const problems = data.problems;
  return (
    <div
      className={`dz-node${selected ? " dz-selected" : ""}${problems.length ? " dz-has-problems" : ""}`}
      data-node-id={id}
      data-status={state?.status ?? "idle"}
      data-problems={problems.length}
      title={problems.length ? problems.join("\n") : undefined}
    >
      <div className="dz-node-head">
        <span className="dz-node-label">{data.label}</span>
        {problems.length ? (
          <span className="dz-node-problems" aria-label={`${problems.length} problem(s): ${problems.join("; ")}`}>
            {problems.length}
          </span>
        ) : null}
      </div>
      <div className="dz-node-meta">
        <span>{data.kindLabel}</span>
        {state ? <span className="dz-node-status">{state.status}</span> : null}
      </div>
      <div className="dz-node-ports">
        <Ports handles={data.inputs} type="target" />
        <Ports handles={data.outputs} type="source" />
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
