// The side panel: configure the selected node in three tabs: Parameters (label, params from its
// JSON Schema, expressions from upstream outputs, connections), Settings (retry, timeout, cache, on failure)
// and Last run (its input, output, error, tokens, cost and duration in the run on the canvas).
import { PanelRightClose } from "lucide-react";
import { lazy, Suspense, useRef, useState, type ReactNode } from "react";
import { CALL_KINDS, itemExpressions, withMapping } from "../../lib/calls";
import type { GraphNodeV1, GraphV1, StickyNoteV1 } from "../../lib/graph";
import type { JsonSchema, NodeKind } from "../../lib/nodeKinds";
import { spliceText, type ProviderChoice } from "../../lib/paramsUi";
import type { RunViewState } from "../../lib/runEvents";
import { Inspector } from "../run-view/Inspector";
import { AgentTools } from "./AgentTools";
import { CallSettings } from "./CallSettings";
import { Connections, type ConnectionsProps } from "./Connections";
import { categoryOf, KindIcon } from "./look";

const ParamsForm = lazy(() => import("./ParamsForm"));

const AGENT = "agent";

/** The agent's params schema without `tools`: those have their own editor (AgentTools). */
function withoutTools(schema: JsonSchema): JsonSchema {
  const { tools: _tools, ...properties } = schema.properties ?? {};
  return { ...schema, properties, required: (schema.required ?? []).filter((name) => name !== "tools") };
}

export interface Upstream {
  id: string;
  label: string;
  fields: string[];
}

export type PanelTab = "parameters" | "settings" | "run";
const TABS: { id: PanelTab; label: string }[] = [
  { id: "parameters", label: "Parameters" },
  { id: "settings", label: "Settings" },
  { id: "run", label: "Last run" },
];

function Tabs({ tab, onTab }: { tab: PanelTab; onTab: (tab: PanelTab) => void }) {
  return (
    <div
      className="dz-tabs"
      role="tablist"
      aria-label="Node settings"
      onKeyDown={(event) => {
        if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
        const index = TABS.findIndex((t) => t.id === tab);
        const next = TABS[(index + (event.key === "ArrowRight" ? 1 : TABS.length - 1)) % TABS.length];
        onTab(next.id);
        (event.currentTarget.querySelector(`#dz-tab-${next.id}`) as HTMLElement | null)?.focus();
      }}
    >
      {TABS.map((t) => (
        <button key={t.id} type="button" role="tab" id={`dz-tab-${t.id}`} aria-selected={tab === t.id} aria-controls={`dz-tabpanel-${t.id}`} tabIndex={tab === t.id ? 0 : -1} onClick={() => onTab(t.id)}>
          {t.label}
        </button>
      ))}
    </div>
  );
}

export interface PanelProps {
  graph: GraphV1;
  kinds: Map<string, NodeKind>;
  node: GraphNodeV1 | null;
  note: StickyNoteV1 | null;
  kind: NodeKind | undefined;
  upstream: Upstream[];
  problems: string[];
  fieldProblems: Record<string, string[]> | undefined;
  providers: ProviderChoice[];
  readOnly: boolean;
  test: RunViewState | null;
  canRunFromHere: boolean;
  onChange: (patch: Partial<Omit<GraphNodeV1, "id">>) => void;
  onNoteChange: (text: string) => void;
  onRunFromHere: () => void;
  onConnect: ConnectionsProps["onConnect"];
  onRemoveEdge: (edgeId: string) => void;
  onClose: () => void;
  tab: PanelTab;
  onTab: (tab: PanelTab) => void;
  /** Which run the Last run tab shows, e.g. "Run #12 · succeeded". */
  runTitle: string;
  /** For nodes calling another workflow: this workflow, the API, and the designer page of a workflow. */
  workflowId: number;
  apiUrl: string;
  designerUrl: (id: number) => string;
}

function CloseButton({ onClose }: { onClose: () => void }) {
  return (
    <button type="button" className="dz-icon-button dz-panel-close" onClick={onClose} aria-label="Hide the settings panel" title="Hide the settings panel">
      <PanelRightClose size={18} aria-hidden="true" />
    </button>
  );
}

function NumberSetting({ label, value, min, max, step, disabled, onChange }: { label: string; value: number; min: number; max: number; step?: number; disabled: boolean; onChange: (value: number) => void }) {
  return (
    <label className="dz-setting">
      <span>{label}</span>
      <input
        type="number"
        value={value}
        min={min}
        max={max}
        step={step ?? 1}
        disabled={disabled}
        onChange={(event) => {
          const next = Number(event.target.value);
          if (event.target.value !== "" && Number.isFinite(next)) onChange(next);
        }}
      />
    </label>
  );
}

function Section({ title, children, open = true }: { title: string; children: ReactNode; open?: boolean }) {
  return (
    <details className="dz-section" open={open}>
      <summary>{title}</summary>
      {children}
    </details>
  );
}

