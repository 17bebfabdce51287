import type { ReactNode } from "react";
import { formatCost, formatDateTime, formatDuration, prettyJSON, tokenSummary } from "../../lib/format";
import type { GraphNodeV1 } from "../../lib/graph";
import { callSummary, modelCalls, type ModelCall } from "../../lib/modelCalls";
import type { NodeState, RunViewState } from "../../lib/runEvents";
import { AgentTrace } from "./AgentTrace";
import { STATUS_TEXT } from "./RunNode";

/** JSON (or model text) as plain text: React sets textContent, so markup is never parsed. */
function JsonBlock({ label, value }: { label: string; value: unknown }) {
  if (value === null || value === undefined) return null;
  return (
    <section className="rv-json">
      <h3>{label}</h3>
      <pre>{prettyJSON(value)}</pre>
    </section>
  );
}

function Fact({ term, children }: { term: string; children: ReactNode }) {
  if (children === null || children === undefined || children === "") return null;
  return (
    <div>
      <dt>{term}</dt>
      <dd>{children}</dd>
    </div>
  );
}

/** Each model call: one line to scan, the prompt and the raw answer (as text) to open. */
function ModelCalls({ calls }: { calls: ModelCall[] }) {
  return (
    <section className="rv-calls" aria-label="Model calls">
      <h3>Model calls</h3>
      <ol>
        {calls.map((call) => (
          <li key={call.call} data-call={call.call}>
            <details>
              <summary>{callSummary(call)}</summary>
              <h4>Prompt</h4>
              {call.prompt.map((message, index) => (
                <div key={index} className="rv-message">
                  <span className="muted small">{message.role}</span>
                  <pre>{message.content}</pre>
                </div>
              ))}
              <h4>Response</h4>
              <pre>{call.response}</pre>
            </details>
          </li>
        ))}
      </ol>
    </section>
  );
}

function NodeDetails({ id, node, spec, runId }: { id: string; node: NodeState; spec: GraphNodeV1 | undefined; runId: number | null }) {
  const tokens = tokenSummary(node.usage);
  const calls = modelCalls(node.usage);
  return (
    <>
      <h2>
        {spec?.label || id} <span className="muted small">{spec?.type}</span>
      </h2>
      <dl className="rv-facts rv-facts-stacked">
        <Fact term="Node">
          <code>{id}</code>
        </Fact>
        <Fact term="Status">
          <span className={`status status-${node.status}`} data-inspector-status={node.status}>
            {STATUS_TEXT[node.status]}
          </span>
        </Fact>
        <Fact term="Attempt">{node.attempt ? String(node.attempt) : ""}</Fact>
        <Fact term="Duration">{formatDuration(node.durationMs)}</Fact>
        <Fact term="Next attempt">{node.retryAt ? formatDateTime(node.retryAt) : ""}</Fact>
        <Fact term="Cache hit">{node.status === "succeeded" || node.cacheHit ? (node.cacheHit ? "yes" : "no") : ""}</Fact>
        <Fact term="Branch">{node.handle}</Fact>
        <Fact term="Tokens">{tokens}</Fact>
        <Fact term="Cost">{node.cost !== null ? formatCost(node.cost) : ""}</Fact>
        <Fact term="Started">{formatDateTime(node.startedAt)}</Fact>
        <Fact term="Finished">{formatDateTime(node.finishedAt)}</Fact>
      </dl>
      {node.error ? (
        <section className="rv-node-error" role="group" aria-label="Error">
          <h3>Error</h3>
          <p>
            <code>{node.error.code}</code> {node.error.message}
          </p>
          {node.error.traceback ? (
            <details>
              <summary>Traceback</summary>
              <pre>{node.error.traceback}</pre>
            </details>
          ) : null}
        </section>
      ) : null}
      {node.draft !== null && (node.output === null || node.output === undefined) ? (
        <section className="rv-json rv-draft" aria-label="Draft">
          <h3>Draft {node.status === "running" ? <span className="muted small">(writing…)</span> : null}</h3>
          <pre data-draft={node.status}>{node.draft}</pre>
        </section>
      ) : null}
      {spec?.type === "agent" || node.agentSteps.length ? <AgentTrace steps={node.agentSteps} runId={runId} nodeId={id} /> : null}
      <JsonBlock label="Input (resolved params)" value={node.input} />
      <JsonBlock label="Output" value={node.output} />
      {calls.length ? <ModelCalls calls={calls} /> : <JsonBlock label="Usage" value={node.usage} />}
    </>
  );
}

export function Inspector({ state, selectedId, graphNodes }: { state: RunViewState; selectedId: string | null; graphNodes: Map<string, GraphNodeV1> }) {
  const node = selectedId ? state.nodes[selectedId] : undefined;
  return (
    <aside className="rv-inspector card" aria-label="Node inspector" data-selected-node={selectedId ?? ""}>
      {selectedId && node ? (
        <NodeDetails id={selectedId} node={node} spec={graphNodes.get(selectedId)} runId={state.run?.id ?? null} />
      ) : (
        <>
          <h2>Run</h2>
          <p className="muted small">Select a node on the graph to see its input, output, error and cost.</p>
          {state.run ? (
            <>
              {state.run.escalation_reason ? (
                <p className="rv-escalation">
                  <strong>Escalated:</strong> {state.run.escalation_reason}
                </p>
              ) : null}
              {state.run.error ? (
                <p className="error" role="note">
                  {state.run.error}
                </p>
              ) : null}
              <JsonBlock label="Input" value={state.run.input} />
              <JsonBlock label="Output" value={state.run.output} />
            </>
          ) : null}
        </>
      )}
    </aside>
  );
}
