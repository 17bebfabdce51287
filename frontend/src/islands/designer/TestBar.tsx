// The test-run bar, floating at the bottom of the canvas: one compact row (the input in short,
// Pin, Test run, the run on show) that opens the sample input above it when used: a form from
// the trigger's input schema, or the raw JSON, or the input of a recent run.
import { useMemo, useRef, useState } from "react";
import { ChevronDown, ChevronUp } from "lucide-react";
import type { JsonSchema } from "../../lib/nodeKinds";
import { inputFields, parseSample, sampleProblems, withField, type InputField } from "../../lib/sampleForm";
import { messageOf } from "../run-view/controller";
import { recentInputs, type RecentInput, type TestRunApi } from "./testRuns";

/** Pick the sample input from one of the workflow's recent runs. */
function RecentInputs({ api, onPick }: { api: TestRunApi; onPick: (input: unknown) => void }) {
  const [choices, setChoices] = useState<RecentInput[] | null>(null);
  const [error, setError] = useState("");
  if (choices === null) {
    return (
      <button type="button" onClick={() => recentInputs(api).then(setChoices, (failure: unknown) => setError(messageOf(failure)))}>
        Recent inputs{error ? ` (${error})` : ""}
      </button>
    );
  }
  if (!choices.length) return <span className="muted small">No runs yet to pick from.</span>;
  return (
    <label>
      <span>Input of</span>
      <select defaultValue="" onChange={(event) => onPick(choices.find((c) => String(c.runId) === event.target.value)?.input)}>
        <option value="" disabled>
          a recent run…
        </option>
        {choices.map((choice) => (
          <option key={choice.runId} value={choice.runId}>
            {choice.label}
          </option>
        ))}
      </select>
    </label>
  );
}

function FieldControl({ field, value, problem, onChange }: { field: InputField; value: unknown; problem: string; onChange: (raw: string | boolean) => void }) {
  const id = `dz-in-${field.name}`;
  const described = problem ? `${id}-problem` : field.description ? `${id}-help` : undefined;
  const common = { id, "aria-invalid": problem ? true : undefined, "aria-required": field.required || undefined, "aria-describedby": described };
  let control;
  if (field.type === "boolean") {
    control = <input type="checkbox" {...common} checked={value === true} onChange={(event) => onChange(event.target.checked)} />;
  } else if (field.type === "enum") {
    control = (
      <select {...common} value={value === undefined ? "" : String(value)} onChange={(event) => onChange(event.target.value)}>
        <option value="">—</option>
        {field.choices.map((choice) => (
          <option key={String(choice)} value={String(choice)}>
            {String(choice)}
          </option>
        ))}
      </select>
    );
  } else if (field.type === "number" || field.type === "integer") {
    control = <input type="number" step={field.type === "integer" ? 1 : "any"} {...common} value={typeof value === "number" ? value : ""} onChange={(event) => onChange(event.target.value)} />;
  } else if (field.type === "json") {
    control = <textarea rows={2} spellCheck={false} {...common} value={value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value)} onChange={(event) => onChange(event.target.value)} />;
  } else {
    control = <input type="text" {...common} value={typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value)} onChange={(event) => onChange(event.target.value)} />;
  }
  return (
    <div className={`dz-field dz-field-${field.type}`} data-field={field.name}>
      <label htmlFor={id}>
        {field.title}
        {field.required ? (
          <span className="dz-required" title="required">
            {" "}*
          </span>
        ) : null}
      </label>
      {control}
      {problem ? (
        <span className="dz-field-problem" id={`${id}-problem`}>
          {problem}
        </span>
      ) : field.description ? (
        <span className="muted small" id={`${id}-help`}>
          {field.description}
        </span>
      ) : null}
    </div>
  );
}

function shortInput(sample: string): string {
  const value = parseSample(sample);
  if (!value) return "not valid JSON";
  const text = JSON.stringify(value);
  return text.length > 48 ? `${text.slice(0, 47)}…` : text;
}