function ExpressionPicker({ upstream, extra, onInsert }: { upstream: Upstream[]; extra: string[]; onInsert: (text: string) => void }) {
  const chip = (text: string) => (
    <button type="button" key={text} className="dz-chip" onMouseDown={(event) => event.preventDefault()} onClick={() => onInsert(text)}>
      <code>{text}</code>
    </button>
  );
  if (!upstream.length && !extra.length) return <p className="muted small">Nothing runs before this node, so there is no output to refer to.</p>;
  return (
    <ul className="dz-expressions" aria-label="Upstream outputs">
      {extra.length ? (
        <li>
          <span className="small">Each item</span>
          {extra.map(chip)}
        </li>
      ) : null}
      {upstream.map((source) => (
        <li key={source.id}>
          <span className="small">{source.label}</span>
          {(source.fields.length ? source.fields : [""]).map((field) => {
            const text = field ? `{{ nodes.${source.id}.${field} }}` : `{{ nodes.${source.id} }}`;
            return (
              <button type="button" key={field || "-"} className="dz-chip" onMouseDown={(event) => event.preventDefault()} onClick={() => onInsert(text)}>
                <code>{text}</code>
              </button>
            );
          })}
        </li>
      ))}
    </ul>
  );
}

export function Panel(props: PanelProps) {
  const { node, note, kind, upstream, problems, fieldProblems, readOnly, test, onChange } = props;
  const form = useRef<HTMLDivElement>(null);
  const [copied, setCopied] = useState("");
  if (note) {
    return (
      <aside className="dz-panel dz-side" aria-label="Sticky note">
        <div className="dz-side-head">
          <h2>Sticky note</h2>
          <CloseButton onClose={props.onClose} />
        </div>
        <label className="dz-setting dz-setting-wide">
          <span>Text</span>
          <textarea key={note.id + note.text} rows={8} defaultValue={note.text} readOnly={readOnly} onBlur={(event) => event.target.value !== note.text && props.onNoteChange(event.target.value)} />
        </label>
      </aside>
    );
  }
  if (!node) {
    return (
      <aside className="dz-panel dz-side" aria-label="Node settings">
        <p className="muted">Select a node to configure it. Drag node types from the palette, or click one to add it.</p>
      </aside>
    );
  }
  const params = node.params ?? {};
  const retry = { max_attempts: 1, initial_delay_s: 1, backoff: 2, ...(node.retry ?? {}) } as Record<string, number>;
  const cache = { enabled: false, ttl_s: 3600, ...(node.cache ?? {}) } as { enabled: boolean; ttl_s: number };

  const insert = (text: string) => {
    const active = document.activeElement as HTMLInputElement | HTMLTextAreaElement | null;
    const mapped = active && form.current?.contains(active) ? active.dataset.callField : undefined;
    if (mapped && active) {
      const value = spliceText(active.value, active.selectionStart, active.selectionEnd, text);
      onChange({ params: { ...params, input: withMapping(params.input, mapped, value) } });
      setCopied("");
      return;
    }
    const field = active && form.current?.contains(active) && active.id.startsWith("root_") ? active.id.slice("root_".length) : "";
    if (field && typeof params[field] !== "object" && (active?.tagName === "TEXTAREA" || active?.type === "text")) {
      const value = spliceText(String(params[field] ?? ""), active.selectionStart, active.selectionEnd, text);
      onChange({ params: { ...params, [field]: value } });
      setCopied("");
      return;
    }
    void navigator.clipboard?.writeText(text).catch(() => undefined);
    setCopied(`Copied ${text}: click into a field first to insert it there.`);
  };

  return (
    <aside className="dz-panel dz-side" aria-label="Node settings" data-panel-node={node.id}>
      <div className="dz-side-head">
        <h2>
          <span className="dz-palette-icon" data-category={categoryOf(node.type, kind?.category)}>
            <KindIcon kind={node.type} />
          </span>
          {node.label || node.id} <span className="muted small">{kind?.label ?? node.type}</span>
        </h2>
        <CloseButton onClose={props.onClose} />
      </div>
      <p className="muted small">
        Id <code>{node.id}</code> — refer to its output as <code>{`{{ nodes.${node.id}.… }}`}</code>
      </p>
      {problems.length ? (
        <ul className="dz-problems" role="alert" aria-label="Problems of this node">
          {problems.map((message) => (
            <li key={message}>{message}</li>
          ))}
        </ul>
      ) : null}
      <Tabs tab={props.tab} onTab={props.onTab} />
      <div className="dz-tabpanel" role="tabpanel" id={`dz-tabpanel-${props.tab}`} aria-labelledby={`dz-tab-${props.tab}`}>
        {props.tab === "parameters" ? (
          <>
            <label className="dz-setting dz-setting-wide">
              <span>Label</span>
              <input type="text" value={node.label ?? ""} readOnly={readOnly} maxLength={200} onChange={(event) => onChange({ label: event.target.value })} />
            </label>
            <div ref={form} className="dz-form">
              {kind && CALL_KINDS.has(node.type) ? (
                <CallSettings key={node.id} node={node} workflowId={props.workflowId} apiUrl={props.apiUrl} designerUrl={props.designerUrl} readOnly={readOnly} fieldProblems={fieldProblems} onChange={(next) => onChange({ params: next })} />
              ) : kind && node.type === AGENT ? (
                <>
                  <Suspense fallback={<p className="muted small">Loading the form…</p>}>
                    <ParamsForm key={node.id} schema={withoutTools(kind.params_schema)} params={params} fieldProblems={fieldProblems} providers={props.providers} readOnly={readOnly} onChange={(next) => onChange({ params: { ...next, tools: params.tools } })} />
                  </Suspense>
                  <AgentTools key={`${node.id}-tools`} params={params} apiUrl={props.apiUrl} workflowId={props.workflowId} readOnly={readOnly} fieldProblems={fieldProblems} onChange={(next) => onChange({ params: next })} />
                </>
              ) : kind ? (
                <Suspense fallback={<p className="muted small">Loading the form…</p>}>
                  <ParamsForm key={node.id} schema={kind.params_schema} params={params} fieldProblems={fieldProblems} providers={props.providers} readOnly={readOnly} onChange={(next) => onChange({ params: next })} />
                </Suspense>
              ) : (
                <p className="error">There is no node type {node.type} on this server.</p>
              )}
            </div>
            {!readOnly ? (
              <Section title="Insert an expression">
                <ExpressionPicker upstream={upstream} extra={itemExpressions(node.type)} onInsert={insert} />
                {copied ? <p className="muted small" role="status">{copied}</p> : null}
              </Section>
            ) : null}
            {!readOnly ? (
              <Section title="Connections" open={false}>
                <Connections graph={props.graph} node={node} kinds={props.kinds} onConnect={props.onConnect} onRemove={props.onRemoveEdge} />
              </Section>
            ) : null}
          </>
        ) : null}
        {props.tab === "settings" ? (
          <>
            <h3 className="dz-subhead">Retry</h3>
            <NumberSetting label="Attempts" value={retry.max_attempts} min={1} max={20} disabled={readOnly} onChange={(v) => onChange({ retry: { ...node.retry, max_attempts: v } })} />
            <NumberSetting label="First retry after (s)" value={retry.initial_delay_s} min={0} max={3600} step={0.1} disabled={readOnly} onChange={(v) => onChange({ retry: { ...node.retry, initial_delay_s: v } })} />
            <NumberSetting label="Backoff factor" value={retry.backoff} min={1} max={10} step={0.1} disabled={readOnly} onChange={(v) => onChange({ retry: { ...node.retry, backoff: v } })} />
            <h3 className="dz-subhead">Timeout</h3>
            <NumberSetting label="Timeout (s)" value={node.timeout_s ?? 300} min={1} max={3600} disabled={readOnly} onChange={(v) => onChange({ timeout_s: v })} />
            <h3 className="dz-subhead">Cache</h3>
            <label className="dz-setting">
              <span>Cache results</span>
              <input type="checkbox" checked={cache.enabled} disabled={readOnly} onChange={(event) => onChange({ cache: { ...cache, enabled: event.target.checked } })} />
            </label>
            <NumberSetting label="Cache for (s)" value={cache.ttl_s} min={1} max={30 * 86400} disabled={readOnly || !cache.enabled} onChange={(v) => onChange({ cache: { ...cache, ttl_s: v } })} />
            {props.kind?.on_failure ? (
              <>
                <h3 className="dz-subhead">On failure</h3>
                <label className="dz-setting">
                  <span>When the last attempt fails</span>
                  <select
                    value={node.on_failure ?? "fail_run"}
                    disabled={readOnly}
                    onChange={(event) => onChange({ on_failure: event.target.value === "continue" ? "continue" : "fail_run" })}
                  >
                    <option value="fail_run">Fail the run</option>
                    <option value="continue">Continue through the error output</option>
                  </select>
                </label>
                <p className="muted small">
                  {node.on_failure === "continue"
                    ? "The error ({code, message, attempt}) becomes the node's output on its error handle, and the run goes on from there."
                    : "Switching back removes the edges that leave the error handle."}
                </p>
              </>
            ) : null}
          </>
        ) : null}
        {props.tab === "run" ? (
          <>
            {!readOnly ? (
              <button type="button" disabled={!props.canRunFromHere} onClick={props.onRunFromHere} title="Runs this node and what follows it, reusing the upstream outputs of the last test run">
                Run from here
              </button>
            ) : null}
            {props.runTitle ? <p className="muted small">{props.runTitle}</p> : null}
            {test?.nodes[node.id] ? (
              <div className="dz-test-details">
                <Inspector state={test} selectedId={node.id} graphNodes={new Map([[node.id, node]])} />
              </div>
            ) : (
              <p className="muted small">{test ? "This node did not run in this run." : "No test run yet: use “Test run” below the canvas."}</p>
            )}
          </>
        ) : null}
      </div>
    </aside>
  );
}
