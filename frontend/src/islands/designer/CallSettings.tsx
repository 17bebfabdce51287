// The parameters of a node that calls another workflow (`subworkflow`, `for_each`): a picker of the
// workspace's published workflows, the version to run, the called workflow's input schema with one
// template per field, and for for_each the items, concurrency and failure policy. "New sub-workflow"
// creates the called workflow with a trigger taking the mapped fields and opens it.
import { useCallback, useEffect, useState } from "react";
import { calledGraph, inputFields, mappingOf, validFieldName, withMapping, type CallableWorkflow } from "../../lib/calls";
import type { GraphNodeV1 } from "../../lib/graph";
import { csrfToken, sendJSON } from "../../lib/http";

export interface CallSettingsProps {
  node: GraphNodeV1;
  workflowId: number;
  apiUrl: string;
  /** The designer page of a workflow, for the "open" link. */
  designerUrl: (id: number) => string;
  readOnly: boolean;
  fieldProblems: Record<string, string[]> | undefined;
  onChange: (params: Record<string, unknown>) => void;
}

function FieldErrors({ messages }: { messages: string[] | undefined }) {
  return (
    <>
      {(messages ?? []).map((message) => (
        <p className="error small" key={message}>
          {message}
        </p>
      ))}
    </>
  );
}

/** The workspace's callable workflows, fetched again when the page gets the focus back (after publishing one in another tab). */
function useCallable(apiUrl: string, workflowId: number): { found: CallableWorkflow[] | null; error: string; reload: () => void } {
  const [found, setFound] = useState<CallableWorkflow[] | null>(null);
  const [error, setError] = useState("");
  const reload = useCallback(() => {
    sendJSON<CallableWorkflow[]>(`${apiUrl}/workflows/${workflowId}/callable`, "GET", undefined, "")
      .then((list) => {
        setFound(list);
        setError("");
      })
      .catch((failed: unknown) => setError(failed instanceof Error ? failed.message : String(failed)));
  }, [apiUrl, workflowId]);
  useEffect(() => {
    reload();
    window.addEventListener("focus", reload);
    return () => window.removeEventListener("focus", reload);
  }, [reload]);
  return { found, error, reload };
}

