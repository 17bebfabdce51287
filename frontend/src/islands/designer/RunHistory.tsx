// The run history drawer: the workflow's recent runs (test and production); choosing one loads
// it onto the canvas (node statuses, and each node's data in the Last run tab).
import { History, X } from "lucide-react";
import { useEffect, useState } from "react";
import { formatCost, formatDateTime } from "../../lib/format";
import { messageOf } from "../run-view/controller";
import { recentRuns, type RunSummary, type TestRunApi } from "./testRuns";

export interface RunHistoryProps {
  api: TestRunApi;
  /** The run on the canvas. */
  shownId: number | null;
  /** Its status, so the list refreshes when the run on show ends. */
  shownStatus: string | null;
  onShow: (run: { id: number }) => void;
  onClose: () => void;
}

export function RunHistory({ api, shownId, shownStatus, onShow, onClose }: RunHistoryProps) {
  const [runs, setRuns] = useState<RunSummary[] | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    let live = true;
    recentRuns(api)
      .then((found) => live && setRuns(found))
      .catch((failure: unknown) => live && setError(messageOf(failure)));
    return () => {
      live = false;
    };
  }, [api, shownId, shownStatus]);
  return (
    <aside className="dz-history" aria-label="Run history" onKeyDown={(event) => event.key === "Escape" && onClose()}>
      <div className="dz-side-head">
        <h2>
          <History size={16} aria-hidden="true" /> Run history
        </h2>
        <button type="button" className="dz-icon-button" onClick={onClose} aria-label="Close the run history" title="Close the run history">
          <X size={16} aria-hidden="true" />
        </button>
      </div>
      {error ? <p className="error small">{error}</p> : null}
      {runs === null && !error ? <p className="muted small">Loading…</p> : null}
      {runs?.length === 0 ? <p className="muted small">No runs yet: use “Test run” below the canvas.</p> : null}
      <ul>
        {runs?.map((run) => (
          <li key={run.id}>
            <button type="button" className="dz-history-run" data-run={run.id} aria-current={run.id === shownId ? "true" : undefined} onClick={() => onShow(run)}>
              <span className="dz-history-line">
                <strong>Run #{run.id}</strong>
                <span className="dz-history-status" data-status={run.status}>
                  {run.status}
                </span>
              </span>
              <span className="muted small">
                {run.is_test ? "test" : run.trigger_kind} · {formatDateTime(run.created_at)}
                {formatCost(run.cost) ? ` · ${formatCost(run.cost)}` : ""}
              </span>
            </button>
          </li>
        ))}
      </ul>
    </aside>
  );
}