export interface TestBarProps {
  api: TestRunApi;
  schema: JsonSchema;
  sample: string;
  pin: boolean;
  testing: boolean;
  runId: number | null;
  status: string | null;
  error: string;
  onSample: (text: string) => void;
  onPin: (pin: boolean) => void;
  onRun: () => void;
}

export function TestBar({ api, schema, sample, pin, testing, runId, status, error, onSample, onPin, onRun }: TestBarProps) {
  const fields = useMemo(() => inputFields(schema), [schema]);
  const [open, setOpen] = useState(false);
  const [jsonChosen, setJson] = useState(false);
  // Without declared fields there is nothing to make a form of: JSON it is.
  const json = jsonChosen || !fields.length;
  const [tried, setTried] = useState(false);
  const [touched, setTouched] = useState<ReadonlySet<string>>(new Set());
  const panel = useRef<HTMLDivElement>(null);
  const value = parseSample(sample);
  const problems = value ? sampleProblems(schema, value) : {};
  const shown = (name: string) => (tried || touched.has(name) ? problems[name] ?? "" : "");
  const setField = (field: InputField, raw: string | boolean) => {
    setTouched((old) => new Set(old).add(field.name));
    onSample(JSON.stringify(withField(value ?? {}, field, raw), null, 2));
  };
  return (
    <form
      className="dz-testbar"
      aria-label="Test run"
      data-open={open}
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
        if (value && Object.keys(problems).length) {
          setTried(true);
          setOpen(true);
          setJson(false);
          window.requestAnimationFrame(() => panel.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus());
          return;
        }
        setOpen(false);
        onRun();
      }}
    >
      {open ? (
        <div className="dz-sample" ref={panel} role="group" aria-label="Sample input">
          <div className="dz-sample-head">
            <strong>Sample input</strong>
            <span className="dz-toggle" role="group" aria-label="Edit the input as">
              <button type="button" aria-pressed={!json} disabled={!fields.length} onClick={() => setJson(false)} title={fields.length ? "A form from the trigger's input schema" : "The trigger declares no input fields"}>
                Form
              </button>
              <button type="button" aria-pressed={json} onClick={() => setJson(true)}>
                JSON
              </button>
            </span>
            <RecentInputs api={api} onPick={(input) => onSample(JSON.stringify(input ?? {}, null, 2))} />
          </div>
          {json ? (
            <label className="dz-sample-json">
              <span className="visually-hidden">Sample input (JSON)</span>
              <textarea rows={8} placeholder="{}" value={sample} onChange={(event) => onSample(event.target.value)} spellCheck={false} />
            </label>
          ) : value ? (
            <div className="dz-fields">
              {fields.map((field) => (
                <FieldControl key={field.name} field={field} value={value[field.name]} problem={shown(field.name)} onChange={(raw) => setField(field, raw)} />
              ))}
            </div>
          ) : (
            <p className="error small">The input is not a valid JSON object: fix it as JSON.</p>
          )}
          {tried && Object.keys(problems).length ? (
            <p className="error small" role="alert">
              Fix the marked field(s) to run: {Object.values(problems).join("; ")}
            </p>
          ) : null}
        </div>
      ) : null}
      <div className="dz-testbar-row">
        <button type="button" className="dz-sample-toggle" aria-expanded={open} onClick={() => setOpen(!open)} title="The input the test run starts with">
          Sample input {open ? <ChevronDown size={14} aria-hidden="true" /> : <ChevronUp size={14} aria-hidden="true" />}
        </button>
        {open ? null : <code className="dz-sample-short">{shortInput(sample)}</code>}
        <label className="dz-inline" title="Pin this input for everyone who tests this workflow">
          <input type="checkbox" checked={pin} onChange={(event) => onPin(event.target.checked)} /> Pin
        </label>
        <button type="submit" className="dz-run" disabled={testing}>
          {testing ? "Starting…" : "Test run"}
        </button>
        {runId !== null ? (
          <a href={`/runs/${runId}/`} data-test-run={runId} data-test-status={status ?? ""}>
            Run #{runId}
            {status ? ` · ${status}` : ""}
          </a>
        ) : null}
        {error ? (
          <span className="error" role="alert">
            {error}
          </span>
        ) : null}
      </div>
    </form>
  );
}