export function CallSettings({ node, workflowId, apiUrl, designerUrl, readOnly, fieldProblems, onChange }: CallSettingsProps) {
  const params = node.params ?? {};
  const { found, error, reload } = useCallable(apiUrl, workflowId);
  const [newField, setNewField] = useState("");
  const [newName, setNewName] = useState("");
  const [creating, setCreating] = useState("");
  const chosenId = typeof params.workflow_id === "number" ? params.workflow_id : null;
  const chosen = found?.find((w) => w.id === chosenId) ?? null;
  const version = typeof params.version === "number" ? params.version : null;
  const fields = inputFields(chosen?.input_schema, params.input);
  const mapping = mappingOf(params.input);
  const wholeInput = typeof params.input === "string" ? params.input : "";
  const problems = (name: string) => fieldProblems?.[`params.${name}`];
  const set = (patch: Record<string, unknown>) => onChange({ ...params, ...patch });

  const createCalled = async () => {
    const name = newName.trim() || `${node.label || node.id} sub-workflow`;
    setCreating("Creating…");
    try {
      const made = await sendJSON<{ id: number }>(`${apiUrl}/workflows`, "POST", { name, draft: calledGraph(params.input) }, csrfToken(document));
      set({ workflow_id: made.id, version: null, input: mappingOf(params.input) });
      setCreating(`Created ${name}: add its nodes and publish it, then come back here.`);
      window.open(designerUrl(made.id), "_blank", "noopener");
    } catch (failed) {
      setCreating(`Could not create it: ${failed instanceof Error ? failed.message : String(failed)}`);
    }
  };

  return (
    <div className="dz-call" aria-label="Called workflow">
      <label className="dz-setting dz-setting-wide">
        <span>Workflow to run</span>
        <select
          id="root_workflow_id"
          value={chosenId ?? ""}
          disabled={readOnly}
          onChange={(event) => set({ workflow_id: event.target.value ? Number(event.target.value) : undefined, version: null })}
        >
          <option value="">Choose a published workflow…</option>
          {chosenId !== null && !chosen ? <option value={chosenId}>Workflow {chosenId} (not published, or not found)</option> : null}
          {(found ?? []).map((w) => (
            <option key={w.id} value={w.id}>
              {w.name} (v{w.latest_version})
            </option>
          ))}
        </select>
      </label>
      <FieldErrors messages={problems("workflow_id")} />
      {found === null && !error ? <p className="muted small">Loading the workflows…</p> : null}
      {error ? <p className="error small">The workflows could not be listed: {error}</p> : null}
      {found?.length === 0 ? <p className="muted small">This workspace has no other published workflow yet.</p> : null}
      <p className="dz-call-links small">
        {chosenId !== null ? (
          <a href={chosen?.designer_url ?? designerUrl(chosenId)} target="_blank" rel="noopener">
            Open {chosen?.name ?? `workflow ${chosenId}`}
          </a>
        ) : null}
        <button type="button" className="dz-link-button" onClick={reload}>
          Refresh the list
        </button>
      </p>
      {chosenId !== null ? (
        <label className="dz-setting">
          <span>Version</span>
          <select id="root_version" value={version ?? ""} disabled={readOnly} onChange={(event) => set({ version: event.target.value ? Number(event.target.value) : null })}>
            <option value="">Latest published at start</option>
            {(chosen?.versions ?? (version ? [version] : [])).map((number) => (
              <option key={number} value={number}>
                Pinned: v{number}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      <FieldErrors messages={problems("version")} />

      {node.type === "for_each" ? (
        <>
          <label className="dz-setting dz-setting-wide" htmlFor="root_items">
            <span>Items (an expression giving a list)</span>
          </label>
          <input id="root_items" type="text" placeholder="nodes.fetch.documents" value={typeof params.items === "string" ? params.items : ""} readOnly={readOnly} onChange={(event) => set({ items: event.target.value })} />
          <FieldErrors messages={problems("items")} />
        </>
      ) : null}

      <h3 className="dz-subhead">Input of {node.type === "for_each" ? "each run" : "the run"}</h3>
      {chosen ? (
        <details className="dz-call-schema">
          <summary className="small">Input schema of {chosen.name}</summary>
          <pre>{JSON.stringify(chosen.input_schema, null, 2)}</pre>
        </details>
      ) : null}
      {node.type === "for_each" ? (
        <p className="muted small">
          Templates may use <code>{"{{ item }}"}</code> and <code>{"{{ index }}"}</code> besides upstream outputs.
        </p>
      ) : null}
      {fields.length ? (
        <table className="dz-mapping" aria-label="Input mapping">
          <tbody>
            {fields.map((field) => (
              <tr key={field.name}>
                <th scope="row">
                  <label htmlFor={`call_input_${field.name}`}>
                    <code>{field.name}</code>
                  </label>
                  <span className="muted small">
                    {" "}
                    {field.type}
                    {field.required ? " · required" : ""}
                    {field.extra ? " · not in the schema" : ""}
                  </span>
                </th>
                <td>
                  <input
                    id={`call_input_${field.name}`}
                    data-call-field={field.name}
                    type="text"
                    title={field.description}
                    value={mapping[field.name] ?? ""}
                    placeholder={node.type === "for_each" ? "{{ item }}" : "{{ input.… }}"}
                    readOnly={readOnly}
                    onChange={(event) => set({ input: withMapping(params.input, field.name, event.target.value) })}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <label className="dz-setting dz-setting-wide">
          <span>Whole input (a template)</span>
          <input id="root_input" type="text" value={wholeInput} readOnly={readOnly} placeholder={node.type === "for_each" ? "{{ item }}" : "{{ input }}"} onChange={(event) => set({ input: event.target.value })} />
        </label>
      )}
      <FieldErrors messages={problems("input")} />
      {!readOnly && !chosen ? (
        <div className="dz-call-add">
          <input type="text" aria-label="New input field" placeholder="field name" value={newField} onChange={(event) => setNewField(event.target.value)} />
          <button type="button" disabled={!validFieldName(newField) || newField in mapping} onClick={() => {
            set({ input: { ...mapping, [newField]: node.type === "for_each" ? "{{ item }}" : "" } });
            setNewField("");
          }}>
            Add field
          </button>
        </div>
      ) : null}

      {node.type === "for_each" ? (
        <>
          <h3 className="dz-subhead">Running the items</h3>
          <label className="dz-setting">
            <span>At most at once</span>
            <input id="root_max_concurrency" type="number" min={1} max={500} value={typeof params.max_concurrency === "number" ? params.max_concurrency : 10} readOnly={readOnly} onChange={(event) => {
              const next = Number(event.target.value);
              if (event.target.value !== "" && Number.isInteger(next)) set({ max_concurrency: next });
            }} />
          </label>
          <FieldErrors messages={problems("max_concurrency")} />
          <label className="dz-setting">
            <span>When an item fails</span>
            <select id="root_on_item_failure" value={params.on_item_failure === "continue" ? "continue" : "stop"} disabled={readOnly} onChange={(event) => set({ on_item_failure: event.target.value })}>
              <option value="stop">Stop and fail the node</option>
              <option value="continue">Continue, collect failures</option>
            </select>
          </label>
        </>
      ) : null}

      {!readOnly ? (
        <div className="dz-call-new">
          <h3 className="dz-subhead">New sub-workflow</h3>
          <p className="muted small">Creates a workflow whose trigger takes the fields mapped above, sets this node to call it, and opens it in a new tab.</p>
          <input type="text" aria-label="Name of the new workflow" placeholder={`${node.label || node.id} sub-workflow`} value={newName} onChange={(event) => setNewName(event.target.value)} />
          <button type="button" onClick={() => void createCalled()}>
            New sub-workflow
          </button>
          {creating ? <p className="muted small" role="status">{creating}</p> : null}
        </div>
      ) : null}
    </div>
  );
}
