// The test-run bar, floating at the bottom of the canvas: compact until used. The sample input (typed, or picked from a recent run), whether to pin it,
// the run button, and a link to the test run being shown.
import { useState } from "react";
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

export interface TestBarProps {
  api: TestRunApi;
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

export function TestBar({ api, sample, pin, testing, runId, status, error, onSample, onPin, onRun }: TestBarProps) {
  return (
    <form
      className="dz-testbar"
      aria-label="Test run"
      onSubmit={(event) => {
        event.preventDefault();
        onRun();
      }}
    >
      <label>
        <span className="visually-hidden">Sample input (JSON)</span>
        <textarea rows={1} placeholder="Sample input (JSON)" title="Sample input (JSON); grows while you edit it" value={sample} onChange={(event) => onSample(event.target.value)} spellCheck={false} />
      </label>
      <RecentInputs api={api} onPick={(input) => onSample(JSON.stringify(input ?? {}, null, 2))} />
      <label className="dz-inline" title="Pin this input for everyone who tests this workflow">
        <input type="checkbox" checked={pin} onChange={(event) => onPin(event.target.checked)} /> Pin
      </label>
      <button type="submit" className="dz-run" disabled={testing}>
        {testing ? "Starting…" : "Test run"}
      </button>
      {runId !== null ? (
        <a href={`/runs/${runId}/`} data-test-run={runId} data-test-status={status ?? ""}>
          Test run #{runId}
          {status ? ` · ${status}` : ""}
        </a>
      ) : null}
      {error ? (
        <span className="error" role="alert">
          {error}
        </span>
      ) : null}
    </form>
  );
}
