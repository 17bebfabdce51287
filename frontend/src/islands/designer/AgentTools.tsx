// The Tools editor of an agent node: add and remove tools of each kind, each with its name,
// description, arguments schema (checked as typed) and whether a reviewer approves each call.
// Knowledge tools pick a knowledge base, HTTP tools a method, URL and body template, workflow
// tools a published workflow whose trigger schema becomes the arguments schema, MCP tools a
// server of the workspace and the allowlist of its tools (listed from the server).
import { useEffect, useState } from "react";
import { defaultArguments, HTTP_METHODS, kindFields, mcpChoices, mcpProblems, nameProblem, newTool, readSchema, replacedFields, schemaText, toggledAllow, toolProblems, toolsOf, TOOL_KINDS, withoutTool, withTool, type McpListing, type McpServerName, type Tool } from "../../lib/agentTools";
import type { CallableWorkflow } from "../../lib/calls";
import type { JsonSchema } from "../../lib/nodeKinds";
import { sendJSON } from "../../lib/http";
import { readValue } from "../../lib/paramsUi";

interface KnowledgeBase {
  id: number;
  name: string;
}

/** A list from the API, or its error. */
function useList<T>(url: string): { items: T[] | null; error: string } {
  const [items, setItems] = useState<T[] | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    sendJSON<T[]>(url, "GET", undefined, "")
      .then((found) => setItems(found))
      .catch((failed: unknown) => setError(failed instanceof Error ? failed.message : String(failed)));
  }, [url]);
  return { items, error };
}

function Errors({ messages }: { messages: (string | undefined)[] | undefined }) {
  return (
    <>
      {(messages ?? []).filter(Boolean).map((message) => (
        <p className="error small" key={message}>
          {message}
        </p>
      ))}
    </>
  );
}

/** JSON typed in a textarea, kept as typed until it parses; `check` says why a parsed value is refused. */
function JsonText({ id, label, value, readOnly, hint, check, onValue }: { id: string; label: string; value: unknown; readOnly: boolean; hint: string; check: (text: string) => string; onValue: (text: string) => void }) {
  const shown = value === undefined || value === null ? "" : typeof value === "string" ? value : JSON.stringify(value, null, 2);
  const [text, setText] = useState(shown);
  const [problem, setProblem] = useState("");
  // The text stays as typed while it means the stored value (no reformatting under the cursor).
  useEffect(() => {
    setText((typed) => (JSON.stringify(readValue(typed) ?? null) === JSON.stringify(value ?? null) ? typed : shown));
  }, [shown, value]);
  return (
    <label className="dz-setting dz-setting-wide">
      <span>{label}</span>
      <span className="muted small">{hint}</span>
      <textarea
        id={id}
        rows={5}
        value={text}
        readOnly={readOnly}
        aria-invalid={problem ? true : undefined}
        onChange={(event) => {
          setText(event.target.value);
          const found = check(event.target.value);
          setProblem(found);
          if (!found) onValue(event.target.value);
        }}
      />
      {problem ? <span className="error small">{problem}</span> : null}
    </label>
  );
}

/** The server's tools, listed again when the server changes or "List again" is pressed. */
function useMcpListing(apiUrl: string, serverId: number | null): { listing: McpListing | null; error: string; loading: boolean; again: () => void } {
  const [listing, setListing] = useState<McpListing | null>(null);
  const [error, setError] = useState("");
  const [loading, setLoading] = useState(false);
  const [round, setRound] = useState(0);
  useEffect(() => {
    setListing(null);
    setError("");
    if (serverId === null) return;
    let current = true;
    setLoading(true);
    sendJSON<McpListing>(`${apiUrl}/mcp-servers/${serverId}/tools`, "GET", undefined, "")
      .then((found) => current && setListing(found))
      .catch((failed: unknown) => current && setError(failed instanceof Error ? failed.message : String(failed)))
      .finally(() => current && setLoading(false));
    return () => {
      current = false;
    };
  }, [apiUrl, serverId, round]);
  return { listing, error, loading, again: () => setRound((n) => n + 1) };
}

