// An agent node's steps as a timeline: each model turn with its text, tokens, cost and latency, the
// tool calls it asked for with their arguments, approvals (linked to the inbox) and results.
// Model and tool text is rendered as text (React escapes it); never as HTML.
import { approvalText, approvalUrl, callArguments, loopsOf, traceTurns, type AgentStepView, type ToolCallView, type TurnView } from "../../lib/agentTrace";
import { formatCost, formatDuration, prettyJSON } from "../../lib/format";

function stepFacts(step: AgentStepView): string {
  const parts = [];
  if (step.tokens_in || step.tokens_out) parts.push(`${step.tokens_in} in / ${step.tokens_out} out tokens`);
  if (Number(step.cost)) parts.push(formatCost(step.cost));
  if (step.duration_ms) parts.push(formatDuration(step.duration_ms));
  return parts.join(" · ");
}

function ToolCall({ call, turn, runId, nodeId }: { call: ToolCallView; turn: TurnView; runId: number | null; nodeId: string }) {
  const status = call.step?.status ?? (call.approval ? "awaiting approval" : "running");
  return (
    <li className="rv-agent-call" data-agent-call={call.name} data-agent-status={status}>
      <p>
        <strong>Tool call</strong> <code>{call.name}</code> <span className={`rv-agent-status rv-agent-status-${status.replace(/\s+/g, "-")}`}>{status}</span>
        {call.step ? <span className="muted small"> {stepFacts(call.step)}</span> : null}
      </p>
      <details open>
        <summary className="small">Arguments</summary>
        <pre data-agent-arguments={call.name}>{prettyJSON(callArguments(call, turn))}</pre>
      </details>
      {call.approval ? (
        <p className="rv-agent-approval small" data-agent-approval={call.approval.status}>
          Approval: {approvalText(call.approval.status)}
          {runId !== null ? (
            <>
              {" · "}
              <a href={approvalUrl(runId, nodeId, call.approval)}>open in the inbox</a>
            </>
          ) : null}
        </p>
      ) : null}
      {call.step ? (
        <details open>
          <summary className="small">Result</summary>
          <pre data-agent-result={call.name}>{prettyJSON(call.step.result)}</pre>
        </details>
      ) : null}
    </li>
  );
}

function Turn({ turn, runId, nodeId }: { turn: TurnView; runId: number | null; nodeId: string }) {
  const { model } = turn;
  const final = model.tool_calls.length === 0;
  return (
    <li className="rv-agent-turn" data-agent-turn={model.turn}>
      <p>
        <strong>Turn {model.turn}</strong> <span className="muted small">{final ? "final answer" : `asks for ${model.tool_calls.length} tool call${model.tool_calls.length === 1 ? "" : "s"}`}</span>{" "}
        <span className="muted small">{stepFacts(model)}</span>
      </p>
      {model.text ? <pre className="rv-agent-text">{model.text}</pre> : null}
      {turn.calls.length ? (
        <ol className="rv-agent-calls">
          {turn.calls.map((call) => (
            <ToolCall key={call.seq} call={call} turn={turn} runId={runId} nodeId={nodeId} />
          ))}
        </ol>
      ) : null}
    </li>
  );
}

export function AgentTrace({ steps, runId, nodeId }: { steps: AgentStepView[]; runId: number | null; nodeId: string }) {
  const loops = loopsOf(steps);
  return (
    <section className="rv-agent" aria-label="Agent trace">
      <h3>Agent trace</h3>
      {steps.length === 0 ? <p className="muted small">No step recorded yet.</p> : null}
      {loops.map((loop) => {
        const turns = traceTurns(steps.filter((step) => step.loop === loop));
        return (
          <div key={loop} data-agent-loop={loop}>
            {loops.length > 1 ? <h4>Run {loop} of the node</h4> : null}
            <ol className="rv-agent-turns">
              {turns.map((turn) => (
                <Turn key={turn.seq} turn={turn} runId={runId} nodeId={nodeId} />
              ))}
            </ol>
          </div>
        );
      })}
    </section>
  );
}