function McpSettings({ tool, index, readOnly, problems, servers, apiUrl, onChange }: ToolProps) {
  const id = (field: string) => `agent_tool_${index}_${field}`;
  const chosen = typeof tool.server === "string" ? tool.server : "";
  const server = (servers.items ?? []).find((each) => each.name === chosen) ?? null;
  const { listing, error, loading, again } = useMcpListing(apiUrl, server?.id ?? null);
  const own = mcpProblems(tool, servers.items, listing);
  const choices = mcpChoices(tool, listing);
  return (
    <>
      <label className="dz-setting">
        <span>MCP server</span>
        <select id={id("server")} value={chosen} disabled={readOnly} onChange={(event) => onChange({ server: event.target.value, tools: [] })}>
          <option value="">Choose an MCP server…</option>
          {chosen && !server ? <option value={chosen}>{chosen}</option> : null}
          {(servers.items ?? []).map((each) => (
            <option key={each.id} value={each.name}>
              {each.name}
            </option>
          ))}
        </select>
      </label>
      {servers.error ? <p className="error small">The MCP servers could not be listed: {servers.error}</p> : null}
      {servers.items && servers.items.length === 0 ? <p className="muted small">No MCP server yet: an owner adds one under Settings → MCP servers.</p> : null}
      <Errors messages={[...(own.server ?? []), ...(problems.server ?? [])]} />
      {server ? (
        <fieldset className="dz-mcp-allow" id={id("tools")} aria-busy={loading || undefined}>
          <legend>Tools the agent may call</legend>
          <span className="muted small">None ticked: every tool the server offers.</span>
          {loading ? <p className="muted small">Listing the server's tools…</p> : null}
          {error ? <p className="error small">The tools could not be listed: {error}</p> : null}
          {listing && !listing.ok ? <p className="error small">{listing.error}</p> : null}
          {choices.map((choice) => (
            <label className="dz-check" key={choice.name}>
              <input id={id(`allow_${choice.name}`)} type="checkbox" checked={choice.ticked} disabled={readOnly} onChange={(event) => onChange({ tools: toggledAllow(tool, choice.name, event.target.checked, listing) })} />
              <span>
                <code>{choice.name}</code> {choice.offered ? <span className="muted small">{choice.description}</span> : <span className="error small">not offered by the server</span>}
              </span>
            </label>
          ))}
          <button type="button" className="dz-link-button" onClick={again} disabled={loading}>
            List the tools again
          </button>
        </fieldset>
      ) : null}
      <Errors messages={[...(own.tools ?? []), ...(problems.tools ?? [])]} />
      <label className="dz-setting">
        <span>Time limit per call (s)</span>
        <input id={id("timeout_s")} type="number" min={1} max={300} placeholder="the server's" value={typeof tool.timeout_s === "number" ? tool.timeout_s : ""} readOnly={readOnly} onChange={(event) => onChange({ timeout_s: event.target.value === "" ? undefined : Number(event.target.value) })} />
      </label>
      <Errors messages={problems.timeout_s} />
    </>
  );
}

interface ToolProps {
  tool: Tool;
  index: number;
  tools: Tool[];
  readOnly: boolean;
  problems: Record<string, string[]>;
  bases: { items: KnowledgeBase[] | null; error: string };
  workflows: { items: CallableWorkflow[] | null; error: string };
  servers: { items: McpServerName[] | null; error: string };
  apiUrl: string;
  onChange: (patch: Record<string, unknown>) => void;
  onRemove: () => void;
}

function KindSettings(props: ToolProps) {
  const { tool, index, readOnly, problems, bases, workflows, onChange } = props;
  const id = (field: string) => `agent_tool_${index}_${field}`;
  if (tool.kind === "mcp") return <McpSettings {...props} />;
  if (tool.kind === "knowledge") {
    const chosen = tool.knowledge_base;
    const known = (bases.items ?? []).some((base) => base.id === chosen || base.name === chosen);
    return (
      <>
        <label className="dz-setting">
          <span>Knowledge base</span>
          <select id={id("knowledge_base")} value={chosen === undefined || chosen === null ? "" : String(chosen)} disabled={readOnly} onChange={(event) => onChange({ knowledge_base: event.target.value ? Number(event.target.value) || event.target.value : undefined })}>
            <option value="">Choose a knowledge base…</option>
            {chosen !== undefined && chosen !== "" && !known ? <option value={String(chosen)}>{String(chosen)}</option> : null}
            {(bases.items ?? []).map((base) => (
              <option key={base.id} value={base.name === chosen ? base.name : base.id}>
                {base.name}
              </option>
            ))}
          </select>
        </label>
        {bases.error ? <p className="error small">The knowledge bases could not be listed: {bases.error}</p> : null}
        <Errors messages={problems.knowledge_base} />
        <label className="dz-setting">
          <span>Passages (top k)</span>
          <input id={id("top_k")} type="number" min={1} max={20} value={typeof tool.top_k === "number" ? tool.top_k : 4} readOnly={readOnly} onChange={(event) => event.target.value !== "" && onChange({ top_k: Number(event.target.value) })} />
        </label>
        <Errors messages={problems.top_k} />
      </>
    );
  }
  if (tool.kind === "http") {
    return (
      <>
        <label className="dz-setting">
          <span>Method</span>
          <select id={id("method")} value={typeof tool.method === "string" ? tool.method : "GET"} disabled={readOnly} onChange={(event) => onChange({ method: event.target.value })}>
            {HTTP_METHODS.map((method) => (
              <option key={method}>{method}</option>
            ))}
          </select>
        </label>
        <label className="dz-setting dz-setting-wide">
          <span>URL template</span>
          <input id={id("url")} type="text" placeholder="https://shop.example/orders/{{ args.order_id }}" value={typeof tool.url === "string" ? tool.url : ""} readOnly={readOnly} onChange={(event) => onChange({ url: event.target.value })} />
        </label>
        <Errors messages={problems.url} />
        {tool.method && tool.method !== "GET" ? (
          <JsonText id={id("body")} label="Body template" hint="Text, or JSON whose strings are templates over {{ args }}." value={tool.body} readOnly={readOnly} check={() => ""} onValue={(text) => onChange({ body: readValue(text) })} />
        ) : null}
        <Errors messages={problems.body} />
      </>
    );
  }
  if (tool.kind === "workflow") {
    const chosenId = typeof tool.workflow_id === "number" ? tool.workflow_id : null;
    const chosen = (workflows.items ?? []).find((w) => w.id === chosenId) ?? null;
    return (
      <>
        <label className="dz-setting dz-setting-wide">
          <span>Workflow to run</span>
          <select id={id("workflow_id")} value={chosenId ?? ""} disabled={readOnly} onChange={(event) => onChange({ workflow_id: event.target.value ? Number(event.target.value) : undefined, version: undefined })}>
            <option value="">Choose a published workflow…</option>
            {chosenId !== null && !chosen ? <option value={chosenId}>Workflow {chosenId} (not published, or not found)</option> : null}
            {(workflows.items ?? []).map((w) => (
              <option key={w.id} value={w.id}>
                {w.name} (v{w.latest_version})
              </option>
            ))}
          </select>
        </label>
        {workflows.error ? <p className="error small">The workflows could not be listed: {workflows.error}</p> : null}
        <Errors messages={problems.workflow_id} />
      </>
    );
  }
  return (
    <JsonText id={id("fields")} label={`Fields of the ${tool.kind} tool`} hint="A JSON object." value={kindFields(tool)} readOnly={readOnly} check={(text) => (readValue(text) && typeof readValue(text) === "object" ? "" : "A JSON object.")} onValue={(text) => onChange(replacedFields(tool, readValue(text) as Record<string, unknown>))} />
  );
}

/** The arguments JSON Schema, checked as typed; empty shows what the model sees instead (the kind's default). */
function ArgumentsSchema({ tool, index, readOnly, problems, onChange, fallback }: ToolProps & { fallback: JsonSchema | null }) {
  return (
    <>
      <JsonText
        id={`agent_tool_${index}_parameters`}
        label="Arguments (JSON Schema)"
        hint={tool.kind === "workflow" ? "Empty: the workflow's trigger schema." : "Empty: the kind's default."}
        value={tool.parameters}
        readOnly={readOnly}
        check={(text) => readSchema(text).problem}
        onValue={(text) => onChange({ parameters: readSchema(text).schema ?? undefined })}
      />
      <Errors messages={problems.parameters} />
      {(tool.parameters === undefined || tool.parameters === null) && fallback ? (
        <details className="dz-call-schema">
          <summary className="small">Arguments the model sees</summary>
          <pre>{schemaText(fallback)}</pre>
        </details>
      ) : null}
    </>
  );
}

function ToolEditor(props: ToolProps) {
  const { tool, index, tools, readOnly, problems, workflows, onChange, onRemove } = props;
  const id = (field: string) => `agent_tool_${index}_${field}`;
  const badName = nameProblem(tool.name, index, tools);
  const workflowInput = tool.kind === "workflow" ? (workflows.items ?? []).find((w) => w.id === tool.workflow_id)?.input_schema : null;
  const fallback = defaultArguments(tool.kind, workflowInput);
  return (
    <li className="dz-agent-tool" data-tool={tool.name} data-tool-kind={tool.kind}>
      <div className="dz-agent-tool-head">
        <strong>{TOOL_KINDS.find((k) => k.kind === tool.kind)?.label ?? tool.kind}</strong>
        {!readOnly ? (
          <button type="button" className="dz-link-button" onClick={onRemove} aria-label={`Remove the tool ${tool.name}`}>
            Remove
          </button>
        ) : null}
      </div>
      <Errors messages={problems[""]} />
      <label className="dz-setting">
        <span>Name</span>
        <input id={id("name")} type="text" value={tool.name} readOnly={readOnly} aria-invalid={badName ? true : undefined} onChange={(event) => onChange({ name: event.target.value })} />
      </label>
      <Errors messages={[badName, ...(problems.name ?? [])]} />
      {tool.kind !== "mcp" ? (
        <label className="dz-setting dz-setting-wide">
          <span>Description (for the model)</span>
          <textarea id={id("description")} rows={2} value={typeof tool.description === "string" ? tool.description : ""} readOnly={readOnly} onChange={(event) => onChange({ description: event.target.value })} />
        </label>
      ) : null}
      <KindSettings {...props} />
      <Errors messages={problems.kind} />
      {tool.kind === "mcp" ? (
        <p className="muted small">The model sees each allowed tool under the server's name for it, with the server's description and arguments schema.</p>
      ) : (
        <ArgumentsSchema {...props} fallback={fallback} />
      )}
      <label className="dz-check">
        <input id={id("requires_approval")} type="checkbox" checked={Boolean(tool.requires_approval)} disabled={readOnly} onChange={(event) => onChange({ requires_approval: event.target.checked || undefined })} />
        <span>A reviewer approves each call first</span>
      </label>
    </li>
  );
}

export interface AgentToolsProps {
  params: Record<string, unknown>;
  apiUrl: string;
  workflowId: number;
  readOnly: boolean;
  fieldProblems: Record<string, string[]> | undefined;
  onChange: (params: Record<string, unknown>) => void;
}

export function AgentTools({ params, apiUrl, workflowId, readOnly, fieldProblems, onChange }: AgentToolsProps) {
  const tools = toolsOf(params);
  const bases = useList<KnowledgeBase>(`${apiUrl}/knowledge-bases`);
  const workflows = useList<CallableWorkflow>(`${apiUrl}/workflows/${workflowId}/callable`);
  const servers = useList<McpServerName>(`${apiUrl}/mcp-servers/names`);
  const [adding, setAdding] = useState(TOOL_KINDS[0].kind);
  const set = (next: Tool[]) => onChange({ ...params, tools: next });
  return (
    <section className="dz-agent-tools" aria-label="Tools">
      <h3 className="dz-subhead">Tools</h3>
      {tools.length === 0 ? <p className="muted small">No tools yet: the agent answers from its instructions alone.</p> : null}
      <ol>
        {tools.map((tool, index) => (
          <ToolEditor
            key={index}
            tool={tool}
            index={index}
            tools={tools}
            readOnly={readOnly}
            problems={toolProblems(fieldProblems, index)}
            bases={bases}
            workflows={workflows}
            servers={servers}
            apiUrl={apiUrl}
            onChange={(patch) => set(withTool(tools, index, patch))}
            onRemove={() => set(withoutTool(tools, index))}
          />
        ))}
      </ol>
      {!readOnly ? (
        <div className="dz-agent-add">
          <select aria-label="Kind of tool to add" value={adding} onChange={(event) => setAdding(event.target.value)}>
            {TOOL_KINDS.map((kind) => (
              <option key={kind.kind} value={kind.kind}>
                {kind.label}
              </option>
            ))}
          </select>
          <button type="button" onClick={() => set([...tools, newTool(adding, tools)])}>
            Add tool
          </button>
        </div>
      ) : null}
    </section>
  );
}
